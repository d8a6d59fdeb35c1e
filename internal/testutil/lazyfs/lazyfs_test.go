package lazyfs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPowerCutKeepsOnlyDurable runs one change per case on a directory that
// durably holds f = "old", cuts the power and compares everything left.
func TestPowerCutKeepsOnlyDurable(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		do   func(t *testing.T, d string)
		want map[string]string
	}{
		{
			name: "write without fsync is lost",
			do:   func(t *testing.T, d string) { put(t, filepath.Join(d, "f"), "new", false) },
			want: map[string]string{"f": "old"},
		},
		{
			name: "write without fsync empties the file with UnsyncedAsEmpty",
			opts: Options{UnsyncedAsEmpty: true},
			do:   func(t *testing.T, d string) { put(t, filepath.Join(d, "f"), "new", false) },
			want: map[string]string{"f": ""},
		},
		{
			name: "write with fsync survives",
			do:   func(t *testing.T, d string) { put(t, filepath.Join(d, "f"), "new", true) },
			want: map[string]string{"f": "new"},
		},
		{
			name: "new file fsynced without directory fsync is gone",
			do:   func(t *testing.T, d string) { put(t, filepath.Join(d, "g"), "g", true) },
			want: map[string]string{"f": "old"},
		},
		{
			name: "new file with directory fsync but no file fsync is empty",
			do: func(t *testing.T, d string) {
				put(t, filepath.Join(d, "g"), "g", false)
				syncDir(t, d)
			},
			want: map[string]string{"f": "old", "g": ""},
		},
		{
			name: "new file with both fsyncs survives",
			do: func(t *testing.T, d string) {
				put(t, filepath.Join(d, "g"), "g", true)
				syncDir(t, d)
			},
			want: map[string]string{"f": "old", "g": "g"},
		},
		{
			name: "rename over a file with directory fsync installs the new content",
			do: func(t *testing.T, d string) {
				put(t, filepath.Join(d, "tmp"), "new", true)
				rename(t, filepath.Join(d, "tmp"), filepath.Join(d, "f"))
				syncDir(t, d)
			},
			want: map[string]string{"f": "new"},
		},
		{
			name: "rename over a file without directory fsync keeps the old content",
			do: func(t *testing.T, d string) {
				put(t, filepath.Join(d, "tmp"), "new", true)
				rename(t, filepath.Join(d, "tmp"), filepath.Join(d, "f"))
			},
			want: map[string]string{"f": "old"},
		},
		{
			name: "unlink without directory fsync comes back",
			do:   func(t *testing.T, d string) { remove(t, filepath.Join(d, "f")) },
			want: map[string]string{"f": "old"},
		},
		{
			name: "unlink with directory fsync is durable",
			do: func(t *testing.T, d string) {
				remove(t, filepath.Join(d, "f"))
				syncDir(t, d)
			},
			want: map[string]string{},
		},
		{
			name: "hard link with directory fsync",
			do: func(t *testing.T, d string) {
				if err := os.Link(filepath.Join(d, "f"), filepath.Join(d, "h")); err != nil {
					t.Fatal(err)
				}
				syncDir(t, d)
			},
			want: map[string]string{"f": "old", "h": "old"},
		},
		{
			name: "new directory needs its parent fsynced",
			do: func(t *testing.T, d string) {
				mkdir(t, filepath.Join(d, "sub"))
				durable(t, filepath.Join(d, "sub"), map[string]string{"x": "x"})
			},
			want: map[string]string{"f": "old"},
		},
		{
			name: "new directory fsynced in its parent but not itself is empty",
			do: func(t *testing.T, d string) {
				mkdir(t, filepath.Join(d, "sub"))
				put(t, filepath.Join(d, "sub", "x"), "x", true)
				syncDir(t, d)
			},
			want: map[string]string{"f": "old", "sub": "/"},
		},
		{
			name: "symlink with directory fsync",
			do: func(t *testing.T, d string) {
				if err := os.Symlink("f", filepath.Join(d, "l")); err != nil {
					t.Fatal(err)
				}
				syncDir(t, d)
			},
			want: map[string]string{"f": "old", "l": "-> f"},
		},
		{
			name: "syncfs is invisible: nothing it should keep survives",
			do:   installWithSyncfs,
			want: map[string]string{"f": "old"},
		},
		{
			name: "with GlobalCommit any fsync keeps everything",
			opts: Options{GlobalCommit: true},
			do:   installWithSyncfs,
			want: map[string]string{"f": "new", "sub": "/", "journal": "j"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := MountForTest(t, tt.opts)
			durable(t, d, map[string]string{"f": "old"})
			tt.do(t, d)
			cut(t, f)
			if got := tree(t, d); !maps.Equal(got, tt.want) {
				t.Errorf("after cut: %q, want %q", got, tt.want)
			}
		})
	}
}

