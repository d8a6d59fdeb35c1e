package hugeblob

import (
	"bytes"
	"compress/zlib"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ZlibZeros is a valid zlib stream of exactly n zeros.
func TestZlibZeros(t *testing.T) {
	const n = 64 * Chunk
	var buf bytes.Buffer
	if err := ZlibZeros(&buf, n); err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || bytes.ContainsFunc(got, func(r rune) bool { return r != 0 }) {
		t.Errorf("inflated %d bytes, want %d zeros", len(got), n)
	}
}

// git itself reads the repository: fsck checks the pack, the index and
// every object's hash, and the file has its size.
func TestRepo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo.git")
	const n = 32 * Chunk
	commit, err := Repo(dir, n, "v9.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := git(dir, "fsck", "--strict"); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
	out, err := git(dir, "ls-tree", "-l", "v9.0.0")
	if err != nil || !strings.Contains(string(out), " 33554432\t"+FileName) {
		t.Errorf("git ls-tree: %v %s", err, out)
	}
	if head, _ := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output(); strings.TrimSpace(string(head)) != commit {
		t.Errorf("HEAD = %s, want %s", head, commit)
	}
}
