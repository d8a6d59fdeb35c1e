// Package redact removes credentials from URLs and from text that quotes
// URLs (go-git's errors name the remote), before the text reaches the
// status file, a log, the API or the failure report: all of those are read
// by people and processes that must not learn a token.
//
// It removes all user info (user name and password: a token is often the
// user name, as in https://ghp_TOKEN@github.com/...) and the values of query
// parameters known to carry secrets, and drops fragments.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret query value.
const Mask = "REDACTED"

// secretParams are query parameter names (lower case) whose values are
// credentials: OAuth and GitLab tokens, signed-URL signatures, API keys.
var secretParams = map[string]bool{
	"access_token": true, "token": true, "private_token": true, "auth": true,
	"key": true, "sig": true, "signature": true, "apikey": true, "api_key": true,
	"password": true, "client_secret": true,
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
	"x-goog-signature": true, "x-goog-credential": true,
}

// secretWords mark other parameter names as secret wherever they appear in
// the name (e.g. "id_token", "sas_signature").
var secretWords = []string{"token", "secret", "password", "signature", "credential"}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	if secretParams[n] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// URL returns rawURL without user info, secret query values or fragment.
// An scp-like address (user@host:path) loses its user; a plain path is
// returned as it is.
func URL(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return scpLike.ReplaceAllString(rawURL, "$1")
	}
	authority, tail, _ := cutAny(rest, "/?#")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = authority[i+1:]
	}
	tail, _, _ = strings.Cut(tail, "#")
	p, query, hasQuery := strings.Cut(tail, "?")
	if !hasQuery {
		return scheme + "://" + authority + p
	}
	return scheme + "://" + authority + p + "?" + redactQuery(query)
}

// redactQuery masks the values of secret parameters, keeping the order and
// encoding of the others. It works on the raw text, so that a query url.Parse
// would refuse is still redacted.
func redactQuery(query string) string {
	params := strings.Split(query, "&")
	for i, kv := range params {
		k, _, hasValue := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if secretParam(name) || (!hasValue && secretParam(k)) {
			params[i] = k + "=" + Mask
		}
	}
	return strings.Join(params, "&")
}

// cutAny cuts s before the first byte that is one of chars.
func cutAny(s, chars string) (before, after string, found bool) {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", false
}

var (
	// urlInText finds URLs in free text: a scheme, "://", then anything up
	// to white space or a character that ends a quoted URL.
	urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]*`)
	// scpLike matches the user of an scp-like git address at the start.
	scpLike = regexp.MustCompile(`^[^\s/@:]+@([^\s/:]+:)`)
)

// String redacts every URL in s (see URL).
func String(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, URL)
}
