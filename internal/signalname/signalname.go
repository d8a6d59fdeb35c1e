// Package signalname decides which names in events/signals/ are signals and
// which triggers may serve a signal (CONTRACT §6).
//
// It is pure string logic, so the rules are easy to test and cannot touch the
// file system. Invariant: a name accepted by Check is a single path element of
// at most MaxLen bytes from [a-z0-9_-] that starts with a letter or digit, so
// it is safe as a file name, as a log field and as an argument that no
// program can mistake for an option.
package signalname

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest signal name, in bytes.
const MaxLen = 64

// ErrInvalid is wrapped by every error of Check.
var ErrInvalid = errors.New("invalid signal name")

// Check returns nil if name matches [a-z0-9][a-z0-9_-]{0,63}, else an error
// wrapping ErrInvalid that says why.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalid)
	case name[0] == '.':
		return fmt.Errorf("%w: dot file", ErrInvalid)
	case len(name) > MaxLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("%w: byte %q at offset %d (allowed: a-z 0-9, and - _ after the first)", ErrInvalid, name[i:i+1], i)
		}
	}
	return nil
}

// Target is a trigger that may serve a signal, with its arguments.
type Target struct {
	Trigger string   // file name in triggers/
	Args    []string // arguments after the trigger's path
}

// Targets returns the triggers that may serve the valid signal name, most
// specific first: the trigger of the same name, then, for app-REST and
// repo-REST, the generic trigger with argument REST. REST must itself be a
// valid name, so the argument never starts with '-'.
func Targets(name string) []Target {
	targets := []Target{{Trigger: name}}
	// app-REST and repo-REST: one trigger serves a whole family of signals.
	for _, g := range []string{"app", "repo"} {
		if rest, ok := strings.CutPrefix(name, g+"-"); ok && Check(rest) == nil {
			targets = append(targets, Target{Trigger: g, Args: []string{rest}})
		}
	}
	return targets
}
