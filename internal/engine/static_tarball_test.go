package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// tarballPath is where a site serves the default releases' tarball of tg.
func tarballPath(tg string) string { return "/targets/" + tg + "/demo.tar.gz" }

// tarballServer serves a static site with a Go file server, for what
// nginx will not do to a tarball: answer, if not nil, gets the n-th
// request (from 0) for a tarball with the tarball's bytes, and returns
// false to leave the request to the file server.
type tarballServer struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string // the Range header of each tarball request
	other  []string // the paths of the other requests
}

type tarballAnswer func(w http.ResponseWriter, r *http.Request, n int, data []byte) bool

// newTarballServer serves site's files in place of its nginx, whose URL
// initStatic then gives the root.
func newTarballServer(t *testing.T, site *staticSite, answer tarballAnswer) *tarballServer {
	dir := site.dir
	s := &tarballServer{}
	files := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if !strings.HasSuffix(r.URL.Path, ".tar.gz") {
			s.other = append(s.other, r.URL.Path)
			s.mu.Unlock()
			files.ServeHTTP(w, r)
			return
		}
		n := len(s.ranges)
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if answer == nil || !answer(w, r, n, data) {
			files.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	site.srv.URL = s.URL
	return s
}

func (s *tarballServer) log() (ranges, other []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ranges), slices.Clone(s.other)
}

// send answers 200 with body, announcing its length unless chunked.
func send(w http.ResponseWriter, body []byte, chunked bool) {
	if !chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	w.(http.Flusher).Flush()
}

// cutFirst sends the first request half the tarball, announcing all of
// it, and cuts the connection; the others are left to the file server.
func cutFirst(w http.ResponseWriter, _ *http.Request, n int, data []byte) bool {
	if n > 0 {
		return false
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data[:len(data)/2])
	w.(http.Flusher).Flush()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
	return true
}

// withEntry returns the tarball data with one more file, extra.txt,
// after the manifest and its signature.
func withEntry(t *testing.T, data []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	extra := []byte("not in the manifest\n")
	for i := 0; ; i++ {
		if i == 2 {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "extra.txt", Mode: 0o644, Size: int64(len(extra))}); err != nil {
				t.Fatal(err)
			}
			tw.Write(extra)
			// A deflate block hands out nothing before its end or 32 KiB;
			// a sync flush ends one here, so that the entry can be read
			// before the rest of the archive arrives.
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := zw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestStaticTarball: a fresh install from a repository published with
// --tarball downloads the tarball alone, extracting it as it arrives,
// resumes it with Range after a cut connection, and fills the object
// cache after success. A tarball that is not the signed one is refused
// and leaves nothing behind: one whose bytes are tampered with, one longer
// than its TUF length, one whose content is the release's but whose
// sha256 is not (caught only after the whole tree was extracted), one
// with an entry the manifest does not list.
func TestStaticTarball(t *testing.T) {
	tests := []struct {
		name   string
		answer tarballAnswer
		want   string // in the error; "" for success
		// wantRanges are the Range headers of the tarball requests if
		// success, "H" standing for the half cutFirst sends.
		wantRanges []string
	}{
		{"one request", nil, "", []string{""}},
		{"connection cut halfway, resumed with Range", cutFirst, "", []string{"", "H"}},
		{"connection cut halfway, then Range ignored: downloaded again, then extracted", func(w http.ResponseWriter, r *http.Request, n int, data []byte) bool {
			if n == 0 {
				return cutFirst(w, r, n, data)
			}
			send(w, data, false)
			return true
		}, "", []string{"", "H", "H"}},
		{"tampered", func(w http.ResponseWriter, _ *http.Request, _ int, data []byte) bool {
			data[len(data)/2] ^= 1
			send(w, data, false)
			return true
		}, "does not match", nil},
		{"longer than its TUF length", func(w http.ResponseWriter, _ *http.Request, _ int, data []byte) bool {
			send(w, append(data, make([]byte, 64<<10)...), true)
			return true
		}, "does not match its signed length and sha256", nil},
		{"the release's content, not the signed sha256", func(w http.ResponseWriter, _ *http.Request, _ int, data []byte) bool {
			data[4] ^= 1 // gzip's MTIME: the same tree, other bytes
			send(w, data, false)
			return true
		}, "does not match its signed length and sha256", nil},
		{"an entry the manifest does not list", func(w http.ResponseWriter, r *http.Request, _ int, data []byte) bool {
			// Less than the signed length, then nothing: only the
			// extraction can end the download.
			send(w, withEntry(t, data)[:len(data)-1], true)
			<-r.Context().Done()
			return true
		}, "extra.txt: not listed in the manifest", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := newStaticSite(t, []string{"--tarball"}, releaserepo.DefaultReleases()[:1]...)
			srv := newTarballServer(t, site, tt.answer)
			f := initStatic(t, site)
			before := f.snap(".hoist/cache", ".hoist/tuf")
			r := f.hoist("apply", "--to", "v1.0.0")
			ranges, other := srv.log()
			if tt.want != "" {
				if r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, tt.want) {
					t.Fatalf("apply: exit %d, want %d with %q: %s", r.Code, exitcode.Rejected, tt.want, r.Stderr)
				}
				treesnap.Same(t, "the root", f.snap(".hoist/cache", ".hoist/tuf"), before)
				if left, _ := os.ReadDir(f.path(".hoist/cache/partial")); len(left) > 0 {
					t.Errorf("the refused tarball's download was kept: %v", left)
				}
				return
			}
			if r.Code != 0 {
				t.Fatalf("apply: %s", r)
			}
			if got := f.read("app/config.yml"); got != "version: 1.0.0\n" {
				t.Errorf("app/config.yml %q", got)
			}
			half := "bytes=" + strconv.Itoa(fileSize(t, filepath.Join(site.dir, tarballPath("v1.0.0")))/2) + "-"
			want := slices.Clone(tt.wantRanges)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "H", half)
			}
			if !slices.Equal(ranges, want) {
				t.Errorf("tarball requests with Range %q, want %q", ranges, want)
			}
			if i := slices.IndexFunc(other, func(p string) bool { return strings.HasPrefix(p, "/objects/") }); i >= 0 {
				t.Errorf("objects requested besides the tarball: %s", other[i])
			}
			for _, sum := range sums(t, filepath.Join(site.dir, "targets/v1.0.0/hoist-release.json")) {
				if _, err := os.Stat(f.path(".hoist/cache/" + sum)); err != nil {
					t.Errorf("the object cache lacks a file of the installed release: %v", err)
				}
			}
		})
	}
}

