package main

import "github.com/hoist-dev/hoist/internal/gitserver"

// gitServer serves the repositories under one directory over smart HTTP on
// loopback and counts the bytes of every response body: what a client
// fetched.
type gitServer struct{ *gitserver.Server }

func serveGit(projectRoot string) (*gitServer, error) {
	s, err := gitserver.Start(projectRoot)
	if err != nil {
		return nil, err
	}
	return &gitServer{s}, nil
}

// url is the URL of repository name.
func (g *gitServer) url(name string) string { return g.URL + "/" + name }

// counted runs fn and returns the response bytes served meanwhile.
func (g *gitServer) counted(fn func() error) (int64, error) {
	before := g.BodyBytes()
	err := fn()
	return g.BodyBytes() - before, err
}
