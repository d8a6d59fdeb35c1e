package engine

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// checkProtected rejects a release that lists a protected path: the
// release is signed, so this is a maintainer's mistake or a compromised
// key, and installing "around" it would leave a release that is not what
// was signed.
func checkProtected(m *manifest.Manifest, protect []string) error {
	for _, f := range m.Files {
		if approot.Protected(f.Path, protect) {
			return rejectf("the release lists %s, a protected path an update may not write", f.Path)
		}
	}
	return nil
}

// plan returns what the update from old (nil on a fresh root or a root
// without a manifest) to the verified release in staging changes: the
// wanted state of every path that is not already as wanted and of the
// directories above those, and the current state of the same paths (what
// the undo area must save).
//
// Wanted: every file and symlink of the new manifest, the manifest and its
// signature, the directories holding them; absent: every file of the old
// manifest the new one drops, and the directories that held only those
// (removed only if empty). Protected paths never appear.
func plan(ctx context.Context, root, staging *os.Root, old, m *manifest.Manifest, protect []string) (want, before []install.Node, err error) {
	wanted := map[string]install.Node{}
	if old != nil {
		for _, f := range old.Files {
			if _, ok := m.Lookup(f.Path); ok || approot.Protected(f.Path, protect) {
				continue
			}
			wanted[f.Path] = install.Node{Path: f.Path, Kind: install.Absent}
			for dir := range install.Ancestors(f.Path) {
				if !approot.Protected(dir, protect) {
					wanted[dir] = install.Node{Path: dir, Kind: install.Absent}
				}
			}
		}
	}
	for _, f := range m.Files {
		for dir := range install.Ancestors(f.Path) {
			wanted[dir] = install.Node{Path: dir, Kind: install.Dir, Mode: 0o755}
		}
	}
	for _, f := range m.Files {
		wanted[f.Path] = nodeOf(f)
	}
	for _, name := range []string{approot.ManifestFile, approot.SignatureFile} {
		n, err := install.Stat(staging, name)
		if err != nil {
			return nil, nil, fmt.Errorf("staging %s: %w", name, err)
		}
		if n.Kind != install.File {
			return nil, nil, fmt.Errorf("staging %s: not a regular file", name)
		}
		wanted[name] = n
	}

	want = make([]install.Node, 0, len(wanted))
	for _, n := range wanted {
		want = append(want, n)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Path < want[j].Path })
	cur, err := statAll(ctx, root, want)
	if err != nil {
		return nil, nil, err
	}
	// The directories above a changed path count as changed: saved, an
	// undo can put one back that was replaced meanwhile (by a symlink, say),
	// without which nothing below it could be restored.
	keep := map[string]bool{}
	for i, w := range want {
		if !install.Same(cur[i], w) {
			keep[w.Path] = true
			for dir := range install.Ancestors(w.Path) {
				keep[dir] = true
			}
		}
	}
	var changed []install.Node
	for i, w := range want {
		if keep[w.Path] {
			changed = append(changed, w)
			before = append(before, cur[i])
		}
	}
	return changed, before, nil
}

// nodeOf is the wanted state of a manifest entry.
func nodeOf(f manifest.Entry) install.Node {
	if f.IsLink() {
		return install.Node{Path: f.Path, Kind: install.Link, Link: f.Link}
	}
	return install.Node{Path: f.Path, Kind: install.File, SHA256: f.SHA256, Mode: f.Perm()}
}

// statAll returns the install.Stat of every node's path, hashing files on
// one worker per CPU.
func statAll(ctx context.Context, root *os.Root, nodes []install.Node) ([]install.Node, error) {
	workers := runtime.NumCPU()
	// A Tree opens each directory once; it is not safe for concurrent use,
	// so each running call takes one of its own from trees: SetLimit keeps
	// at most one call per Tree running.
	trees := make(chan *install.Tree, workers)
	for range workers {
		trees <- install.NewTree(root)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	out := make([]install.Node, len(nodes))
	for i, n := range nodes {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() (err error) {
			t := <-trees
			out[i], err = t.Stat(n.Path)
			trees <- t
			return err
		})
	}
	err := g.Wait()
	close(trees)
	for t := range trees {
		t.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("read live files: %w", err)
	}
	return out, ctx.Err()
}
