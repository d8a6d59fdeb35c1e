package discovery

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/hoist-dev/hoist/internal/httpcache"
)

// Polite checks (issue 16 §3). A check that finds nothing new should cost
// the release repository as little as possible:
//
//   - a URL template: a conditional GET (httpcache), answered 304;
//   - git: one ref advertisement (GET info/refs). info.json is remembered by
//     the hash of the commit it was read at, so when the advertised commit
//     is one already read, nothing else is requested. A commit's info.json
//     never changes, so this cache cannot go stale; a store that forgot
//     costs one clone.
//
// A server that answers 429 or 503 with Retry-After is obeyed: the
// FetchError carries the wait (RetryAfter), and the check loop waits at
// least that long.

// infoKey is the store key of the info.json read at a commit.
func infoKey(commit plumbing.Hash) string { return "git-info:" + commit.String() }

// advertised returns the commit that ref ("" for HEAD, else a tag name)
// points to in an advertisement: a symbolic HEAD is resolved, and an
// annotated tag peeled to its commit ("^{}" entry).
func advertised(refs []*plumbing.Reference, ref string) (plumbing.Hash, bool) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	want := []plumbing.ReferenceName{plumbing.HEAD}
	if ref != "" {
		tag := plumbing.NewTagReferenceName(ref)
		want = []plumbing.ReferenceName{tag + "^{}", tag}
	}
	for _, name := range want {
		r := byName[name]
		if r != nil && r.Type() == plumbing.SymbolicReference {
			r = byName[r.Target()]
		}
		if r != nil && r.Type() == plumbing.HashReference {
			return r.Hash(), true
		}
	}
	return plumbing.ZeroHash, false
}

// RetryAfter returns the wait the release server asked for with a 429 or
// 503 answer, if it did: a static or template source's *httpcache.StatusError,
// or go-git's smart-HTTP error, which keeps the answer's headers.
func (e *FetchError) RetryAfter() (time.Duration, bool) {
	if d, ok := httpcache.ServerWait(e.Err); ok {
		return d, true
	}
	// go-git wraps its HTTP error in a plumbing.UnexpectedError, which
	// has no Unwrap.
	var ue *plumbing.UnexpectedError
	var he *githttp.Err
	if !errors.As(e.Err, &ue) || !errors.As(ue.Err, &he) || he.Response == nil {
		return 0, false
	}
	if c := he.Response.StatusCode; c != http.StatusTooManyRequests && c != http.StatusServiceUnavailable {
		return 0, false
	}
	return httpcache.RetryAfter(he.Response)
}
