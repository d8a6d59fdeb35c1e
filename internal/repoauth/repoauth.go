// Package repoauth turns the release repository's token into HTTP auth, the
// same way for hoist apply, hoist check and the manager.
//
// The token is sent as the password of HTTP basic auth, which GitHub (a
// fine-grained token with contents:read) and Gitea both accept for git over
// HTTP(S), and as a bearer token to an info.json URL template. It is never
// put into a URL, where messages and logs would show it.
package repoauth

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// User is the basic-auth user name sent with the token: GitHub documents it
// for installation tokens, and GitHub and Gitea ignore it for personal ones.
const User = "x-access-token"

// Git returns the auth of a git fetch from rawURL: basic auth with token for
// an http(s) URL, nil (anonymous, or whatever the URL says) for no token or
// another transport, where an HTTP token means nothing.
func Git(rawURL, token string) transport.AuthMethod {
	if token == "" || !isHTTP(rawURL) {
		return nil
	}
	return &githttp.BasicAuth{Username: User, Password: token}
}

// Request adds the token to req, an HTTP request to the release server.
func Request(req *http.Request, token string) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

func isHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return s == "http" || s == "https"
}
