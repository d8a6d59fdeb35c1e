package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://ghp_TOKEN@github.com/o/r.git", "https://github.com/o/r.git"},
		{"https://x-access-token:ghp_TOKEN@github.com/o/r", "https://github.com/o/r"},
		{"https://host/o/r?access_token=SECRET", "https://host/o/r?access_token=REDACTED"},
		{"https://host/r?ref=v1&Private_Token=S1&X-Amz-Signature=S2&x-amz-credential=S3&sig=S4&page=2",
			"https://host/r?ref=v1&Private_Token=REDACTED&X-Amz-Signature=REDACTED&x-amz-credential=REDACTED&sig=REDACTED&page=2"},
		{"https://host/r?KEY=S&auth=S&signature=S&id_token=S&client_secret=S",
			"https://host/r?KEY=REDACTED&auth=REDACTED&signature=REDACTED&id_token=REDACTED&client_secret=REDACTED"},
		{"https://host/r?access%5Ftoken=S", "https://host/r?access%5Ftoken=REDACTED"}, // escaped name
		{"https://host/r?token", "https://host/r?token=REDACTED"},
		{"https://host/r#access_token=S", "https://host/r"},
		{"https://u:p@host:8443?token=S", "https://host:8443?token=REDACTED"},
		{"https://u:p%zz@host/%zz?token=S", "https://host/%zz?token=REDACTED"}, // url.Parse refuses it
		{"ssh://git@host:22/o/r", "ssh://host:22/o/r"},
		{"ghp_TOKEN@github.com:o/r.git", "github.com:o/r.git"},
		{"https://github.com/o/r", "https://github.com/o/r"},
		{"/srv/releases", "/srv/releases"},
		{"https://host/{ref}/info.json?token=S", "https://host/{ref}/info.json?token=REDACTED"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestString redacts URLs inside messages as go-git and net/http word them.
func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`clone v1.1.0 from https://ghp_TOKEN@host/o/r: unexpected client error: unexpected requesting "https://ghp_TOKEN@host/o/r/info/refs?service=git-upload-pack&access_token=SECRET" status code: 500`,
			`clone v1.1.0 from https://host/o/r: unexpected client error: unexpected requesting "https://host/o/r/info/refs?service=git-upload-pack&access_token=REDACTED" status code: 500`},
		{`Get "https://u:p@h/x?sig=S": dial tcp: connection refused`, `Get "https://h/x?sig=REDACTED": dial tcp: connection refused`},
		{"two: http://a@h1/ and git://b@h2/r\n", "two: http://h1/ and git://h2/r\n"},
		{"no url here: user@example.com", "no url here: user@example.com"},
	} {
		got := String(tc.in)
		if got != tc.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"TOKEN", "SECRET"} {
			if strings.Contains(got, secret) {
				t.Errorf("String(%q) leaks %s", tc.in, secret)
			}
		}
	}
}

// FuzzString embeds a URL with credentials in fuzzed text: neither the user
// info nor the token may come out, whatever surrounds them.
func FuzzString(f *testing.F) {
	f.Add("clone from", "ghp_user", "SECRET", ": refused")
	f.Add(`Get "`, "u:p", "t", `?x=1": EOF`)
	f.Fuzz(func(t *testing.T, before, user, secret, after string) {
		user, secret = alnum(user), alnum(secret)
		if len(user) < 4 || len(secret) < 4 {
			return
		}
		in := before + " https://" + user + ":" + user + "@example.org/r?token=" + secret + " " + after
		got := String(in)
		for _, s := range []string{user, secret} {
			if strings.Count(got, s) > strings.Count(before+" "+after, s) {
				t.Fatalf("String(%q) = %q shows %q", in, got, s)
			}
		}
	})
}

func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
