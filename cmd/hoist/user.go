package main

import "context"

// Filled in with the manager (issue 5).

func runStatus(ctx context.Context, s streams, args []string) error { return errNotYet }
func runCheck(ctx context.Context, s streams, args []string) error  { return errNotYet }
func runUpdate(ctx context.Context, s streams, args []string) error { return errNotYet }
