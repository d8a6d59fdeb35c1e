// Package e2e holds the end-to-end tests of a real deployment: the manager
// image on a real Docker engine (started by the test), the supervisor as a
// real host process applying signed releases of a sample container stack,
// `make demo`, and the systemd unit checked by systemd-analyze.
//
// The package has no code of its own beyond this comment: everything is in
// its _test.go files. Tests that need what the machine lacks (root for
// dockerd, systemd-analyze) skip with the reason.
package e2e
