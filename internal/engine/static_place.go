package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// kept returns whether a file of the release is in the live release m
// (nil: none) with the same content and mode: the install leaves it
// alone.
func kept(m *manifest.Manifest) func(manifest.Entry) bool {
	return func(f manifest.Entry) bool {
		if m == nil {
			return false
		}
		l, ok := m.Lookup(f.Path)
		return ok && l.SHA256 == f.SHA256 && l.Mode == f.Mode
	}
}

// readAsMetadata are the release files the engine reads through
// safefs, which refuses a file with other hard links: they are copied from
// the cache, not linked.
func readAsMetadata(p string) bool {
	return p == approot.InfoFile || p == releasepkg.KeysFile || p == releasepkg.KeysSignatureFile
}

// place creates the staging tree: files (the manifest and its signature),
// the symlinks of m, and its regular files from the cache, one CPU each;
// then flushes the tree to disk at once. The files the install leaves
// alone (keep) are linked, which costs no copy; the others are copies,
// which the install links into place. Linking those too would only move
// the copy to the install (see cache.go), which flushes each copy on its
// own.
func (s *stager) place(ctx context.Context, staging string, m *manifest.Manifest, files map[string][]byte, keep func(manifest.Entry) bool) error {
	dir, err := s.openStaging(staging)
	if err != nil {
		return err
	}
	defer dir.Close()
	for name, data := range files {
		if err := safefs.WriteFile(dir, name, data, 0o644); err != nil {
			return err
		}
	}
	parents := dirs{root: dir, open: map[string]openDir{}}
	defer parents.close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for _, f := range m.Files {
		d, err := parents.get(path.Dir(f.Path))
		if err != nil {
			return errors.Join(err, g.Wait())
		}
		name := path.Base(f.Path)
		g.Go(func() error {
			var err error
			switch {
			case f.IsLink():
				err = d.root.Symlink(f.Link, name)
			case readAsMetadata(f.Path) || !keep(f):
				err = s.cache.Place(gctx, f.SHA256, d.root, name, f.Perm())
			default:
				err = s.cache.Link(gctx, f.SHA256, d.file, name, f.Perm())
			}
			if err != nil {
				return fmt.Errorf("stage %s: %w", f.Path, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return safefs.SyncFS(dir)
}

// openStaging creates the staging tree's top directory and opens it.
func (s *stager) openStaging(staging string) (*os.Root, error) {
	if err := s.e.root.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	return s.e.root.OpenRoot(staging)
}

// openDir is a directory of the staging tree, open once for all the files
// placed in it: as a root for Place and Symlink, as a file for Link.
type openDir struct {
	root *os.Root
	file *os.File
}

// dirs creates and opens the directories of a staging tree.
type dirs struct {
	root *os.Root
	open map[string]openDir
}

func (ds dirs) get(p string) (openDir, error) {
	if d, ok := ds.open[p]; ok {
		return d, nil
	}
	if err := ds.root.MkdirAll(p, 0o755); err != nil {
		return openDir{}, err
	}
	r, err := ds.root.OpenRoot(p)
	if err != nil {
		return openDir{}, err
	}
	f, err := r.Open(".")
	if err != nil {
		r.Close()
		return openDir{}, err
	}
	ds.open[p] = openDir{root: r, file: f}
	return ds.open[p], nil
}

func (ds dirs) close() {
	for _, d := range ds.open {
		d.file.Close()
		d.root.Close()
	}
}
