package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// Garbage collection of the object store (see store.go): after an update,
// PruneStore leaves in it only what the live tag needs.

// storeGarbageRatio is how much larger than the live tag's objects the store
// may grow before PruneStore rewrites it: rewriting costs about one full
// download's worth of work, so it runs at most once per that many bytes
// fetched.
const storeGarbageRatio = 2

// storeSlack keeps a small store from being rewritten for its overhead.
const storeSlack = 256 << 10

// PruneStore leaves in the object store at dir only what tag needs: the
// other tags go, and once the store holds more than storeGarbageRatio times
// the bytes of tag's objects, it is rewritten as one pack of just those
// objects and swapped in atomically. A store without tag is removed; a
// missing store is not an error.
func PruneStore(ctx context.Context, dir, tagName string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s, err := openStore(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	keep := plumbing.NewTagReferenceName(tagName)
	ref, err := s.Reference(keep)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		// The live release did not come through the store (it was wiped,
		// or the repository is local): nothing in it is worth its space.
		return errors.Join(s.Close(), os.RemoveAll(dir))
	}
	if err != nil {
		return fmt.Errorf("prune object store: tag %s: %w", tagName, err)
	}
	if err := dropOtherTags(s, keep); err != nil {
		return fmt.Errorf("prune object store: %w", err)
	}
	live, err := reachable(ctx, s, ref.Hash())
	if err != nil {
		return fmt.Errorf("prune object store: %w", err)
	}
	if err := s.SetShallow([]plumbing.Hash{live.commit}); err != nil {
		return fmt.Errorf("prune object store: %w", err)
	}
	size, err := safefs.TreeSize(dir)
	if err != nil {
		return fmt.Errorf("prune object store: %w", err)
	}
	if size <= storeGarbageRatio*live.bytes+storeSlack {
		return nil
	}
	return rewriteStore(ctx, s, dir, ref, live)
}

// dropOtherTags removes every reference but keep and its peeledRef.
func dropOtherTags(s *filesystem.Storage, keep plumbing.ReferenceName) error {
	refs, err := s.IterReferences()
	if err != nil {
		return err
	}
	var drop []plumbing.ReferenceName
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Name() != keep && r.Name() != peeledRef(keep) {
			drop = append(drop, r.Name())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range drop {
		if err := s.RemoveReference(name); err != nil {
			return err
		}
	}
	return nil
}

// objectSet is what one tag needs: its objects and the bytes they hold.
type objectSet struct {
	commit plumbing.Hash
	hashes []plumbing.Hash
	bytes  int64
}

// reachable lists the objects of the tag at h: tag objects, the commit (not
// its parents: the store is shallow), and every tree and blob of its tree.
func reachable(ctx context.Context, s *filesystem.Storage, h plumbing.Hash) (objectSet, error) {
	var set objectSet
	seen := map[plumbing.Hash]bool{}
	add := func(h plumbing.Hash) error {
		if seen[h] {
			return nil
		}
		seen[h] = true
		size, err := s.EncodedObjectSize(h)
		if err != nil {
			return fmt.Errorf("object %s: %w", h, err)
		}
		set.hashes = append(set.hashes, h)
		set.bytes += size
		return nil
	}
	tree, commit, err := peel(s, h, add)
	if err != nil {
		return set, err
	}
	set.commit = commit
	var walk func(t *object.Tree) error
	walk = func(t *object.Tree) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := add(t.Hash); err != nil {
			return err
		}
		for _, e := range t.Entries {
			if e.Mode != filemode.Dir {
				if err := add(e.Hash); err != nil {
					return err
				}
				continue
			}
			if seen[e.Hash] {
				continue // a directory met before: its whole subtree is in set
			}
			sub, err := object.GetTree(s, e.Hash)
			if err != nil {
				return fmt.Errorf("tree %s: %w", e.Hash, err)
			}
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return set, walk(tree)
}

// rewriteStore writes the objects of live into a new store beside dir and
// exchanges the two with one rename, so a crash leaves either store whole.
func rewriteStore(ctx context.Context, old *filesystem.Storage, dir string, ref *plumbing.Reference, live objectSet) error {
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	parent, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		return err
	}
	defer parent.Close()
	err = writeStore(ctx, old, tmp, ref, live)
	if err == nil {
		err = safefs.SyncFS(parent) // tmp is in parent's filesystem
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	}
	if err == nil {
		err = safefs.SyncDir(parent, ".")
	}
	// After the exchange tmp holds the old store.
	return errors.Join(err, os.RemoveAll(tmp))
}

func writeStore(ctx context.Context, old *filesystem.Storage, dir string, ref *plumbing.Reference, live objectSet) error {
	s, err := openStore(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	w, err := newPackWriter(ctx, s)
	if err != nil {
		return err
	}
	// No delta search (window 0): releases are mostly compressed assets,
	// and the rewrite must cost about one download, not more.
	if _, err := packfile.NewEncoder(w, old, false).Encode(live.hashes, 0); err != nil {
		w.Close()
		return fmt.Errorf("rewrite object store: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("rewrite object store: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.SetReference(ref); err != nil {
		return err
	}
	if err := s.SetReference(plumbing.NewHashReference(peeledRef(ref.Name()), live.commit)); err != nil {
		return err
	}
	return s.SetShallow([]plumbing.Hash{live.commit})
}
