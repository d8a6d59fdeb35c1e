// Package exitcode maps errors to the process exit codes of CONTRACT §1.
//
// Code paths return wrapped errors; only main turns them into a number, by
// looking for the sentinel errors below with errors.Is.
package exitcode

import "errors"

// Exit codes shared by every hoist binary.
const (
	OK       = 0
	Failure  = 1
	Usage    = 2
	Locked   = 3
	Rejected = 4
)

// Sentinel errors; wrap them with %w to select an exit code.
var (
	ErrUsage    = errors.New("usage error")
	ErrLocked   = errors.New("already in progress")
	ErrRejected = errors.New("verification failed")
)

// Code returns the exit code for err: OK for nil, Failure when no sentinel matches.
func Code(err error) int {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, ErrUsage):
		return Usage
	case errors.Is(err, ErrLocked):
		return Locked
	case errors.Is(err, ErrRejected):
		return Rejected
	default:
		return Failure
	}
}
