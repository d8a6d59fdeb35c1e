package supervisor

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWatcherSemantics checks what each way of touching the signals
// directory looks like to the supervisor: only a close after writing or a
// move-in completes a name; creating without closing, reading and listing
// do not.
func TestWatcherSemantics(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	signals, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer signals.Close()
	w, err := watchDir(dir, signals)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	hold, err := os.Create(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		want   []sighting
	}{
		{"create and keep open", ":", []sighting{{name: "held"}}},
		{"echo", "echo hi > echoed", []sighting{{name: "echoed"}, {name: "echoed", complete: true}}},
		{"touch", "touch touched", []sighting{{name: "touched"}, {name: "touched", complete: true}}},
		{"touch existing", "touch touched", []sighting{{name: "touched", complete: true}}},
		{"mv in", "echo x > " + outside + "/tmp && mv " + outside + "/tmp moved", []sighting{{name: "moved"}, {name: "moved", complete: true}}},
		{"mv within", "echo x > .tmp && mv .tmp renamed", []sighting{{name: ".tmp"}, {name: ".tmp", complete: true}, {name: "renamed"}, {name: "renamed", complete: true}}},
		{"mkfifo", "mkfifo fifo", []sighting{{name: "fifo"}}},
		{"mkdir", "mkdir sub", []sighting{{name: "sub"}}},
		{"symlink", "ln -s /etc/passwd link", []sighting{{name: "link"}}},
		{"readers", "ls -la >/dev/null && cat echoed held >/dev/null && : < touched", nil},
		{"rm", "rm echoed", nil},
		{"mv out", "mv moved " + outside + "/moved", nil},
	}
	for _, tt := range tests {
		cmd := exec.Command("sh", "-c", tt.script)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, out)
		}
		// Each step ends with a marker written in place: once both watches
		// reported it, each reported everything of the step before it.
		if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var got []sighting
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for markers := 0; markers < 2; {
			s, err := w.next(ctx)
			if err != nil {
				t.Fatalf("%s: %v (got %+v)", tt.name, err, got)
			}
			switch s.name {
			case "marker":
				markers++
			case "":
			default:
				got = append(got, s)
			}
		}
		cancel()
		// The two watches are not ordered with respect to each other.
		order := func(a, b sighting) int {
			return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(b2i(a.complete), b2i(b.complete)))
		}
		slices.SortFunc(got, order)
		slices.SortFunc(tt.want, order)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: sightings %+v, want %+v", tt.name, got, tt.want)
		}
		if err := os.Remove(filepath.Join(dir, "marker")); err != nil {
			t.Fatal(err)
		}
	}
	// The writer that held its file open completes it only now.
	hold.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s, err := w.next(ctx); err != nil || s != (sighting{name: "held", complete: true}) {
		t.Errorf("after closing held: %+v, %v", s, err)
	}
}

func TestRescanSeesEveryEntry(t *testing.T) {
	dir := t.TempDir()
	const n = 2*rescanBatch + 7
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "s"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signals, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer signals.Close()
	seen := map[string]bool{}
	if err := rescan(signals, func(name string) { seen[name] = true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("rescan saw %d names, want %d", len(seen), n)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
