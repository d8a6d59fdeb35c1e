package fetch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// A local repository (file:// URL or path) is read in place.

// localPath returns the directory of a file:// URL or a plain path.
func localPath(rawURL string) (string, bool) {
	if strings.HasPrefix(rawURL, "/") {
		return rawURL, true
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	return u.Path, true
}

// largeObject is the size above which an object's content is streamed from
// its file when read, rather than read whole into memory first.
const largeObject = 1 << 20

// openLocal opens the repository at dir for reading and returns where tag
// points, and how to open a reader of its objects (each checkout worker
// needs its own): the repository is found once, not once per worker.
func openLocal(dir, tagName string) (func() *filesystem.Storage, plumbing.Hash, error) {
	repo, err := git.PlainOpen(dir) // finds the repository's .git, or dir itself when bare
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("open repository: %w", err)
	}
	fsStore, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, plumbing.ZeroHash, errors.New("open repository: not on a filesystem")
	}
	fsys := fsStore.Filesystem()
	open := func() *filesystem.Storage {
		return filesystem.NewStorageWithOptions(fsys, cache.NewObjectLRUDefault(),
			filesystem.Options{LargeObjectThreshold: largeObject})
	}
	ref, err := fsStore.Reference(plumbing.NewTagReferenceName(tagName))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, plumbing.ZeroHash, ErrTagNotFound
	}
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	return open, ref.Hash(), nil
}
