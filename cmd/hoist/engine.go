package main

import (
	"context"
	"errors"
)

// Filled in by the update engine (issue 4).

func runApply(ctx context.Context, s streams, args []string) error    { return errNotYet }
func runRecover(ctx context.Context, s streams, args []string) error  { return errNotYet }
func runRollback(ctx context.Context, s streams, args []string) error { return errNotYet }
func runVerify(ctx context.Context, s streams, args []string) error   { return errNotYet }

var errNotYet = errors.New("not implemented yet")
