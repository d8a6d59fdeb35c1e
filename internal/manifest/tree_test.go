package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeTree creates files (content, mode) and symlinks (target prefixed "->")
// under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func sampleTree(t *testing.T) string {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"info.json":                  `{"version":"1.2.3","name":"demo"}`,
		"app/bin/run":                "#!/bin/sh\necho hi\n",
		"app/config.yml":             "port: 1\n",
		"app/current":                "->config.yml",
		"a-b":                        "sorts between a/ and b",
		"scripts/update/01-run.sh":   "#!/bin/sh\n",
		".git/HEAD":                  "ref: refs/heads/main\n",
		"hoist-release.json":         "old manifest",
		"hoist-release.json.minisig": "old signature",
	})
	if err := os.MkdirAll(filepath.Join(dir, "empty/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestBuild(t *testing.T) {
	dir := sampleTree(t)
	m, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "1.2.3" {
		t.Errorf("version %q", m.Version)
	}
	var paths []string
	for _, e := range m.Files {
		paths = append(paths, e.Path)
	}
	want := "a-b app/bin/run app/config.yml app/current info.json scripts/update/01-run.sh"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("paths = %s\nwant    %s", got, want)
	}
	if e, _ := m.Lookup("app/bin/run"); e.Mode != "0755" || len(e.SHA256) != 64 {
		t.Errorf("run = %+v", e)
	}
	if e, _ := m.Lookup("app/current"); e.Link != "config.yml" || e.Mode != "" {
		t.Errorf("current = %+v", e)
	}
	if e, _ := m.Lookup("a-b"); e.SHA256 != sha256Hex("sorts between a/ and b") {
		t.Errorf("a-b hash = %s", e.SHA256)
	}
	if err := VerifyTree(context.Background(), openRoot(t, dir), m); err != nil {
		t.Fatalf("VerifyTree of the built tree: %v", err)
	}
}

