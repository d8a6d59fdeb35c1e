package faults_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// tmpfs mounts a tmpfs of size bytes for the test, or skips the test where
// mounting is not permitted (it needs root or CAP_SYS_ADMIN).
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// remount changes the mount options of the tmpfs dir (nr_inodes=N, say).
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", opts, err, out)
	}
}

// used returns the bytes in use on the file system holding dir.
func used(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * int64(st.Bsize)
}

// fillLeaving fills the file system of dir with the file path until only
// free bytes are left.
func fillLeaving(t *testing.T, path string, free int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := int64(st.Bavail)*int64(st.Bsize) - free; n > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiskFull fills the disk holding the root at each phase of an update:
// before it (preflight refuses), leaving room for preflight but not for
// the download, and right after 00-run.sh (the backup), 01-run.sh (02 and
// 03 with a full disk) and 03-run.sh (the commit) did their work. Each
// update ends as a clean failure with the root exactly as before (or, for
// the last phases, as a complete update), the protected data untouched,
// and a status that says so, not installing, while the disk is still full;
// once the disk has room again, `hoist recover` leaves no staging clone or
// temp file behind and the space is back; a retry installs v1.1.0. The
// download's failure status says what happened and what is installed.
func TestDiskFull(t *testing.T) {
	s := newSite(t, full)
	// A release too large for what the filler leaves preflight to see.
	huge := releaserepo.DefaultReleases()[1]
	huge.Version = "1.3.0"
	huge.Files["app/huge.bin"] = releaserepo.File{Content: string(pseudoRandom(12 << 20))}
	s.repo.Add(t, huge)

	phases := []struct {
		name string
		args []string
		free int64  // bytes left by a filler before the update; -1: none
		at   string // the script that fills the disk after its work
		want string // required outcome; "" if old or new
		says string // in apply's error
		// shows are in the status description while the disk is full.
		shows []string
	}{
		{"preflight", []string{"--to", "v1.1.0"}, 1 << 20, "", "old", "not enough free disk space", nil},
		{"download", []string{"--to", "v1.3.0"}, 10 << 20, "", "old", "no space left on device", []string{"no space left", "v1.0.0 is still installed"}},
		{"backup", []string{"--to", "v1.1.0"}, -1, "00", "old", "no space left on device", nil},
		{"scripts 02 and 03", []string{"--to", "v1.1.0"}, -1, "01", "", "", nil},
		{"commit", []string{"--to", "v1.1.0"}, -1, "03", "", "", nil},
	}
	for _, p := range phases {
		t.Run(p.name, func(t *testing.T) {
			disk := tmpfs(t, 96<<20)
			root := s.copy(filepath.Join(disk, "app"))
			filler := filepath.Join(disk, "filler")
			at(t, root, nil, "recover") // reserves the journal's room for its records
			before := used(t, disk)
			if p.free >= 0 {
				fillLeaving(t, filler, p.free)
			}
			r := at(t, root, []string{fillAtEnv + "=" + p.at, fillEnv + "=" + filler}, append([]string{"apply"}, p.args...)...)
			t.Logf("apply: exit %d: %s", r.Code, lastLine(r.Stderr))
			if p.want == "old" && (r.Code != exitcode.Failure || !strings.Contains(r.Stderr, p.says)) {
				t.Errorf("apply: %s", r)
			}
			// What the manager shows while the disk is still full, until
			// the next recover (at the next update or supervisor start).
			st := readStatus(t, root)
			if st.State == statusfile.Installing {
				t.Errorf("apply exited %d and left the status at installing, while the disk is full: %+v", r.Code, st)
			}
			for _, want := range p.shows {
				if !strings.Contains(st.Description, want) {
					t.Errorf("status %+v does not say %q", st, want)
				}
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			recoverAt(t, root)
			got := s.settled(t, root)
			if p.want != "" && got != p.want {
				t.Errorf("root holds the %s release, want the %s one", got, p.want)
			}
			if (got == "new") != (r.Code == 0) {
				t.Errorf("apply exited %d but the root holds the %s release", r.Code, got)
			}
			if temps := statusTemps(t, root); len(temps) > 0 {
				t.Errorf("temp files left in statuses/: %q", temps)
			}
			if got == "old" {
				// Logs and reports grow by a few KiB; a clone or a temp
				// file left behind would show as much more.
				if grown := used(t, disk) - before; grown > 256<<10 {
					t.Errorf("%d KiB more in use than before the update", grown>>10)
				}
				if r := at(t, root, nil, "apply", "--to", "v1.1.0"); r.Code != 0 {
					t.Fatalf("retry: %s", r)
				}
				if got := s.settled(t, root); got != "new" {
					t.Errorf("retry left the %s release", got)
				}
			}
		})
	}
}

// TestInodesDuringInstall runs an update of 200 more symlinks out of inodes
// at each point of its install (the staging clone takes about links+30
// inodes, the install links+1 more; hard links take none): each run fails
// cleanly with the live release untouched, until one has room to install.
func TestInodesDuringInstall(t *testing.T) {
	s := newSite(t, slim)
	const links = 200
	rel := releaserepo.DefaultReleases()[1]
	rel.Version = "1.4.0"
	for i := range links {
		rel.Files[fmt.Sprintf("links/l%03d", i)] = releaserepo.File{Link: "../app/config.yml"}
	}
	s.repo.Add(t, rel)
	disk := tmpfs(t, 96<<20)
	root := s.copy(filepath.Join(disk, "app"))
	// Staging clones, and the status reserve: a full disk uses it up so
	// that the failure status can still be written; recover makes it again.
	skip := append([]string{".app-*", ".hoist/status-reserve"}, liveSkip...)
	old := treesnap.Take(t, root, skip...)
	var st unix.Statfs_t
	if err := unix.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	inUse := int(st.Files - st.Ffree)
	failedInInstall := false
	for extra := links; extra <= 2*links+60; extra += 20 {
		remount(t, disk, fmt.Sprintf("nr_inodes=%d", inUse+extra))
		r := at(t, root, nil, "apply", "--to", "v1.4.0")
		if r.Code == 0 {
			t.Logf("%d spare inodes: installed", extra)
			break
		}
		if r.Code != exitcode.Failure {
			t.Fatalf("%d spare inodes: %s", extra, r)
		}
		failedInInstall = failedInInstall || strings.Contains(r.Stderr, "install v1.4.0:")
		t.Logf("%d spare inodes: %s", extra, lastLine(r.Stderr))
		treesnap.Same(t, fmt.Sprintf("root after failing with %d spare inodes", extra), treesnap.Take(t, root, skip...), old)
	}
	if !failedInInstall {
		t.Error("no run ran out of inodes during the install")
	}
	if r := at(t, root, nil, "verify"); r.Code != 0 {
		t.Errorf("verify: %s", r)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