// installWithSyncfs replaces f and makes a directory with no fsync but a
// syncfs, as the engine's install does, then writes and fsyncs a journal.
func installWithSyncfs(t *testing.T, d string) {
	put(t, filepath.Join(d, "tmp"), "new", false)
	rename(t, filepath.Join(d, "tmp"), filepath.Join(d, "f"))
	mkdir(t, filepath.Join(d, "sub"))
	dir, err := os.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := unix.Syncfs(int(dir.Fd())); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(d, "journal"), "j", true)
}

// TestCrossDirectoryRename shows the per-directory rule: a move fsynced only
// in its target leaves the file under both names, and a directory listed
// durably in two places is kept in the first one, breadth-first by name.
func TestCrossDirectoryRename(t *testing.T) {
	f, d := MountForTest(t, Options{})
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	mkdir(t, a)
	mkdir(t, b)
	durable(t, a, map[string]string{"x": "x"})
	syncDir(t, b)
	syncDir(t, d)

	rename(t, filepath.Join(a, "x"), filepath.Join(b, "x"))
	syncDir(t, b)
	cut(t, f)
	want := map[string]string{"a": "/", "b": "/", "a/x": "x", "b/x": "x"}
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("file moved, target fsynced: %q, want %q", got, want)
	}
	if n := nlink(t, filepath.Join(a, "x")); n != 2 {
		t.Errorf("a/x: %d links, want 2", n)
	}

	mkdir(t, filepath.Join(b, "dir"))
	syncDir(t, b)
	rename(t, filepath.Join(b, "dir"), filepath.Join(a, "dir"))
	syncDir(t, a)
	cut(t, f)
	got := tree(t, d)
	if got["a/dir"] != "/" || got["b/dir"] != "" {
		t.Errorf("directory durable in two parents: %q, want it under a only", got)
	}
}

func TestMetadataNeedsFsync(t *testing.T) {
	f, d := MountForTest(t, Options{})
	p := filepath.Join(d, "f")
	durable(t, d, map[string]string{"f": "x"})
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1000, 2000); err != nil {
		t.Fatal(err)
	}
	put(t, p, "x", true) // the fsync persists mode and owner too
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	cut(t, f)
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o600 || st.Uid != 1000 || st.Gid != 2000 {
		t.Errorf("after cut: mode %o uid %d gid %d, want 600 1000 2000", st.Mode&0o7777, st.Uid, st.Gid)
	}
}

func TestHardLinksCountedAfterCut(t *testing.T) {
	f, d := MountForTest(t, Options{})
	durable(t, d, map[string]string{"f": "x"})
	if err := os.Link(filepath.Join(d, "f"), filepath.Join(d, "h")); err != nil {
		t.Fatal(err)
	}
	syncDir(t, d)
	remove(t, filepath.Join(d, "h"))
	if n := nlink(t, filepath.Join(d, "f")); n != 1 {
		t.Errorf("after unlink: nlink %d, want 1", n)
	}
	cut(t, f) // the unlink was not durable
	if n := nlink(t, filepath.Join(d, "f")); n != 2 {
		t.Errorf("after cut: nlink %d, want 2", n)
	}
	put(t, filepath.Join(d, "h"), "y", true)
	if b, _ := os.ReadFile(filepath.Join(d, "f")); string(b) != "y" {
		t.Errorf("f = %q, want the content written through h", b)
	}
}

