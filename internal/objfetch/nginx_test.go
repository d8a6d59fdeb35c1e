package objfetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/nginx"
)

// childEnv makes the test binary a downloader: "URL SIZE SHA256 PARTIAL".
const childEnv = "OBJFETCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(child(args))
	}
	os.Exit(m.Run())
}

func child(args string) int {
	f := strings.Fields(args)
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err == nil {
		err = New(Options{}).Get(context.Background(), f[0], size, f[2], f[3])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childCmd runs Get in a new process of the test binary.
func childCmd(t testing.TB, url string, o object, partial string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s %s", childEnv, url, o.size(), o.sha, partial))
	cmd.Stderr = os.Stderr
	return cmd
}

// serveObjects starts nginx on a directory holding each object under its
// name, with serverConfig added.
func serveObjects(t testing.TB, serverConfig string, objs map[string][]byte) *nginx.Server {
	dir := t.TempDir()
	for name, data := range objs {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return nginx.Start(t, dir, serverConfig)
}

func TestNginx(t *testing.T) {
	o := newObject(t, 1<<20)
	half := len(o.data) / 2
	tampered := append([]byte(nil), o.data...)
	tampered[half] ^= 1
	s := serveObjects(t, "", map[string][]byte{
		"obj": o.data, "tampered": tampered, "longer": append(append([]byte(nil), o.data...), 0),
	})

	t.Run("resume with Range", func(t *testing.T) {
		partial := partialPath(t)
		if err := os.WriteFile(partial, o.data[:half], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := New(Options{Token: "tok"}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial); err != nil {
			t.Fatal(err)
		}
		assertFile(t, partial, o.data)
		got := s.WaitRequests(1)[0]
		want := nginx.Request{Method: "GET", URI: "/obj", Status: 206, BodyBytes: o.size() - int64(half),
			Range: fmt.Sprintf("bytes=%d-", half), Authorization: "Basic eC1hY2Nlc3MtdG9rZW46dG9r"}
		if got != want {
			t.Errorf("nginx logged %+v, want %+v", got, want)
		}
	})
	for _, name := range []string{"tampered", "longer"} {
		t.Run(name, func(t *testing.T) {
			partial := partialPath(t)
			err := New(Options{}).Get(context.Background(), s.URL+"/"+name, o.size(), o.sha, partial)
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Get: %v, want ErrMismatch", err)
			}
			assertGone(t, partial)
		})
	}
}

// TestNginxBasicAuth downloads from a location nginx protects with
// auth_basic, as a private static repository would be: the token is the
// password of user x-access-token; without it the 401 is final.
func TestNginxBasicAuth(t *testing.T) {
	o := newObject(t, 4096)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "private"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeObject := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeObject(filepath.Join(dir, "private", "obj"), o.data)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	writeObject(htpasswd, []byte("x-access-token:{PLAIN}s3cret\n"))
	s := nginx.Start(t, dir, fmt.Sprintf(`location /private/ { auth_basic "releases"; auth_basic_user_file %s; }`, htpasswd))

	partial := partialPath(t)
	if err := New(Options{Token: "s3cret"}).Get(context.Background(), s.URL+"/private/obj", o.size(), o.sha, partial); err != nil {
		t.Fatal(err)
	}
	assertFile(t, partial, o.data)
	var se *StatusError
	err := fastClient(Options{}).Get(context.Background(), s.URL+"/private/obj", o.size(), o.sha, partialPath(t))
	if !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("Get without the token: %v, want 401", err)
	}
	if n := len(s.WaitRequests(2)); n != 2 {
		t.Errorf("%d requests, want 2: a 401 is not retried", n)
	}
}

// TestKilledMidDownload kills a downloading process at half the object,
// then downloads again: the rerun resumes with a Range request, and the
// server sends the object about once in all.
func TestKilledMidDownload(t *testing.T) {
	o := newObject(t, 8<<20)
	// The first half comes at full speed, the rest crawls: the kill lands
	// in the second half even on a loaded machine; the rerun's request
	// gets its first 4 MiB, all that is left, at full speed again.
	s := serveObjects(t, "limit_rate_after 4m; limit_rate 512k;", map[string][]byte{"obj": o.data})
	partial := partialPath(t)

	cmd := childCmd(t, s.URL+"/obj", o, partial)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	daemon.Eventually(t, "half the object downloaded", func() bool {
		fi, err := os.Stat(partial)
		return err == nil && fi.Size() >= o.size()/2
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	fi, err := os.Stat(partial)
	if err != nil {
		t.Fatal(err)
	}
	killedAt := fi.Size()
	s.WaitRequests(1) // nginx notices the closed connection

	if err := New(Options{}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial); err != nil {
		t.Fatal(err)
	}
	assertFile(t, partial, o.data)
	reqs := s.WaitRequests(2)
	if reqs[1].Range != fmt.Sprintf("bytes=%d-", killedAt) || reqs[1].Status != 206 {
		t.Errorf("rerun's request %+v, want a Range request from %d", reqs[1], killedAt)
	}
	total := s.BodyBytes("/obj")
	t.Logf("killed at %d of %d bytes; nginx sent %d bytes in all (%.3f×)", killedAt, o.size(), total, float64(total)/float64(o.size()))
	if float64(total) > 1.1*float64(o.size()) {
		t.Errorf("nginx sent %d bytes for an object of %d, want ≤ 1.1×", total, o.size())
	}
}

// TestDownload50MB measures Get of a 50 MB object from nginx against
// curl -o of the same, both as processes: wall time and peak RSS. The RSS
// comes from /usr/bin/time: a child of the test process inherits its peak
// through exec, a child of time does not.
func TestDownload50MB(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	for _, tool := range []string{"curl", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	o := newObject(t, 50<<20)
	s := serveObjects(t, "", map[string][]byte{"obj": o.data})
	dir := t.TempDir()

	run := func(cmd *exec.Cmd) (time.Duration, int) {
		rss := filepath.Join(dir, "rss")
		cmd.Args = append([]string{"/usr/bin/time", "-f", "%M", "-o", rss}, cmd.Args...)
		cmd.Path = "/usr/bin/time"
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd.Args, err, out)
		}
		d := time.Since(start)
		data, err := os.ReadFile(rss)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatalf("time -f %%M wrote %q", data)
		}
		return d, kb
	}
	// curl first also warms the page cache for both.
	curlTime, curlRSS := run(exec.Command("curl", "-sSf", "-o", filepath.Join(dir, "curl"), s.URL+"/obj"))
	cmd := childCmd(t, s.URL+"/obj", o, filepath.Join(dir, "hoist"))
	cmd.Stderr = nil
	getTime, getRSS := run(cmd)
	assertFile(t, filepath.Join(dir, "hoist"), o.data)
	t.Logf("bench objfetch 50MB: objfetch %s %d KiB RSS, curl -o %s %d KiB RSS, time ratio %.2f",
		getTime.Round(time.Millisecond), getRSS, curlTime.Round(time.Millisecond), curlRSS,
		float64(getTime)/float64(curlTime))
	if getRSS > 32<<10 {
		t.Errorf("peak RSS %d KiB for a 50 MB object: the object is buffered", getRSS)
	}
}
