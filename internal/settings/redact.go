package settings

import (
	"net/url"
	"slices"
)

// secret stands for the hidden parts of a notification URL.
const secret = "***"

// Redacted returns s with each notification URL reduced to its scheme and
// host, its user info, path and query shown as "***" when present: enough
// to recognise a target, never its token.
func (s Settings) Redacted() Settings {
	out := s
	out.Skip = slices.Clone(s.Skip)
	out.Notify = make([]string, len(s.Notify))
	for i, u := range s.Notify {
		out.Notify[i] = RedactURL(u)
	}
	return out
}

// RedactURL is the shown form of a notification URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return secret
	}
	out := u.Scheme + "://"
	if u.User != nil {
		out += secret + "@"
	}
	out += u.Host
	if u.Path != "" && u.Path != "/" || u.Opaque != "" {
		out += "/" + secret
	}
	if u.RawQuery != "" {
		out += "?" + secret
	}
	return out
}

// unredact replaces each entry of given that is the redacted form of a URL
// in stored by that URL, each stored URL used once, in order.
func unredact(given, stored []string) []string {
	out := slices.Clone(given)
	used := make([]bool, len(stored))
	for i, g := range out {
		for j, st := range stored {
			if !used[j] && g != st && RedactURL(st) == g {
				out[i], used[j] = st, true
				break
			}
		}
	}
	return out
}
