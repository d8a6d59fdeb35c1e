package main

import "context"

// Filled in with the release signing tools (issue 4).

func runRelease(ctx context.Context, s streams, args []string) error { return errNotYet }
