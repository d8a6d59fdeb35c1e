package repoauth

import (
	"net/http"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func TestGit(t *testing.T) {
	for _, tc := range []struct {
		url, token string
		auth       bool
	}{
		{"https://github.com/o/r.git", "t", true},
		{"HTTP://127.0.0.1/r", "t", true},
		{"https://github.com/o/r.git", "", false},
		{"ssh://git@host/r", "t", false},
		{"git@github.com:o/r.git", "t", false},
		{"file:///srv/r", "t", false},
	} {
		a := Git(tc.url, tc.token)
		if !tc.auth {
			if a != nil {
				t.Errorf("Git(%q, %q) = %v, want none", tc.url, tc.token, a)
			}
			continue
		}
		if b, ok := a.(*githttp.BasicAuth); !ok || b.Username != User || b.Password != tc.token {
			t.Errorf("Git(%q, %q) = %#v", tc.url, tc.token, a)
		}
	}
}

func TestRequest(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://h/x", nil)
	Request(req, "")
	if h := req.Header.Get("Authorization"); h != "" {
		t.Errorf("no token: Authorization %q", h)
	}
	Request(req, "tok")
	if h := req.Header.Get("Authorization"); h != "Bearer tok" {
		t.Errorf("Authorization %q", h)
	}
}
