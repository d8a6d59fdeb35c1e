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
