package install

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchTree writes the release shape of BENCHMARKS.md (20 directories of
// 100 files of 25 KiB below app/) twice, as "a" and "b" below a fresh root:
// the same content, different inodes. It returns the root and the nodes.
func benchTree(b *testing.B) (*os.Root, []Node) {
	b.Helper()
	dir := b.TempDir()
	data := make([]byte, 25<<10)
	var paths []string
	for d := range 20 {
		for f := range 100 {
			rand.Read(data)
			p := fmt.Sprintf("app/d%03d/f%05d.bin", d, d*100+f)
			for _, side := range []string{"a", "b"} {
				full := filepath.Join(dir, side, p)
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			paths = append(paths, p)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { root.Close() })
	src, err := root.OpenRoot("a")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var nodes []Node
	for _, p := range paths {
		n, err := Stat(src, p)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	return root, nodes
}

// BenchmarkApplyRestore restores the 2,000-file tree the way a rollback
// does: every live file is replaced by a hard link to its hashed source.
// Sources alternate between "a" and "b", so every iteration replaces all
// files.
func BenchmarkApplyRestore(b *testing.B) {
	root, nodes := benchTree(b)
	if err := Apply(context.Background(), root, nodes, Options{From: "a", To: "live"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		from := []string{"b", "a"}[i%2]
		if err := Apply(context.Background(), root, nodes, Options{From: from, To: "live"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStat states the 2,000 files of the tree through one Tree, as
// engine.statAll does (on one worker here) before an update.
func BenchmarkStat(b *testing.B) {
	root, nodes := benchTree(b)
	for b.Loop() {
		t := NewTree(root)
		for _, n := range nodes {
			if _, err := t.Stat("a/" + n.Path); err != nil {
				b.Fatal(err)
			}
		}
		t.Close()
	}
}
