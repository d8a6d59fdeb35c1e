package fetch

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// go-git never asks for a thin pack (it even drops thin-pack from what the
// server advertises), and without one git's upload-pack ignores the objects
// of a shallow client's "have"s (only thin packs use
// --objects-edge-aggressive): a fetch into the object store would download
// the whole release again. thinPackTransport asks for one in the requests
// whose context says so (withThinPack), which fetchRemote does only when
// the store holds earlier tags: packWriter completes a thin pack with
// their objects. Every
// git server since 2006 offers thin packs; the advertisement cannot be
// checked, go-git filters it out first.

type thinPackKey struct{}

func withThinPack(ctx context.Context) context.Context {
	return context.WithValue(ctx, thinPackKey{}, true)
}

type thinPackTransport struct{ transport.Transport }

func (t thinPackTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	s, err := t.Transport.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return thinPackSession{s}, nil
}

type thinPackSession struct{ transport.UploadPackSession }

func (s thinPackSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if want, _ := ctx.Value(thinPackKey{}).(bool); want {
		if err := req.Capabilities.Set(capability.ThinPack); err != nil {
			return nil, err
		}
	}
	return s.UploadPackSession.UploadPack(ctx, req)
}
