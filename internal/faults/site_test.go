package faults_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// long reports whether HOIST_TEST_LONG asks for the long runs.
func long() bool { return os.Getenv("HOIST_TEST_LONG") != "" }

// iterations returns short, or long under HOIST_TEST_LONG.
func iterations(short, long_ int) int {
	if long() {
		return long_
	}
	return short
}

// releases are the suite's releases: v1.0.0 and v1.1.0 of DefaultReleases
// with many more files (many of each only, to be removed or added, and
// many changed), files in directories only one release has, and a mode
// change; v1.2.0, whose 02-run.sh fails. See failRollbackEnv, fillAtEnv
// and holdEnv for what a test's environment makes the scripts do.
func releases(many int) []releaserepo.Release {
	rels := releaserepo.DefaultReleases()[:2]
	for i := range many {
		rels[0].Files[fmt.Sprintf("app/many/f%03d", i)] = releaserepo.File{Content: strings.Repeat("a", i*13)}
		rels[1].Files[fmt.Sprintf("app/many/f%03d", i+many/3)] = releaserepo.File{Content: strings.Repeat("b", i*17)}
	}
	rels[0].Files["app/gone/deep/old.txt"] = releaserepo.File{Content: "only in 1.0.0\n"}
	rels[0].Files["app/mode"] = releaserepo.File{Content: "mode\n", Mode: 0o755}
	rels[1].Files["app/mode"] = releaserepo.File{Content: "mode\n", Mode: 0o644}
	rels[1].Files["app/new/deep/new.txt"] = releaserepo.File{Content: "only in 1.1.0\n"}
	// Incompressible, so that most of a download is this file's.
	rels[1].Files["app/blob.bin"] = releaserepo.File{Content: string(pseudoRandom(256 << 10))}

	// A rollback's 01-run.sh fails when the test asks for it.
	s := releaserepo.LoggingScript("1.0.0", 1)
	s.Content = strings.Replace(s.Content, "set -e\n", "set -e\n[ -z \"$"+failRollbackEnv+"\" ] || exit 4\n", 1)
	rels[0].Files["scripts/update/01-run.sh"] = s

	// v1.1.0's scripts fill the disk when the test asks for it.
	for n := range 4 {
		p := fmt.Sprintf("scripts/update/%02d-run.sh", n)
		f := rels[1].Files[p]
		f.Content += fmt.Sprintf("[ \"${%s:-}\" != %02d ] || cat /dev/zero > \"$%s\" 2>/dev/null || true\n", fillAtEnv, n, fillEnv)
		rels[1].Files[p] = f
	}
	// v1.1.0's 02-run.sh holds while the test asks for it.
	hold := rels[1].Files["scripts/update/02-run.sh"]
	hold.Content = strings.Replace(hold.Content, "set -e\n", "set -e\n"+holdScript, 1)
	rels[1].Files["scripts/update/02-run.sh"] = hold

	failing := releaserepo.DefaultReleases()[1]
	failing.Version = "1.2.0"
	failing.Files["scripts/update/02-run.sh"] = releaserepo.Script(`echo "about to fail"; exit 3`)
	return append(rels, failing)
}

// failRollbackEnv, set in hoist's environment, makes v1.0.0's 01-run.sh
// fail: a rollback to v1.0.0 is then undone.
const failRollbackEnv = "FAULTS_FAIL_01"

// fillAtEnv = NN and fillEnv = FILE in hoist's environment make v1.1.0's
// NN-run.sh, after its work, fill the disk with FILE.
const (
	fillAtEnv = "FAULTS_FILL_AT"
	fillEnv   = "FAULTS_FILL"
)

// holdEnv, set in hoist's environment to a directory DIR, makes v1.1.0's
// 02-run.sh write its process id to DIR/holding and wait while DIR/hold
// exists.
const holdEnv = "FAULTS_HOLD"

const holdScript = `if [ -n "$` + holdEnv + `" ]; then
	echo $$ > "$` + holdEnv + `/holding.tmp" && mv "$` + holdEnv + `/holding.tmp" "$` + holdEnv + `/holding"
	while [ -e "$` + holdEnv + `/hold" ]; do sleep 0.05; done
fi
`

// recorders are triggers every site's root has besides update and
// rollback: each appends a line "NAME ARGS" to triggers.log next to the
// root, so tests see exactly which triggers ran.
var recorders = []string{"ping", "app", "repo"}

