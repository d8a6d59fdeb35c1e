package manifest

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/hoist-dev/hoist/internal/clip"
)

// maxHops bounds how many symlinks one target may pass through, like the
// kernel's limit for path resolution.
const maxHops = 40

// errLeaves is a target that steps above the tree.
var errLeaves = errors.New("symlink target leaves the tree")

// checkLink refuses e if its target, resolved the way the kernel would
// through the other symlinks of the manifest, ever steps above the tree.
// Lexical cleaning alone is not enough: with s -> "." the target "s/.."
// would look like "." but is the tree's parent.
func (m *Manifest) checkLink(e Entry) error {
	return m.resolve(e, func(string) error { return nil })
}

// CheckLinks refuses the manifest if a symlink's target, resolved through
// the manifest's other symlinks, passes through or ends in a path for which
// forbidden is true. Every step counts, not only the end: "statuses/x/../.."
// ends at the top of the tree, but on disk the kernel would follow
// statuses/x, which whoever writes statuses/ controls.
func (m *Manifest) CheckLinks(forbidden func(p string) bool) error {
	for _, e := range m.Files {
		if !e.IsLink() {
			continue
		}
		err := m.resolve(e, func(p string) error {
			if forbidden(p) {
				return fmt.Errorf("symlink %s -> %s leads into %s", clip.String(e.Path), clip.String(e.Link), clip.String(p))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resolve walks e's target from e's directory, following the manifest's
// symlinks, and calls visit with each path it steps into (slash-separated,
// relative to the tree), stopping at the first error.
func (m *Manifest) resolve(e Entry, visit func(p string) error) error {
	hops := 0
	var walk func(dir []string, target string) ([]string, error)
	walk = func(dir []string, target string) ([]string, error) {
		cur := dir
		for _, name := range strings.Split(target, "/") {
			switch name {
			case "", ".":
				continue
			case "..":
				if len(cur) == 0 {
					return nil, errLeaves
				}
				cur = cur[:len(cur)-1]
				continue
			}
			cur = append(cur[:len(cur):len(cur)], name)
			p := strings.Join(cur, "/")
			if err := visit(p); err != nil {
				return nil, err
			}
			next, ok := m.Lookup(p)
			if !ok || !next.IsLink() {
				continue
			}
			if hops++; hops > maxHops {
				return nil, errors.New("too many levels of symlinks")
			}
			var err error
			if cur, err = walk(cur[:len(cur)-1], next.Link); err != nil {
				return nil, err
			}
		}
		return cur, nil
	}
	var dir []string
	if d := path.Dir(e.Path); d != "." {
		dir = strings.Split(d, "/")
	}
	_, err := walk(dir, e.Link)
	return err
}
