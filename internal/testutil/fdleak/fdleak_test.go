package fdleak

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/tbrecord"
)

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
	r := tbrecord.New(t)
	check := Watch(r, dir)
	check("nothing")
	if len(r.Failures) != 0 {
		t.Fatalf("a descriptor outside dir, or open before, counted: %q", r.Failures)
	}
	f, err := os.Create(filepath.Join(dir, "leaked"))
	if err != nil {
		t.Fatal(err)
	}
	check("a create")
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "still open") {
		t.Errorf("leaked file: failures %q, want one", r.Failures)
	}
	f.Close()
	os.Remove(f.Name())
	r.Failures = nil
	check("the close")
	if len(r.Failures) != 0 {
		t.Errorf("closed file counted: %q", r.Failures)
	}
}