// liveSkip leaves out of a live-root snapshot the protected data (checked
// on its own), the root's bookkeeping, the supervisor's lock and the
// manager's events/signals/.
var liveSkip = append([]string{"data", ".hoist/supervisor.lock", "events/signals"}, treesnap.Bookkeeping...)

// scriptLog is the scripts' run log, in data/ so that updates keep it: the
// only file of the protected data an update writes (its scripts do).
var scriptLog = strings.TrimPrefix(releaserepo.ScriptLog, "data/")

// site is an app root made by the real `hoist init` and `hoist apply`, with
// protected data, and the two states an operation on it may leave.
type site struct {
	t    *testing.T
	repo *releaserepo.Repo
	base string   // the root before the operation: copied, never changed
	op   []string // the operation, e.g. apply --to v1.1.0
	// from and to are the live release before and after the operation.
	from, to string
	old, new treesnap.Tree // the live root before and after the operation
	data     treesnap.Tree // the protected data
}

// shape sizes a site: how many files the releases have beyond
// DefaultReleases' and how large the protected data's large file is.
type shape struct{ many, big int }

var (
	// full is the shape of cases on an ordinary disk.
	full = shape{many: 120, big: 20 << 20}
	// slim is the shape of cases repeated tens of times on lazyfs, where
	// every file operation crosses FUSE twice; HOIST_TEST_LONG runs full.
	slim = shape{many: 12, big: 1 << 20}
)

// onLazyfs returns the shape of lazyfs cases.
func onLazyfs() shape {
	if long() {
		return full
	}
	return slim
}

// newSite returns a root with v1.0.0 installed and the protected data, for
// the operation "apply --to v1.1.0".
func newSite(t *testing.T, sh shape) *site {
	t.Helper()
	s := newBase(t, sh)
	s.seal([]string{"apply", "--to", "v1.1.0"}, "v1.0.0", "v1.1.0")
	return s
}

// newRollbackSite returns a root updated from v1.0.0 to v1.1.0, for the
// operation "rollback".
func newRollbackSite(t *testing.T, sh shape) *site {
	t.Helper()
	s := newBase(t, sh)
	s.mustAt(s.base, "apply", "--to", "v1.1.0")
	s.seal([]string{"rollback"}, "v1.1.0", "v1.0.0")
	return s
}

// newStaticSite is newSite with the releases published, each with its
// tarball, to a static release repository (a file:// URL).
func newStaticSite(t *testing.T, sh shape) *site {
	t.Helper()
	repo := releaserepo.New(t)
	dir := filepath.Join(t.TempDir(), "site")
	for _, rel := range releases(sh.many) {
		repo.Add(t, rel)
		if r := hoist(t, nil, "release", "publish", "--tarball", "--key", repo.KeyFile, "--out", dir, repo.Dir); r.Code != 0 {
			t.Fatalf("hoist release publish: %s", r)
		}
	}
	s := newBaseOn(t, repo, "file://"+dir, sh)
	s.seal([]string{"apply", "--to", "v1.1.0"}, "v1.0.0", "v1.1.0")
	return s
}

// newBase makes the base root: v1.0.0 and the protected data.
func newBase(t *testing.T, sh shape) *site {
	t.Helper()
	repo := releaserepo.New(t, releases(sh.many)...)
	return newBaseOn(t, repo, repo.FileURL(), sh)
}

// newBaseOn is newBase with the releases of repo read from url.
func newBaseOn(t *testing.T, repo *releaserepo.Repo, url string, sh shape) *site {
	t.Helper()
	s := &site{t: t, repo: repo, base: filepath.Join(t.TempDir(), "app")}
	s.must("init", s.base, "--repo", url, "--pub", s.repo.PubFile)
	s.mustAt(s.base, "apply", "--to", "v1.0.0")
	for _, name := range recorders {
		p := filepath.Join(s.base, "triggers", name)
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"$HOIST_ROOT/../triggers.log\"\n"
		testbin.WriteExecutable(t, p, []byte(script))
	}
	writeProtected(t, filepath.Join(s.base, "data"), sh.big)
	s.data = treesnap.Take(t, filepath.Join(s.base, "data"), scriptLog)
	return s
}

// seal sets the operation and takes the snapshots of before and after it.
func (s *site) seal(op []string, from, to string) {
	s.op, s.from, s.to = op, from, to
	s.old = treesnap.Take(s.t, s.base, liveSkip...)
	s.new = s.snapAfterOp()
}

