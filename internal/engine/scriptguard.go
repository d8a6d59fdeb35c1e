package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/proc"
)

// checkLinks rejects a release with a symlink leading into a path it does
// not control (approot.LinkForbidden: statuses/ and events/ are the
// manager's, so `scripts -> statuses` would let it write what root runs),
// or whose update scripts are, or lie below, a symlink: root runs them
// only as regular files in real directories (see openScript).
func checkLinks(m *manifest.Manifest, protect []string) error {
	err := m.CheckLinks(func(p string) bool { return approot.LinkForbidden(p, protect) })
	if err != nil {
		return rejectf("%v, a path the release does not control", err)
	}
	for _, name := range proc.Names {
		if link := linkOnPath(m, path.Join(proc.Dir, name)); link != "" {
			return rejectf("update scripts must be regular files in real directories, but %s is a symlink", link)
		}
	}
	return nil
}

// linkOnPath returns the symlink m lists at p or at one of its ancestors,
// or "".
func linkOnPath(m *manifest.Manifest, p string) string {
	for ; p != "."; p = path.Dir(p) {
		if e, ok := m.Lookup(p); ok && e.IsLink() {
			return p
		}
	}
	return ""
}

// openScript opens update script name of the release tree in dir ("" for
// the root) for proc.Run, if that tree's manifest lists it as a regular
// file: it was verified when the tree was fetched or installed, and the
// tree's directories are root's, so it is the release's word. nil, nil
// means the release has no such script. proc.Open checks that the file
// on disk is still the one listed, reached through real directories only.
// listed, if set, returns that manifest already parsed.
func (e *Engine) openScript(dir, name string, listed manifestOf) (*proc.Script, error) {
	rel := path.Join(proc.Dir, name)
	if listed == nil {
		listed = func() (*manifest.Manifest, error) { return e.treeManifest(dir) }
	}
	m, err := listed()
	if err != nil {
		return nil, proc.NotRun(name, err)
	}
	if m == nil {
		m = &manifest.Manifest{} // a root installed by another tool
	}
	entry, ok := m.Lookup(rel)
	if ok && !entry.IsLink() {
		return proc.Open(e.root, path.Join(dir, rel), entry.SHA256)
	}
	if link := linkOnPath(m, rel); link != "" {
		return nil, proc.NotRun(name, fmt.Errorf("%s is a symlink in the release", link))
	}
	if _, err := e.root.Lstat(path.Join(dir, rel)); err == nil {
		e.log.Warnf("not running %s: the release's manifest does not list it", path.Join(dir, rel))
	}
	return nil, nil
}

// manifestOf returns the manifest of a release tree, nil when it has none.
type manifestOf func() (*manifest.Manifest, error)

// treeManifest reads and parses the manifest of the tree in dir.
func (e *Engine) treeManifest(dir string) (*manifest.Manifest, error) {
	data, err := readCapped(e.root, path.Join(dir, approot.ManifestFile), manifest.MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return manifest.Parse(data)
}
