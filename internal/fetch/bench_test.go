package fetch

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// bigRelease is a release of files random (incompressible) files of size
// bytes each, spread over 20 directories.
func bigRelease(files, size int) releaserepo.Release {
	rng := rand.New(rand.NewPCG(1, 2))
	rel := releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{}}
	buf := make([]byte, size)
	for i := range files {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		rel.Files[fmt.Sprintf("app/d%02d/f%04d.bin", i%20, i)] = releaserepo.File{Content: string(buf)}
	}
	return rel
}

// BenchmarkClone compares Clone of a 2,000-file / 50 MB release over smart
// HTTP with `git clone --depth 1` of the same tag, and times verifying the
// result. Run: go test -run - -bench Clone -benchtime 3x ./internal/fetch
func BenchmarkClone(b *testing.B) {
	r := releaserepo.New(b, bigRelease(2000, 25<<10))
	url := r.ServeHTTP(b)
	b.Run("go-git", func(b *testing.B) {
		for i := range b.N {
			dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
			if err := Clone(context.Background(), Options{URL: url, Tag: "v1.0.0", Dir: dir}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		for i := range b.N {
			dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
			cmd := exec.Command("git", "-c", "advice.detachedHead=false", "clone", "-q", "--depth", "1", "--branch", "v1.0.0", url, dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "app")
		if err := Clone(context.Background(), Options{URL: url, Tag: "v1.0.0", Dir: dir}); err != nil {
			b.Fatal(err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer root.Close()
		b.ResetTimer()
		for range b.N {
			if _, err := release.VerifyDir(context.Background(), root, []string{r.PubKey}, "1.0.0"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCloneLocal(b *testing.B) {
	r := releaserepo.New(b, bigRelease(2000, 25<<10))
	b.ResetTimer()
	for i := range b.N {
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		if err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.0.0", Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloneIncremental clones v1.1.0 over smart HTTP with an object
// store holding v1.0.0, against `git fetch --depth 1` + checkout of the
// same tag in a depth-1 clone of v1.0.0: with 10 files edited, all 2,000
// edited (the server sends deltas against the old files: a thin pack), and
// all 2,000 replaced by new content.
func BenchmarkCloneIncremental(b *testing.B) {
	edit := func(old string) string { return old[1:] + "changed" }
	rng := rand.New(rand.NewPCG(3, 4))
	replace := func(old string) string {
		b := make([]byte, len(old))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	for _, c := range []struct {
		name    string
		n       int
		content func(old string) string
	}{{"edited=10", 10, edit}, {"edited=2000", 2000, edit}, {"replaced=2000", 2000, replace}} {
		b.Run(c.name, func(b *testing.B) { benchIncremental(b, c.n, c.content) })
	}
}

func benchIncremental(b *testing.B, changed int, content func(old string) string) {
	v1 := bigRelease(2000, 25<<10)
	v11 := releaserepo.Release{Version: "1.1.0", Files: maps.Clone(v1.Files)}
	for i := range changed {
		p := fmt.Sprintf("app/d%02d/f%04d.bin", i%20, i)
		v11.Files[p] = releaserepo.File{Content: content(v1.Files[p].Content)}
	}
	r := releaserepo.New(b, v1, v11)
	url := r.ServeHTTP(b)
	seed := filepath.Join(b.TempDir(), "objects")
	if err := Clone(context.Background(), Options{URL: url, Tag: "v1.0.0", Dir: filepath.Join(b.TempDir(), "app"), Store: seed}); err != nil {
		b.Fatal(err)
	}
	gitSeed := filepath.Join(b.TempDir(), "git")
	git := func(dir string, args ...string) {
		runCmd(b, dir, "git", append([]string{"-c", "advice.detachedHead=false"}, args...)...)
	}
	git("", "clone", "-q", "--depth", "1", "--branch", "v1.0.0", url, gitSeed)
	b.Run("go-git", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			store := filepath.Join(b.TempDir(), "objects")
			runCmd(b, "", "cp", "-a", seed, store)
			b.StartTimer()
			dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
			if err := Clone(context.Background(), Options{URL: url, Tag: "v1.1.0", Dir: dir, Store: store}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			work := filepath.Join(b.TempDir(), "work")
			runCmd(b, "", "cp", "-a", gitSeed, work)
			b.StartTimer()
			git(work, "fetch", "-q", "--depth", "1", "origin", "tag", "v1.1.0")
			git(work, "checkout", "-q", "v1.1.0")
		}
	})
}

func runCmd(b *testing.B, dir, name string, args ...string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
}