// setRepo points the base root's config at the release repository url
// and takes the snapshots again.
func (s *site) setRepo(url string) {
	s.t.Helper()
	r, err := os.OpenRoot(s.base)
	if err != nil {
		s.t.Fatal(err)
	}
	defer r.Close()
	c, err := config.Load(r)
	if err != nil {
		s.t.Fatal(err)
	}
	c.Repo = url
	if err := config.Save(r, c); err != nil {
		s.t.Fatal(err)
	}
	s.seal(s.op, s.from, s.to)
}

// snapAfterOp runs the operation on a copy of the base and returns its
// live snapshot.
func (s *site) snapAfterOp() treesnap.Tree {
	ref := s.copy(filepath.Join(s.t.TempDir(), "app"))
	s.mustAt(ref, s.op...)
	checkData(s.t, s, ref)
	if left := leftovers(s.t, ref, nil); len(left) > 0 {
		s.t.Fatalf("%s left behind: %q", s.op[0], left)
	}
	return treesnap.Take(s.t, ref, liveSkip...)
}

// copy copies the base root to dst (cp -a keeps modes, owners, links, hard
// links and fifos) and returns dst.
func (s *site) copy(dst string) string {
	s.t.Helper()
	if out, err := exec.Command("cp", "-a", s.base, dst).CombinedOutput(); err != nil {
		s.t.Fatalf("cp -a: %v %s", err, out)
	}
	return dst
}

// writeProtected writes the protected data tree into dir: everything an
// update must leave alone, in every odd shape a file can have.
func writeProtected(t *testing.T, dir string, big int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file := func(rel string, data []byte, mode fs.FileMode) {
		p := filepath.Join(dir, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, data, 0o600))
		must(os.Chmod(p, mode)) // whatever the umask, setuid included
	}
	file("db/big.bin", pseudoRandom(big), 0o640)
	file("settings.json", []byte(`{"secret":"keep me"}`), 0o600)
	file("bin/tool", []byte("#!/bin/sh\necho tool\n"), 0o4755)
	file("none", []byte("no access"), 0)
	file("empty", nil, 0o644)
	file("spaces and ünïcode.txt", []byte("odd name\n"), 0o644)
	file("shared/note", []byte("setgid dir\n"), 0o664)
	must(os.Chmod(filepath.Join(dir, "shared"), 0o2775))
	must(os.MkdirAll(filepath.Join(dir, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(dir, "tmp"), 0o1777))
	must(os.MkdirAll(filepath.Join(dir, "emptydir"), 0o700))
	file("owned/by-user", []byte("the user's\n"), 0o644)
	must(os.Lchown(filepath.Join(dir, "owned/by-user"), 1000, 1000))
	must(os.Lchown(filepath.Join(dir, "owned"), 1000, 1000))
	must(os.Link(filepath.Join(dir, "settings.json"), filepath.Join(dir, "settings.hardlink")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o620))
	must(os.MkdirAll(filepath.Join(dir, "links"), 0o755))
	for name, target := range map[string]string{
		"relative": "../settings.json", "absolute": "/etc/hostname", "dangling": "../no/such/file",
		"into-release": "../../app/config.yml", "dir": "../db",
	} {
		must(os.Symlink(target, filepath.Join(dir, "links", name)))
	}
}

// triggerRuns returns the lines the recorders wrote for root.
func triggerRuns(t testing.TB, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(root), "triggers.log"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// pseudoRandom returns n bytes that do not compress, the same every time.
func pseudoRandom(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'h', 'o', 'i', 's', 't'}).Read(b)
	return b
}

// settled checks the end conditions of every case on root and returns
// which release the root holds, "old" or "new"; it stops the test if the
// root holds neither:
//   - the live root is exactly s.old or exactly s.new;
//   - the protected data is unchanged;
//   - no temp file, undo area or staging clone is left (but keep);
//   - the status file agrees: not installing; success naming s.to for new;
//     for old, either failed naming s.from or a success not naming s.to;
//     statuses/info.json is the live info.json.
func (s *site) settled(t testing.TB, root string, keep ...string) string {
	t.Helper()
	checkData(t, s, root)
	if left := leftovers(t, root, keep); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	outcome, mix := s.outcome(t, root, keep...)
	if outcome == "" {
		t.Fatal(mix)
	}
	st := readStatus(t, root)
	switch {
	case st.State == statusfile.Installing:
		t.Errorf("root holds the %s release but the status says installing: %+v", outcome, st)
	case outcome == "new" && (st.State != statusfile.Success || st.UpdateTo != "" || !strings.Contains(st.Description, s.to)):
		t.Errorf("root holds %s but the status says %+v", s.to, st)
	case outcome == "old" && st.State == statusfile.Failed && !strings.Contains(st.Description, s.from):
		t.Errorf("root holds %s but the failure status does not say so: %+v", s.from, st)
	case outcome == "old" && st.State == statusfile.Success && strings.Contains(st.Description, s.to):
		t.Errorf("root holds %s but the status claims %s: %+v", s.from, s.to, st)
	}
	info, _ := os.ReadFile(filepath.Join(root, "info.json"))
	if cp, err := os.ReadFile(filepath.Join(root, "statuses/info.json")); err == nil && !bytes.Equal(cp, info) {
		t.Errorf("statuses/info.json %q is not the live info.json %q", cp, info)
	}
	return outcome
}

