package hugeblob

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// URLs returns URLs of the repository at dir, served until the test ends:
// "file" (file://), "http" (git http-backend) and "git" (git daemon).
func URLs(t testing.TB, dir string) map[string]string {
	t.Helper()
	return map[string]string{
		"file": "file://" + dir,
		"http": (&releaserepo.Repo{Dir: dir}).ServeHTTP(t),
		"git":  serveGit(t, dir),
	}
}

// Served makes a Repo of size zeros tagged tag in the test's temp dir and
// returns its URLs, as URLs does.
func Served(t testing.TB, size int64, tag string) map[string]string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hostile.git")
	if _, err := Repo(dir, size, tag); err != nil {
		t.Fatal(err)
	}
	return URLs(t, dir)
}

// serveGit runs git daemon on a free loopback port, exporting dir, until
// the test ends, and returns dir's git:// URL.
func serveGit(t testing.TB, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // git daemon takes the port next; another taker fails the dial below
	base := filepath.Dir(dir)
	cmd := exec.Command("git", "daemon", "--export-all", "--reuseaddr", "--base-path="+base,
		"--listen=127.0.0.1", "--port="+strconv.Itoa(port), base)
	cmd.Env = releaserepo.GitEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its upload-packs die with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("git daemon does not listen on %s: %v", addr, err)
		}
	}
	return fmt.Sprintf("git://%s/%s", addr, filepath.Base(dir))
}
