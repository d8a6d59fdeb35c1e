package fdleak

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, format)
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	outside, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	held, err := os.Create(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r := &recorder{TB: t}
	check := Watch(r, dir)
	check("nothing")
	if len(r.failures) != 0 {
		t.Fatalf("a descriptor outside dir, or open before, counted: %q", r.failures)
	}
	f, err := os.Create(filepath.Join(dir, "leaked"))
	if err != nil {
		t.Fatal(err)
	}
	check("a create")
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "still open") {
		t.Errorf("leaked file: failures %q, want one", r.failures)
	}
	f.Close()
	os.Remove(f.Name())
	r.failures = nil
	check("the close")
	if len(r.failures) != 0 {
		t.Errorf("closed file counted: %q", r.failures)
	}
}
