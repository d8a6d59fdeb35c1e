// Package tbrecord is a testing.TB that records the failures reported to it
// instead of failing the test: for the tests of test helpers, which must
// show that a helper fails when it should.
package tbrecord

import (
	"fmt"
	"testing"
)

// TB passes everything but Error and Errorf to the test it wraps.
type TB struct {
	testing.TB
	Failures []string
}

// New wraps t.
func New(t testing.TB) *TB { return &TB{TB: t} }

func (r *TB) Errorf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (r *TB) Error(args ...any) { r.Failures = append(r.Failures, fmt.Sprint(args...)) }
