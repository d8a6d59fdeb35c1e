// Package treesnap records a directory tree for tests: every entry below a
// directory with its type, permission bits, owner and content hash (or
// symlink target), so that comparing two snapshots compares the trees byte
// for byte. Tests use it to check that a root is exactly one release, and
// that data an update must never touch is unchanged.
//
// A snapshot never opens anything but regular files, so fifos, sockets and
// devices in a tree are recorded, not read, and never block. Symlinks are
// recorded, never followed.
package treesnap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Bookkeeping is what an app root changes on every run without it being
// installed state: the journal, logs, the run history, the lock, the
// object store and cache (download caches), a static repository's trusted
// metadata and the manager's statuses/. Snapshots that compare installed
// states leave it out, each adding its own extras.
var Bookkeeping = []string{".hoist/journal", ".hoist/logs", ".hoist/history.jsonl", ".hoist/lock", ".hoist/objects", ".hoist/cache", ".hoist/tuf", "statuses"}

// Tree maps the slash-separated path of every entry below a directory to
// its description: "file MODE UID:GID SHA256", "link TARGET",
// "dir MODE UID:GID" or "fifo|socket|device|chardev MODE UID:GID".
type Tree map[string]string

// Take snapshots dir, leaving out entries whose relative path matches one
// of the skip patterns (path.Match syntax) and everything below them. It
// fails the test on any error.
func Take(t testing.TB, dir string, skip ...string) Tree {
	t.Helper()
	tree, err := Read(dir, skip...)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// Read is Take returning its error, for helpers that decide themselves.
func Read(dir string, skip ...string) (Tree, error) {
	tree := Tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skipped(rel, skip) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		desc, err := describe(p, d)
		tree[rel] = desc
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return tree, nil
}

func skipped(rel string, skip []string) bool {
	for _, pat := range skip {
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
	}
	return false
}

// describe returns the description of the entry p.
func describe(p string, d fs.DirEntry) (string, error) {
	fi, err := d.Info()
	if err != nil {
		return "", err
	}
	mode := fi.Mode()
	owner := "?:?"
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	perm := fmt.Sprintf("%04o %s", mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), owner)
	switch mode.Type() {
	case 0:
		sum, err := hashFile(p)
		return "file " + perm + " " + sum, err
	case fs.ModeSymlink:
		target, err := os.Readlink(p)
		return "link " + target, err
	case fs.ModeDir:
		return "dir " + perm, nil
	case fs.ModeNamedPipe:
		return "fifo " + perm, nil
	case fs.ModeSocket:
		return "socket " + perm, nil
	case fs.ModeDevice | fs.ModeCharDevice:
		return "chardev " + perm, nil
	}
	return "device " + perm, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxDiffLines caps a Diff: one broken tree can differ in thousands of paths.
const maxDiffLines = 30

// Diff describes how got differs from want, one line per path, sorted;
// "" means the trees are equal.
func Diff(got, want Tree) string {
	var lines []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			lines = append(lines, "missing "+p+": "+w)
		} else if g != w {
			lines = append(lines, "changed "+p+": "+g+", want "+w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			lines = append(lines, "extra   "+p+": "+g)
		}
	}
	slices.Sort(lines)
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("… and %d more", len(lines)-maxDiffLines))
	}
	return strings.Join(lines, "\n")
}

// Same fails the test (without stopping it) if got differs from want;
// what names the tree in the message.
func Same(t testing.TB, what string, got, want Tree) {
	t.Helper()
	if d := Diff(got, want); d != "" {
		t.Errorf("%s differs:\n%s", what, d)
	}
}
