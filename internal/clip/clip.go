// Package clip shortens untrusted strings (a path or version from a
// manifest, a constraint from a release, a tag name) before they go into
// an error message, so that a hostile input of a megabyte still makes a
// message of one short line.
package clip

// Max is how many bytes of the input a message keeps: the widest of the
// four copies this package replaced, so no message shows less than before.
const Max = 80

// String returns s, or its first Max bytes followed by "..." when longer.
func String(s string) string {
	if len(s) > Max {
		return s[:Max] + "..."
	}
	return s
}

// To returns s, or at most its first n bytes cut on a rune boundary and
// followed by "…" when longer, so that JSON holding it stays valid UTF-8.
func To(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
