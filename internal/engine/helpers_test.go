package engine_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// fixture is an app root made by the real `hoist init`, releasing from a
// real git repository.
type fixture struct {
	t    *testing.T
	repo *releaserepo.Repo
	root string
}

func newFixture(t *testing.T, rels ...releaserepo.Release) *fixture {
	t.Helper()
	return newFixtureAt(t, filepath.Join(t.TempDir(), "app"), releaserepo.New(t, rels...))
}

func newFixtureAt(t *testing.T, root string, repo *releaserepo.Repo) *fixture {
	t.Helper()
	f := &fixture{t: t, repo: repo, root: root}
	if r := f.exec(nil, "init", root, "--repo", repo.FileURL(), "--pub", repo.PubFile); r.code != 0 {
		t.Fatalf("hoist init: %d %s", r.code, r.stderr)
	}
	return f
}

// result is how a hoist process ended. code is -1 when it was killed.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// exec runs the real hoist binary with env added to the environment.
func (f *fixture) exec(env []string, args ...string) result {
	f.t.Helper()
	cmd := exec.Command(testbin.Path(f.t, "hoist"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		f.t.Fatalf("hoist %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}

// hoist runs hoist COMMAND ARGS --root ROOT.
func (f *fixture) hoist(args ...string) result {
	f.t.Helper()
	return f.exec(nil, append(args, "--root", f.root)...)
}

// must runs hoist and fails the test unless it exits 0.
func (f *fixture) must(args ...string) result {
	f.t.Helper()
	r := f.hoist(args...)
	if r.code != 0 {
		f.t.Fatalf("hoist %v: %s", args, r)
	}
	return r
}

func (f *fixture) path(rel string) string { return filepath.Join(f.root, filepath.FromSlash(rel)) }

func (f *fixture) status() statusfile.Status {
	f.t.Helper()
	data, err := os.ReadFile(f.path("statuses/" + statusfile.Name))
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := statusfile.Parse(data)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// request queues an update the way the manager does.
func (f *fixture) request(updateTo string) {
	f.t.Helper()
	st := statusfile.Status{State: statusfile.Installing, Description: "Queued", UpdateTo: updateTo}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(f.path("statuses/"+statusfile.Name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// editConfig changes .hoist/config.json.
func (f *fixture) editConfig(edit func(*config.Config)) {
	f.t.Helper()
	data, err := os.ReadFile(f.path(".hoist/config.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	var c config.Config
	if err := json.Unmarshal(data, &c); err != nil {
		f.t.Fatal(err)
	}
	edit(&c)
	data, _ = json.Marshal(c)
	if err := os.WriteFile(f.path(".hoist/config.json"), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(rel string) string {
	f.t.Helper()
	data, err := os.ReadFile(f.path(rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

// liveSkip leaves out of root snapshots what changes with every run
// without being part of the installed state: the journal, logs, the lock,
// the status files and the scripts' run log (checked on its own).
var liveSkip = []string{".hoist/journal", ".hoist/logs", ".hoist/lock", "statuses", releaserepo.ScriptLog}

// snap is the snapshot of the live root, without liveSkip and extra.
func (f *fixture) snap(extra ...string) map[string]string {
	f.t.Helper()
	return snapshot(f.t, f.root, append(extra, liveSkip...)...)
}

// snapshot maps every path below dir to "file MODE SHA256", "link TARGET"
// or "dir MODE", leaving out paths matching a skip pattern (path.Match
// syntax) and everything below them. Comparing two snapshots compares the
// trees byte for byte, modes and symlinks included.
func snapshot(t testing.TB, dir string, skip ...string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		for _, pat := range skip {
			if ok, _ := path.Match(pat, rel); ok {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			snap[rel] = fmt.Sprintf("dir %04o", fi.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			snap[rel] = "link " + target
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			snap[rel] = fmt.Sprintf("file %04o %s", fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// diff describes how snapshot got differs from want ("" if equal).
func diff(got, want map[string]string) string {
	var lines []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			lines = append(lines, "missing "+p+": "+w)
		} else if g != w {
			lines = append(lines, "changed "+p+": "+g+", want "+w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			lines = append(lines, "extra   "+p+": "+g)
		}
	}
	sort.Strings(lines)
	if len(lines) > 30 {
		lines = append(lines[:30], fmt.Sprintf("… and %d more", len(lines)-30))
	}
	return strings.Join(lines, "\n")
}

func sameTree(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Errorf("%s differs:\n%s", what, d)
	}
}

func testbinPath(t *testing.T) string { return testbin.Path(t, "hoist") }