func TestBuildNormalisesModes(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"info.json": `{"version":"1.0.0"}`, "x": "x", "y": "y"})
	os.Chmod(filepath.Join(dir, "x"), 0o600)
	os.Chmod(filepath.Join(dir, "y"), 0o700)
	m, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := m.Lookup("x"); x.Mode != "0644" {
		t.Errorf("x mode %s", x.Mode)
	}
	if y, _ := m.Lookup("y"); y.Mode != "0755" {
		t.Errorf("y mode %s", y.Mode)
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := map[string]func(dir string) error{
		"no info.json": func(dir string) error { return os.Remove(filepath.Join(dir, "info.json")) },
		"bad version": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"one"}`), 0o644)
		},
		"fifo":          func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644) },
		"escaping link": func(dir string) error { return os.Symlink("../../etc", filepath.Join(dir, "app/etc")) },
		"absolute link": func(dir string) error { return os.Symlink("/etc", filepath.Join(dir, "etc")) },
		"nested .git":   func(dir string) error { return os.MkdirAll(filepath.Join(dir, "app/.git"), 0o755) },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			dir := sampleTree(t)
			if err := spoil(dir); err != nil {
				t.Fatal(err)
			}
			if m, err := Build(context.Background(), dir); err == nil {
				t.Fatalf("Build = %+v, want error", m.Files)
			}
		})
	}
}

func TestVerifyTreeAndDiff(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(dir string) error
		want  string // the problems VerifyTree reports, "; "-separated; Diff reports the listed ones
	}{
		{"content", func(d string) error {
			return os.WriteFile(filepath.Join(d, "app/config.yml"), []byte("port: 2\n"), 0o644)
		},
			"app/config.yml: content changed"},
		{"same size content", func(d string) error {
			return os.WriteFile(filepath.Join(d, "a-b"), []byte("sorts between a/ and c"), 0o644)
		}, "a-b: content changed"},
		{"mode", func(d string) error { return os.Chmod(filepath.Join(d, "app/config.yml"), 0o600) },
			"app/config.yml: mode 0600, want 0644"},
		{"lost exec bit", func(d string) error { return os.Chmod(filepath.Join(d, "app/bin/run"), 0o644) },
			"app/bin/run: mode 0644, want 0755"},
		{"setuid", func(d string) error { return os.Chmod(filepath.Join(d, "app/bin/run"), os.ModeSetuid|0o755) },
			"app/bin/run: mode 4755, want 0755"},
		{"missing", func(d string) error { return os.Remove(filepath.Join(d, "a-b")) }, "a-b: missing"},
		{"missing dir", func(d string) error { return os.RemoveAll(filepath.Join(d, "scripts")) },
			"scripts/update/01-run.sh: missing"},
		{"parent is a file", func(d string) error {
			if err := os.RemoveAll(filepath.Join(d, "scripts")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(d, "scripts"), nil, 0o644)
		}, "scripts: not in the manifest; scripts/update/01-run.sh: missing"},
		{"file became symlink", func(d string) error {
			os.Remove(filepath.Join(d, "a-b"))
			return os.Symlink("info.json", filepath.Join(d, "a-b"))
		}, "a-b: not a regular file (symlink)"},
		{"file became dir", func(d string) error {
			os.Remove(filepath.Join(d, "a-b"))
			return os.Mkdir(filepath.Join(d, "a-b"), 0o755)
		}, "a-b: not a regular file (directory)"},
		{"link retargeted", func(d string) error {
			os.Remove(filepath.Join(d, "app/current"))
			return os.Symlink("bin/run", filepath.Join(d, "app/current"))
		}, `app/current: symlink to "bin/run", want "config.yml"`},
		{"link became file", func(d string) error {
			os.Remove(filepath.Join(d, "app/current"))
			return os.WriteFile(filepath.Join(d, "app/current"), []byte("port: 1\n"), 0o644)
		}, "app/current: not a symlink"},
		{"parent became symlink", func(d string) error {
			if err := os.Rename(filepath.Join(d, "scripts"), filepath.Join(d, "elsewhere")); err != nil {
				return err
			}
			return os.Symlink("elsewhere", filepath.Join(d, "scripts"))
		}, "elsewhere/update/01-run.sh: not in the manifest; scripts: not in the manifest; " +
			"scripts/update/01-run.sh: parent scripts is a symlink"},
		{"extra file", func(d string) error { return os.WriteFile(filepath.Join(d, "app/extra"), nil, 0o644) },
			"app/extra: not in the manifest"},
		{"extra symlink", func(d string) error { return os.Symlink("/etc/passwd", filepath.Join(d, "evil")) },
			"evil: not in the manifest"},
		{"extra fifo", func(d string) error { return syscall.Mkfifo(filepath.Join(d, "app/fifo"), 0o644) },
			"app/fifo: not in the manifest"},
		{"nested .git", func(d string) error { return os.WriteFile(filepath.Join(d, "app/.git"), nil, 0o644) },
			"app/.git: not in the manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sampleTree(t)
			m, err := Build(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.spoil(dir); err != nil {
				t.Fatal(err)
			}
			root := openRoot(t, dir)
			err = VerifyTree(context.Background(), root, m)
			var mm *MismatchError
			if !errors.Is(err, ErrMismatch) || !errors.As(err, &mm) {
				t.Fatalf("VerifyTree = %v, want a mismatch", err)
			}
			if got := join(mm.Problems); got != tt.want {
				t.Fatalf("problems = %s\nwant       %s", got, tt.want)
			}
			problems, err := Diff(context.Background(), root, m)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, p := range strings.Split(tt.want, "; ") {
				if !strings.HasSuffix(p, "not in the manifest") {
					listed = append(listed, p)
				}
			}
			if got := join(problems); got != strings.Join(listed, "; ") {
				t.Errorf("Diff = %s", got)
			}
		})
	}
}

func TestMismatchErrorIsCapped(t *testing.T) {
	dir := sampleTree(t)
	m, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		os.WriteFile(filepath.Join(dir, "app", "extra"+string(rune('a'+i))), nil, 0o644)
	}
	err = VerifyTree(context.Background(), openRoot(t, dir), m)
	if err == nil || !strings.Contains(err.Error(), "and 15 more") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
}

func TestVerifyTreeHonoursContext(t *testing.T) {
	dir := sampleTree(t)
	m, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := VerifyTree(ctx, openRoot(t, dir), m); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := Build(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Build err = %v, want context.Canceled", err)
	}
}

func TestReadInfoRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"real.json": `{"version":"1.0.0"}`, "info.json": "->real.json"})
	if _, err := ReadInfo(openRoot(t, dir)); err == nil {
		t.Fatal("ReadInfo followed a symlink")
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func join(problems []Problem) string {
	var s []string
	for _, p := range problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "; ")
}
