package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// resign signs the manifest in dir again with minisign itself, so that a
// hand-edited manifest carries a valid signature by the trusted key, bound
// (in its trusted comment) to the app and version of the release.
func resign(t *testing.T, repo *releaserepo.Repo, dir string) {
	t.Helper()
	var info struct{ Version string }
	data, _ := os.ReadFile(filepath.Join(dir, "info.json"))
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	minisignWith(t, repo, dir, "app:demo\tversion:"+info.Version)
}

// minisignWith signs the manifest in dir with minisign and the trusted
// comment given.
func minisignWith(t *testing.T, repo *releaserepo.Repo, dir, comment string) {
	t.Helper()
	if _, err := exec.LookPath("minisign"); err != nil {
		t.Skip("minisign not installed (.ci/run installs it)")
	}
	m := filepath.Join(dir, "hoist-release.json")
	cmd := exec.Command("minisign", "-S", "-s", repo.KeyFile, "-m", m, "-x", m+".minisig", "-t", comment)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -S: %v %s", err, out)
	}
}

// addEntry adds raw (a JSON object) to the manifest in dir and signs it.
func addEntry(t *testing.T, repo *releaserepo.Repo, dir, raw string) {
	t.Helper()
	p := filepath.Join(dir, "hoist-release.json")
	var m struct {
		App     string            `json:"app"`
		Version string            `json:"version"`
		Files   []json.RawMessage `json:"files"`
	}
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m.Files = append(m.Files, json.RawMessage(raw))
	pathOf := func(r json.RawMessage) string {
		var e struct{ Path string }
		json.Unmarshal(r, &e)
		return e.Path
	}
	slices.SortFunc(m.Files, func(a, b json.RawMessage) int { return strings.Compare(pathOf(a), pathOf(b)) })
	data, _ = json.Marshal(m)
	os.WriteFile(p, data, 0o644)
	resign(t, repo, dir)
}

// TestRejectedReleases requests updates to releases that must not be
// installed, each as the manager would: every one exits 4, leaves the live
// root byte for byte as it was and reports the rejection in the status.
// The cases share one repository: each tampers with a release of its own.
func TestRejectedReleases(t *testing.T) {
	tests := []struct {
		name   string
		from   string // installed first (default v1.0.0)
		to     string // default: the case's own release
		tamper func(t *testing.T, repo *releaserepo.Repo, dir string)
		files  map[string]string // extra files of the case's release
	}{
		{name: "changed file", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.WriteFile(filepath.Join(dir, "app/config.yml"), []byte("version: evil\n"), 0o644)
		}},
		{name: "unlisted file", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.WriteFile(filepath.Join(dir, "app/extra.sh"), []byte("rm -rf /\n"), 0o755)
		}},
		{name: "removed file", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.Remove(filepath.Join(dir, "app/bin/app"))
		}},
		{name: "mode change", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.Chmod(filepath.Join(dir, "app/config.yml"), 0o755)
		}},
		{name: "symlink retargeted outside", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.Remove(filepath.Join(dir, "app/current.yml"))
			os.Symlink("../../../../etc/passwd", filepath.Join(dir, "app/current.yml"))
		}},
		{name: "signed symlink outside", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			os.Symlink("../../..", filepath.Join(dir, "app/escape"))
			addEntry(t, repo, dir, `{"path":"app/escape","link":"../../.."}`)
		}},
		{name: "signed dotdot path", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			addEntry(t, repo, dir, `{"path":"../escape","sha256":"`+strings.Repeat("0", 64)+`","mode":"0644"}`)
		}},
		{name: "unknown key", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			other := filepath.Join(t.TempDir(), "other")
			hoistBin(t, "release", "keygen", "--out", other)
			os.WriteFile(filepath.Join(dir, "app/config.yml"), []byte("version: evil\n"), 0o644)
			hoistBin(t, "release", "sign", "--key", other+".key", dir)
		}},
		{name: "signature bound to another release", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			minisignWith(t, repo, dir, "app:demo\tversion:9.9.9")
		}},
		{name: "missing signature", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			os.Remove(filepath.Join(dir, "hoist-release.json.minisig"))
		}},
		{name: "version differs from tag", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"9.9.9","app":"demo","name":"demo"}`+"\n"), 0o644)
			hoistBin(t, "release", "sign", "--key", repo.KeyFile, dir)
		}},
		{name: "truncated manifest", tamper: func(t *testing.T, _ *releaserepo.Repo, dir string) {
			p := filepath.Join(dir, "hoist-release.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)/2], 0o644)
		}},
		{name: "garbage manifest", tamper: func(t *testing.T, repo *releaserepo.Repo, dir string) {
			os.WriteFile(filepath.Join(dir, "hoist-release.json"), []byte("\x00\xffnot json{{{"), 0o644)
			resign(t, repo, dir)
		}},
		{name: "protected path", files: map[string]string{"data/seed.db": "overwrite the user's data"}},
		{name: "state path", files: map[string]string{".hoist/config.json": `{"pubkeys":["evil"]}`}},
		{name: "requires not met", to: "v2.0.0"},
		{name: "downgrade", from: "v1.1.0", to: "v1.0.0"},
		{name: "same version", from: "v1.1.0", to: "v1.1.0"},
	}
	rels := releaserepo.DefaultReleases()
	for i, tt := range tests {
		if tt.to == "" {
			rel := releaserepo.DefaultReleases()[1]
			rel.Version = fmt.Sprintf("1.2.%d", i)
			for p, content := range tt.files {
				rel.Files[p] = releaserepo.File{Content: content}
			}
			rels = append(rels, rel)
		}
	}
	base := newFixture(t, rels...)
	base.must("apply", "--to", "v1.0.0")
	updated := base.copyOf(t)
	updated.must("apply", "--to", "v1.1.0")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := cmpOr(tt.to, fmt.Sprintf("v1.2.%d", i))
			if tt.tamper != nil {
				base.repo.Tamper(t, to[1:], func(dir string) { tt.tamper(t, base.repo, dir) })
			}
			from, f := "v1.0.0", base.copyOf(t)
			if tt.from != "" {
				from, f = tt.from, updated.copyOf(t)
			}
			os.WriteFile(f.path("data/user.db"), []byte("user data"), 0o600)
			before := f.snap()
			f.request(to)
			r := f.hoist("apply")
			if r.Code != exitcode.Rejected {
				t.Fatalf("apply %s: %s", to, r)
			}
			treesnap.Same(t, "live root", f.snap(), before)
			st := f.status()
			if st.State != statusfile.Failed || st.UpdateTo != to || !strings.Contains(st.Description, from) {
				t.Errorf("status %+v", st)
			}
			t.Log(strings.TrimSpace(r.Stderr[strings.LastIndex(strings.TrimSpace(r.Stderr), "\n")+1:]))
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hoistBin(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(testbin.Path(t, "hoist"), args...).CombinedOutput(); err != nil {
		t.Fatalf("hoist %v: %v %s", args, err, out)
	}
}