// TestStaticTarballResumesNextRun: a tarball download cut for good keeps
// its partial file, and the next apply resumes it with Range, extracting
// the bytes of the first run before those of the second.
func TestStaticTarballResumesNextRun(t *testing.T) {
	site := newStaticSite(t, []string{"--tarball"}, releaserepo.DefaultReleases()[:1]...)
	srv := newTarballServer(t, site, cutFirst)
	f := initStatic(t, site)
	f.editConfig(func(c *config.Config) {
		zero := 0
		c.DownloadRetries = &zero
	})
	before := f.snap(".hoist/cache", ".hoist/tuf")
	if r := f.hoist("apply", "--to", "v1.0.0"); r.Code == 0 {
		t.Fatalf("apply with the tarball cut: %s", r)
	}
	treesnap.Same(t, "the root", f.snap(".hoist/cache", ".hoist/tuf"), before)
	f.must("apply", "--to", "v1.0.0")
	if got := f.read("app/config.yml"); got != "version: 1.0.0\n" {
		t.Errorf("app/config.yml %q", got)
	}
	half := "bytes=" + strconv.Itoa(fileSize(t, filepath.Join(site.dir, tarballPath("v1.0.0")))/2) + "-"
	if ranges, _ := srv.log(); !slices.Equal(ranges, []string{"", half}) {
		t.Errorf("tarball requests with Range %q, want %q", ranges, []string{"", half})
	}
}

// TestStaticTarballOnlyWhenMostIsMissing: an update whose new files are a
// small part of the release downloads them as objects, not the tarball;
// from a repository that serves no objects, it extracts the tarball.
func TestStaticTarballOnlyWhenMostIsMissing(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	for _, rel := range rels {
		rel.Files["app/same.bin"] = releaserepo.File{Content: strings.Repeat("in both releases\n", 4096)}
	}
	for _, withObjects := range []bool{true, false} {
		site := newStaticSite(t, []string{"--tarball"}, rels...)
		srv := newTarballServer(t, site, nil)
		f := initStatic(t, site)
		f.must("apply", "--to", "v1.0.0")
		if !withObjects {
			if err := os.RemoveAll(filepath.Join(site.dir, "objects")); err != nil {
				t.Fatal(err)
			}
		}
		f.must("apply", "--to", "v1.1.0")
		if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
			t.Errorf("app/config.yml %q", got)
		}
		ranges, other := srv.log()
		objects := slices.ContainsFunc(other, func(p string) bool { return strings.HasPrefix(p, "/objects/") })
		if withObjects && (len(ranges) != 1 || !objects) {
			t.Errorf("update with objects: %d tarball requests (want the fresh install's alone), objects requested %v", len(ranges), objects)
		}
		if !withObjects && len(ranges) != 2 {
			t.Errorf("update without objects: %d tarball requests, want 2 (one per release)", len(ranges))
		}
	}
}

func fileSize(t *testing.T, name string) int {
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}