func TestOpenFilesFailAfterCut(t *testing.T) {
	f, d := MountForTest(t, Options{})
	durable(t, d, map[string]string{"f": "content"})
	fd, err := os.OpenFile(filepath.Join(d, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.Read(make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	cut(t, f)
	if _, err := fd.ReadAt(make([]byte, 3), 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("read after cut: %v, want EIO", err)
	}
	if _, err := fd.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("write after cut: %v, want EIO", err)
	}
	if b, err := os.ReadFile(filepath.Join(d, "f")); err != nil || string(b) != "content" {
		t.Errorf("reopened: %q, %v", b, err)
	}
}

func TestCreateExclusive(t *testing.T) {
	_, d := MountForTest(t, Options{})
	p := filepath.Join(d, "f")
	for i, want := range []error{nil, os.ErrExist} {
		fd, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, want) {
			t.Fatalf("create %d: %v, want %v", i, err, want)
		}
		if err == nil {
			fd.Close()
		}
	}
}

func TestStats(t *testing.T) {
	f, d := MountForTest(t, Options{})
	durable(t, d, map[string]string{"a": "aaaa", "b": "bb"}) // 2 file fsyncs, 1 dir fsync
	put(t, filepath.Join(d, "a"), "123456", false)           // rolled back: 6 bytes lost
	remove(t, filepath.Join(d, "b"))                         // comes back
	put(t, filepath.Join(d, "c"), "ccc", true)               // gone: 3 bytes, 1 name
	cut(t, f)
	st := f.Stats()
	want := Stats{Fsyncs: 3, DirFsyncs: 1, Cuts: 1, UsedBytes: 6, DroppedBytes: 9, DroppedEntries: 1, RestoredEntries: 1}
	want.Changes = st.Changes // depends on how the kernel splits requests
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

func TestStatfsAndFullDisk(t *testing.T) {
	const size = 1 << 20
	_, d := MountForTest(t, Options{Size: size})
	var st syscall.Statfs_t
	if err := syscall.Statfs(d, &st); err != nil {
		t.Fatal(err)
	}
	if total := int64(st.Blocks) * int64(st.Bsize); total != size {
		t.Errorf("statfs size = %d, want %d", total, size)
	}
	p := filepath.Join(d, "big")
	err := os.WriteFile(p, make([]byte, size+1), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing more than the size: %v, want ENOSPC", err)
	}
	if err := os.WriteFile(p, make([]byte, size/2), 0o644); err != nil {
		t.Fatalf("rewrite after truncation: %v", err)
	}
	if err := syscall.Statfs(d, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free != size/2 {
		t.Errorf("free = %d, want %d", free, size/2)
	}
	remove(t, p)
	if err := os.WriteFile(filepath.Join(d, "again"), make([]byte, size), 0o644); err != nil {
		t.Errorf("space not freed by unlink: %v", err)
	}
}

func TestCrashAfter(t *testing.T) {
	f, d := MountForTest(t, Options{})
	if err := f.CrashAfter(2, Sync); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(d, "a"), "a", true)
	put(t, filepath.Join(d, "b"), "b", false)
	syncDir(t, d) // second sync: the disk dies after it
	if !f.Stats().Crashed {
		t.Fatal("not crashed after two syncs")
	}
	if err := os.WriteFile(filepath.Join(d, "c"), nil, 0o644); !errors.Is(err, syscall.EIO) {
		t.Errorf("create after the crash: %v, want EIO", err)
	}
	if err := f.Sync(); err == nil {
		t.Error("Sync of a crashed disk succeeded")
	}
	cut(t, f)
	want := map[string]string{"a": "a", "b": ""}
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("after cut: %q, want %q", got, want)
	}
	if f.Stats().Crashed {
		t.Error("still crashed after the cut")
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func nlink(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Nlink) // uint32 on arm64 and 32-bit arm
}

// TestLargeDirectory lists a directory bigger than one readdir reply, before
// and after a cut.
func TestLargeDirectory(t *testing.T) {
	f, d := MountForTest(t, Options{})
	want := map[string]string{}
	for i := range 500 {
		name := fmt.Sprintf("file-with-a-longish-name-%03d", i)
		put(t, filepath.Join(d, name), name, true)
		want[name] = name
	}
	syncDir(t, d)
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("before cut: %d entries, want %d", len(got), len(want))
	}
	cut(t, f)
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("after cut: %d entries, want %d", len(got), len(want))
	}
}

// TestSync: FS.Sync makes a state built without any fsync durable, so a
// test can start from it.
func TestSync(t *testing.T) {
	f, d := MountForTest(t, Options{})
	cmd := exec.Command("sh", "-c", "mkdir -p a/b && echo x > a/b/x && ln -s b/x a/l && echo y > y && mv y z")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	want := tree(t, d)
	put(t, filepath.Join(d, "a", "b", "x"), "changed", false)
	remove(t, filepath.Join(d, "z"))
	cut(t, f)
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("after cut: %q, want the synced %q", got, want)
	}
}
