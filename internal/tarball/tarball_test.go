package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// release makes a release tree with nested directories, an executable, a
// symlink and an empty file, its manifest file and a stand-in signature
// (Extract leaves signatures to the caller's verification).
func release(t testing.TB) (string, *manifest.Manifest) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		approot.InfoFile:       `{"app":"demo","version":"1.2.3"}`,
		"compose.yaml":         "services: {}\n",
		"scripts/01-up":        "#!/bin/sh\necho up\n",
		"web/static/app.js":    strings.Repeat("console.log(1);\n", 1000),
		"web/static/empty.txt": "",
		// Longer than ustar's 100 bytes: a PAX record carries it.
		strings.Repeat("long-directory-name/", 6) + "file.txt": "deep\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "scripts/01-up"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("static/app.js", filepath.Join(dir, "web/app.js")); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, approot.ManifestFile), data)
	writeTestFile(t, filepath.Join(dir, approot.SignatureFile), []byte("untrusted comment: stand-in\n"))
	return dir, m
}

func writeTestFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func openRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func archive(t testing.TB, dir string, m *manifest.Manifest) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(context.Background(), &b, openRoot(t, dir), m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	src, m := release(t)
	tgz := archive(t, src, m)
	if again := archive(t, src, m); !bytes.Equal(tgz, again) {
		t.Error("two archives of one tree differ")
	}

	dst := t.TempDir()
	defer syscall.Umask(syscall.Umask(0o077)) // modes come from the manifest, not the umask
	if err := Extract(context.Background(), bytes.NewReader(tgz), 1<<20, openRoot(t, dst), m); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"scripts", "web", "web/static"} {
		if fi, err := os.Stat(filepath.Join(dst, dir)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("directory %s: %v, %v, want mode 0755", dir, fi.Mode(), err)
		}
	}
	if err := manifest.VerifyTree(context.Background(), openRoot(t, dst), m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{approot.ManifestFile, approot.SignatureFile} {
		assertSame(t, filepath.Join(src, name), filepath.Join(dst, name))
	}

	// GNU tar reads the archive too: a maintainer can inspect an asset.
	gnu := t.TempDir()
	archivePath := filepath.Join(t.TempDir(), "r.tar.gz")
	writeTestFile(t, archivePath, tgz)
	if out, err := exec.Command("tar", "-xzf", archivePath, "-C", gnu).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, out)
	}
	if err := manifest.VerifyTree(context.Background(), openRoot(t, gnu), m); err != nil {
		t.Fatalf("GNU tar's extraction: %v", err)
	}
}

func assertSame(t testing.TB, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Errorf("%s differs from %s", b, a)
	}
}

func TestWriteRefusesChangedTree(t *testing.T) {
	src, m := release(t)
	writeTestFile(t, filepath.Join(src, "compose.yaml"), []byte("services: {evil: {}}\n"))
	err := Write(context.Background(), io.Discard, openRoot(t, src), m)
	if err == nil || !strings.Contains(err.Error(), "compose.yaml") {
		t.Fatalf("Write of a changed tree: %v, want an error naming compose.yaml", err)
	}
}

// entry is one tar entry of a handmade archive.
type entry struct {
	hdr  tar.Header
	body []byte
}

// entries reads a tar.gz into its entries.
func entries(t testing.TB, tgz []byte) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var es []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{*hdr, body})
	}
}