// checkData checks that the protected data in root is unchanged.
func checkData(t testing.TB, s *site, root string) {
	t.Helper()
	treesnap.Same(t, "protected data", treesnap.Take(t, filepath.Join(root, "data"), scriptLog), s.data)
}

// outcome returns "old" or "new" if the live root is exactly s.old or
// s.new (leaving out keep), else "" and how it differs from both.
func (s *site) outcome(t testing.TB, root string, keep ...string) (string, string) {
	t.Helper()
	got := treesnap.Take(t, root, append(liveSkip, keep...)...)
	switch {
	case treesnap.Diff(got, s.old) == "":
		return "old", ""
	case treesnap.Diff(got, s.new) == "":
		return "new", ""
	}
	return "", fmt.Sprintf("root is neither %s nor %s:\nagainst %s:\n%s\nagainst %s:\n%s",
		s.from, s.to, s.from, treesnap.Diff(got, s.old), s.to, treesnap.Diff(got, s.new))
}

// leftovers lists what a finished operation must not leave in root: temp
// files anywhere, the undo area, the trash, staging clones (but keep).
func leftovers(t testing.TB, root string, keep []string) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := d.Name()
		switch {
		case rel == "data":
			return filepath.SkipDir // the user's: not hoist's to clean
		case rel == "statuses":
			return filepath.SkipDir // see statusTemps
		case strings.HasPrefix(name, ".hoist-tmp-"), rel == ".hoist/undo", rel == ".hoist/trash",
			filepath.Dir(rel) == "." && strings.HasPrefix(name, ".app-") && !contains(keep, name):
			left = append(left, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// statusTemps lists the temp files in root's statuses/. A status write
// cut short leaves one there, and nothing removes it (reported by the
// power-cut tests, once, not by every case).
func statusTemps(t testing.TB, root string) []string {
	t.Helper()
	temps, err := filepath.Glob(filepath.Join(root, "statuses", ".hoist-tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range temps {
		temps[i] = filepath.Base(p)
	}
	return temps
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readStatus(t testing.TB, root string) statusfile.Status {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "statuses", statusfile.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return statusfile.Default()
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := statusfile.Parse(data)
	if err != nil {
		t.Fatalf("status file: %v", err)
	}
	return st
}

// hoist runs the real hoist binary with env added to the environment.
func hoist(t testing.TB, env []string, args ...string) testbin.Result {
	t.Helper()
	return testbin.Run(t, env, testbin.Path(t, "hoist"), args...)
}

func (s *site) must(args ...string) testbin.Result {
	s.t.Helper()
	r := hoist(s.t, nil, args...)
	if r.Code != 0 {
		s.t.Fatalf("hoist %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// mustAt runs hoist ARGS --root root and fails unless it exits 0.
func (s *site) mustAt(root string, args ...string) testbin.Result {
	s.t.Helper()
	return s.must(append(args, "--root", root)...)
}

// at runs hoist ARGS --root root.
func at(t testing.TB, root string, env []string, args ...string) testbin.Result {
	t.Helper()
	return hoist(t, env, append(args, "--root", root)...)
}

// recoverAt runs hoist recover on root, which must succeed, twice: the
// second run must find nothing to do.
func recoverAt(t testing.TB, root string) testbin.Result {
	t.Helper()
	r := at(t, root, nil, "recover")
	if r.Code != 0 {
		t.Fatalf("hoist recover: %s", r)
	}
	if again := at(t, root, nil, "recover"); again.Code != 0 || strings.TrimSpace(again.Stdout) != "nothing to recover" {
		t.Errorf("second recover: %s", again)
	}
	return r
}

// tally counts outcomes for the log.
type tally map[string]int

func (c tally) String() string {
	var parts []string
	for _, k := range []string{"old", "new"} {
		parts = append(parts, k+"="+strconv.Itoa(c[k]))
	}
	return strings.Join(parts, " ")
}
