package supervisor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/signalname"
)

func TestCheckTrigger(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return p
	}
	file("ok", 0o755)
	file("owner-only", 0o700)
	file("group-writable", 0o775)
	file("world-writable", 0o757)
	file("not-executable", 0o644)
	if err := os.Chown(file("foreign", 0o755), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"dir-open": 0o777, "dir-unsearchable": 0o600, "dir-sticky": 0o777 | os.ModeSticky} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("dir", filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  os.FileMode // what the trigger check wants
		euid int
		want string // part of the error; "" for none
	}{
		{"ok", 0, 0, ""},
		{"owner-only", 0, 0, ""},
		{"foreign", 0, 1234, ""}, // a supervisor run as uid 1234 may run its own triggers
		{"foreign", 0, 0, "owned by uid 1234"},
		{"group-writable", 0, 0, "writable by group or others (mode 0775)"},
		{"world-writable", 0, 0, "writable by group or others (mode 0757)"},
		{"not-executable", 0, 0, "not executable"},
		{"link", 0, 0, "symlink"},
		{"dir", 0, 0, "not a regular file (directory)"},
		{"fifo", 0, 0, "not a regular file (fifo)"},
		// The triggers directory, under the same rules.
		{"dir", os.ModeDir, 0, ""},
		{"dir-open", os.ModeDir, 0, "writable by group or others (mode 0777)"},
		{"dir-unsearchable", os.ModeDir, 0, "not searchable (mode 0600)"},
		{"dirlink", os.ModeDir, 0, "symlink"},
		{"ok", os.ModeDir, 0, "not a directory (regular file)"},
		{"dir-sticky", os.ModeDir, 0, "writable by group or others (mode 0777)"},
		// A directory above the triggers: sticky ones may be shared.
		{"dir", os.ModeDir | os.ModeSticky, 0, ""},
		{"dir-sticky", os.ModeDir | os.ModeSticky, 0, ""},
		{"dir-open", os.ModeDir | os.ModeSticky, 0, "writable by group or others (mode 0777)"},
		{"dir-unsearchable", os.ModeDir | os.ModeSticky, 0, "not searchable (mode 0600)"},
		{"dirlink", os.ModeDir | os.ModeSticky, 0, "symlink"},
		{"ok", os.ModeDir | os.ModeSticky, 0, "not a directory (regular file)"},
	}
	for _, tt := range tests {
		fi, err := os.Lstat(filepath.Join(dir, tt.name))
		if err != nil {
			t.Fatal(err)
		}
		err = checkTrigger(fi, tt.typ, tt.euid)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s as %v (euid %d): %v, want nil", tt.name, tt.typ, tt.euid, err)
		case tt.want != "" && (!errors.Is(err, ErrUnsafeTrigger) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s as %v (euid %d): %v, want ErrUnsafeTrigger saying %q", tt.name, tt.typ, tt.euid, err, tt.want)
		}
	}
}

func TestTriggerDirs(t *testing.T) {
	for root, want := range map[string][]string{
		// "+t": it may be shared if sticky, as an ancestor of root.
		"/opt/app": {"/ +t", "/opt +t", "/opt/app", "/opt/app/triggers"},
		"/":        {"/", "/triggers"},
	} {
		var got []string
		for _, c := range triggerDirs(root) {
			if c.typ&fs.ModeSticky != 0 {
				c.path += " +t"
			}
			got = append(got, c.path)
		}
		if !slices.Equal(got, want) {
			t.Errorf("triggerDirs(%q) = %q, want %q", root, got, want)
		}
	}
}