// pack writes entries as a tar.gz, followed (inside the gzip stream) by
// trailer.
func pack(t testing.TB, es []entry, trailer io.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, e := range es {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if trailer != nil {
		if _, err := io.Copy(zw, trailer); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// find returns the index of the entry named name.
func find(t testing.TB, es []entry, name string) int {
	for i, e := range es {
		if e.hdr.Name == name {
			return i
		}
	}
	t.Fatalf("no entry %s", name)
	return -1
}

// TestExtractRefuses runs Extract on archives that differ from the signed
// manifest in one way each: every one is refused and leaves dst empty.
func TestExtractRefuses(t *testing.T) {
	src, m := release(t)
	good := entries(t, archive(t, src, m))
	change := func(f func(es []entry) []entry) []byte {
		es := append([]entry(nil), good...)
		return pack(t, f(es), nil)
	}
	add := func(e entry) []byte { return change(func(es []entry) []entry { return append(es, e) }) }
	edit := func(name string, f func(e *entry)) []byte {
		return change(func(es []entry) []entry {
			f(&es[find(t, es, name)])
			return es
		})
	}
	reg := func(name, body string) entry {
		return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, []byte(body)}
	}

	tests := []struct {
		name    string
		tgz     []byte
		max     int64
		wantErr error
	}{
		{"unlisted file", add(reg("extra.txt", "x")), 0, ErrInvalid},
		{"path out of the tree", add(reg("../escape", "x")), 0, ErrInvalid},
		{"absolute path", add(reg("/etc/cron.d/x", "x")), 0, ErrInvalid},
		{"dot path", add(reg("./compose.yaml", "x")), 0, ErrInvalid},
		{"tampered content", edit("compose.yaml", func(e *entry) { e.body = []byte("services: {evil}\n") }), 0, ErrInvalid},
		{"same size, other bytes", edit("compose.yaml", func(e *entry) { e.body = []byte("services: {}\t") }), 0, ErrInvalid},
		{"lost executable bit", edit("scripts/01-up", func(e *entry) { e.hdr.Mode = 0o644 }), 0, ErrInvalid},
		{"setuid", edit("scripts/01-up", func(e *entry) { e.hdr.Mode = 0o4755 }), 0, ErrInvalid},
		{"symlink retargeted", edit("web/app.js", func(e *entry) { e.hdr.Linkname = "../../../etc/passwd" }), 0, ErrInvalid},
		{"file where a symlink is listed", edit("web/app.js", func(e *entry) {
			*e = reg("web/app.js", "x")
		}), 0, ErrInvalid},
		{"hard link", edit("compose.yaml", func(e *entry) {
			e.hdr = tar.Header{Typeflag: tar.TypeLink, Name: "compose.yaml", Linkname: approot.InfoFile}
			e.body = nil
		}), 0, ErrInvalid},
		{"device", edit("compose.yaml", func(e *entry) {
			e.hdr = tar.Header{Typeflag: tar.TypeChar, Name: "compose.yaml", Devmajor: 1, Devminor: 3, Mode: 0o644}
			e.body = nil
		}), 0, ErrInvalid},
		{"fifo", edit("compose.yaml", func(e *entry) {
			e.hdr = tar.Header{Typeflag: tar.TypeFifo, Name: "compose.yaml", Mode: 0o644}
			e.body = nil
		}), 0, ErrInvalid},
		{"duplicate entry", add(good[find(t, good, "compose.yaml")]), 0, ErrInvalid},
		{"directory the manifest does not imply", add(entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "statuses/", Mode: 0o755}}), 0, ErrInvalid},
		{"missing entry", change(func(es []entry) []entry {
			i := find(t, es, "compose.yaml")
			return append(es[:i], es[i+1:]...)
		}), 0, ErrInvalid},
		{"missing signature", change(func(es []entry) []entry { return es[:1] }), 0, ErrInvalid},
		{"other manifest", edit(approot.ManifestFile, func(e *entry) { e.body = bytes.Replace(e.body, []byte("1.2.3"), []byte("1.2.4"), 1) }), 0, ErrInvalid},
		{"huge signature", edit(approot.SignatureFile, func(e *entry) { e.body = make([]byte, maxSignature+1) }), 0, ErrInvalid},
		{"file over the cap", nil, 1000, ErrTooLarge},
		{"gzip bomb after the tar", pack(t, good, io.LimitReader(zeros{}, 64<<20)), 0, ErrTooLarge},
		{"truncated archive", archive(t, src, m)[:600], 0, ErrInvalid},
		{"not gzip", []byte("<html>404</html>"), 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tgz == nil {
				tt.tgz = archive(t, src, m)
			}
			if tt.max == 0 {
				tt.max = 1 << 20
			}
			dst := t.TempDir()
			err := Extract(context.Background(), bytes.NewReader(tt.tgz), tt.max, openRoot(t, dst), m)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Extract: %v, want %v", err, tt.wantErr)
			}
			left, rerr := os.ReadDir(dst)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if len(left) != 0 {
				t.Errorf("Extract left %v in dst after: %v", left, err)
			}
		})
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestExtractCancelled cancels an extraction halfway: it stops with the
// context's error and leaves nothing behind.
func TestExtractCancelled(t *testing.T) {
	src, m := release(t)
	tgz := archive(t, src, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(tgz), n: len(tgz) / 2, cancel: cancel}
	dst := t.TempDir()
	if err := Extract(ctx, r, 1<<20, openRoot(t, dst), m); !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract: %v, want context.Canceled", err)
	}
	if left, err := os.ReadDir(dst); err != nil || len(left) != 0 {
		t.Errorf("Extract left %v (%v)", left, err)
	}
}

// cancelAfter calls cancel once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 512)])
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}