// Every directory from / to the trigger is checked: the supervisor runs the
// trigger by its path.
func TestCheckTriggerPath(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		euid  int
		setup func(anc, root string)
		want  string // the error, with ANC and ROOT for the paths; "" for none
	}{
		{"safe", 0, func(anc, root string) {}, ""},
		{"root group-writable", 0, func(anc, root string) { must(os.Chmod(root, 0o775)) },
			"directory ROOT: unsafe trigger: writable by group or others (mode 0775)"},
		{"root sticky and world-writable", 0, func(anc, root string) { must(os.Chmod(root, 0o777|os.ModeSticky)) },
			"directory ROOT: unsafe trigger: writable by group or others (mode 0777)"},
		{"root foreign", 0, func(anc, root string) { must(os.Chown(root, 1234, 1234)) },
			"directory ROOT: unsafe trigger: owned by uid 1234, not root"},
		{"ancestor world-writable", 0, func(anc, root string) { must(os.Chmod(anc, 0o777)) },
			"directory ANC: unsafe trigger: writable by group or others (mode 0777)"},
		{"ancestor sticky and world-writable", 0, func(anc, root string) { must(os.Chmod(anc, 0o777|os.ModeSticky)) }, ""},
		{"ancestor foreign", 0, func(anc, root string) { must(os.Chown(anc, 1234, 1234)) },
			"directory ANC: unsafe trigger: owned by uid 1234, not root"},
		{"ancestor of the supervisor's user", 1234, func(anc, root string) { must(os.Chown(anc, 1234, 1234)) }, ""},
		{"ancestor not searchable", 0, func(anc, root string) { must(os.Chmod(anc, 0o600)) },
			"directory ANC: unsafe trigger: not searchable (mode 0600)"},
		{"ancestor swapped for a symlink", 0, func(anc, root string) {
			must(os.Rename(anc, anc+".real"))
			must(os.Symlink(anc+".real", anc))
		}, "directory ANC: unsafe trigger: is a symlink"},
		{"triggers group-writable", 0, func(anc, root string) { must(os.Chmod(filepath.Join(root, "triggers"), 0o775)) },
			"directory triggers: unsafe trigger: writable by group or others (mode 0775)"},
		{"trigger world-writable", 0, func(anc, root string) { must(os.Chmod(filepath.Join(root, "triggers/update"), 0o757)) },
			"triggers/update: unsafe trigger: writable by group or others (mode 0757)"},
	}
	for _, tt := range tests {
		anc := filepath.Join(t.TempDir(), "anc")
		root := filepath.Join(anc, "root")
		must(os.MkdirAll(filepath.Join(root, "triggers"), 0o755))
		must(os.WriteFile(filepath.Join(root, "triggers/update"), []byte("#!/bin/sh\n"), 0o755))
		s := &supervisor{opt: Options{Root: root}, euid: tt.euid, triggerDirs: triggerDirs(root)}
		tt.setup(anc, root)
		exe, err := s.checkTriggerPath("triggers/update")
		if err == nil && exe != filepath.Join(root, "triggers/update") {
			t.Errorf("%s: checked %s, want the trigger in ROOT", tt.name, exe)
		}
		want := strings.NewReplacer("ANC", anc, "ROOT", root).Replace(tt.want)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v, want nil", tt.name, err)
		case want != "" && (!errors.Is(err, ErrUnsafeTrigger) || err.Error() != want):
			t.Errorf("%s: %v, want ErrUnsafeTrigger: %s", tt.name, err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"update", "app", "repo", "app-special"} {
		if err := os.MkdirAll(filepath.Join(dir, "triggers"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "triggers", name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink is a present trigger: it is refused when it would run,
	// rather than silently falling back to another one.
	if err := os.Symlink("update", filepath.Join(dir, "triggers", "app-linked")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		signal  string
		trigger string // "" for none
		args    []string
	}{
		{"update", "update", nil},
		{"app-special", "app-special", nil},
		{"app-linked", "app-linked", nil},
		{"app-nextcloud", "app", []string{"nextcloud"}},
		{"repo-a-b", "repo", []string{"a-b"}},
		{"rollback", "", nil},
		{"apps-x", "", nil},
	}
	for _, tt := range tests {
		got, ok := resolve(root, tt.signal)
		want := signalname.Target{Trigger: tt.trigger, Args: tt.args}
		if ok != (tt.trigger != "") || got.Trigger != want.Trigger || !slices.Equal(got.Args, want.Args) {
			t.Errorf("resolve(%q) = %+v, %v; want %+v", tt.signal, got, ok, want)
		}
	}
}

func TestProcessEnv(t *testing.T) {
	got := processEnv("/opt/app", "/usr/local/lib/hoist", "/usr/bin:/bin")
	want := []string{"HOIST_ROOT=/opt/app", "PATH=/usr/local/lib/hoist:/usr/bin:/bin", "HOIST_LOG_FORMAT=json", "NOTIFY_SOCKET="}
	if !slices.Equal(got, want) {
		t.Errorf("processEnv = %q, want %q", got, want)
	}
	got = processEnv("/opt/app", "", "")
	want = []string{"HOIST_ROOT=/opt/app", "PATH=" + defaultPath, "HOIST_LOG_FORMAT=json", "NOTIFY_SOCKET="}
	if !slices.Equal(got, want) {
		t.Errorf("processEnv without PATH = %q, want %q", got, want)
	}
}
