package release

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// tree writes a small release work tree and returns its directory.
func tree(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"info.json":                `{"version":"` + version + `","name":"demo","app":"demo"}`,
		"app/config.yml":           "port: 1\n",
		"scripts/update/01-run.sh": "#!/bin/sh\n",
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(full, mode)
	}
	if err := os.Symlink("config.yml", filepath.Join(dir, "app/current.yml")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newKey makes an unencrypted key pair and returns the key file and the
// public key line.
func newKey(t *testing.T) (keyFile, pub string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "release")
	if err := GenerateKey(prefix, ""); err != nil {
		t.Fatal(err)
	}
	pub, err := ReadPublicKeyFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return prefix + ".key", pub
}

func checkDir(t *testing.T, dir string, pubkeys []string, want string) (*manifest.Manifest, error) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	return VerifyDir(context.Background(), root, pubkeys, want)
}

func TestGenerateKey(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "k")
	if err := GenerateKey(prefix, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	var key minisign.PrivateKey
	if data, _ := os.ReadFile(prefix + ".key"); minisign.IsEncrypted(data) || key.UnmarshalText(data) != nil {
		t.Errorf("key is not an unencrypted minisign key:\n%s", data)
	}
	if _, err := minisign.PublicKeyFromFile(prefix + ".pub"); err != nil {
		t.Errorf("public key: %v", err)
	}
	before, _ := os.ReadFile(prefix + ".key")
	if err := GenerateKey(prefix, ""); err == nil {
		t.Error("GenerateKey overwrote an existing key")
	}
	if after, _ := os.ReadFile(prefix + ".key"); string(after) != string(before) {
		t.Error("existing key changed")
	}
}

func TestSignAndVerify(t *testing.T) {
	dir := tree(t, "1.2.0")
	key, pub := newKey(t)
	_, other := newKey(t)
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"", "1.2.0", "v1.2.0"} {
		m, err := checkDir(t, dir, []string{other, pub}, want)
		if err != nil {
			t.Fatalf("want %q: %v", want, err)
		}
		if m.Version != "1.2.0" || len(m.Files) != 4 {
			t.Errorf("manifest = %+v", m)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json"))
	m, _ := manifest.Parse(data)
	if canonical, _ := m.Marshal(); string(canonical) != string(data) {
		t.Error("the signed manifest is not in canonical form")
	}
	sig, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json.minisig"))
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil || s.Algorithm != minisign.HashEdDSA {
		t.Errorf("signature: algorithm %x, %v; want pre-hashed", s.Algorithm, err)
	}
	if !strings.Contains(s.TrustedComment, "file:hoist-release.json") {
		t.Errorf("trusted comment %q", s.TrustedComment)
	}
	// Signing again replaces the manifest and signature, not lists them.
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	if _, err := checkDir(t, dir, []string{pub}, ""); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDirRejects(t *testing.T) {
	key, pub := newKey(t)
	otherKey, _ := newKey(t)
	write := func(name, content string) func(dir string) {
		return func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		spoil   func(dir string)
		pubkeys []string
		want    string // wantVersion
		reason  string // part of the error
	}{
		{"content changed", write("app/config.yml", "port: 2\n"), nil, "", "app/config.yml: content changed"},
		{"extra file", write("app/extra", ""), nil, "", "app/extra: not in the manifest"},
		{"mode changed", func(dir string) { os.Chmod(filepath.Join(dir, "scripts/update/01-run.sh"), 0o644) }, nil, "",
			"mode 0644, want 0755"},
		{"manifest edited", func(dir string) {
			p := filepath.Join(dir, "hoist-release.json")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), "1.2.0", "1.2.1", 1)), 0o644)
		}, nil, "", "bad signature"},
		{"manifest missing", func(dir string) { os.Remove(filepath.Join(dir, "hoist-release.json")) }, nil, "", "release has no hoist-release.json"},
		{"manifest is a symlink", func(dir string) {
			os.Rename(filepath.Join(dir, "hoist-release.json"), filepath.Join(dir, "m.json"))
			os.Symlink("m.json", filepath.Join(dir, "hoist-release.json"))
		}, nil, "", "not a regular file"},
		{"signature missing", func(dir string) { os.Remove(filepath.Join(dir, "hoist-release.json.minisig")) }, nil, "", "release has no hoist-release.json.minisig"},
		{"signature garbage", write("hoist-release.json.minisig", "hello\n"), nil, "", "malformed signature"},
		{"signed by another key", func(dir string) {
			if err := Sign(context.Background(), dir, SignOptions{Keys: []string{otherKey}}); err != nil {
				t.Fatal(err)
			}
		}, nil, "", "not a trusted key"},
		{"untrusted key only", nil, []string{"RWQ" + strings.Repeat("A", 53)}, "", "not a trusted key"},
		{"malformed trusted key", nil, []string{"nonsense"}, "", "not a minisign public key"},
		{"wrong version", nil, nil, "1.3.0", "not the requested 1.3.0"},
		{"info.json disagrees", func(dir string) { resign(t, dir, key, "1.2.0", "9.9.9") }, nil, "", `says version "9.9.9"`},
		{"signed invalid manifest", func(dir string) {
			data := []byte(`{"app":"demo","version":"1.2.0","files":[{"path":"../x","sha256":"` + strings.Repeat("0", 64) + `","mode":"0644"}]}`)
			writeSigned(t, dir, key, data, binding{"demo", "1.2.0"})
		}, nil, "", "invalid manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, "1.2.0")
			signAndSpoil(t, dir, []string{key}, tt.spoil)
			pubkeys := tt.pubkeys
			if pubkeys == nil {
				pubkeys = []string{pub}
			}
			_, err := checkDir(t, dir, pubkeys, tt.want)
			if !errors.Is(err, exitcode.ErrRejected) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want rejected with %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// signAndSpoil signs the tree in dir with keys, then lets spoil, if any,
// damage it.
func signAndSpoil(t *testing.T, dir string, keys []string, spoil func(dir string)) {
	t.Helper()
	if err := Sign(context.Background(), dir, SignOptions{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	if spoil != nil {
		spoil(dir)
	}
}

// resign writes info.json with infoVersion but signs a manifest saying
// version: a maintainer's mistake that verification must catch.
func resign(t *testing.T, dir, key, version, infoVersion string) {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"`+infoVersion+`"}`), 0o644)
	m2, err := manifest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	m2.App, m2.Version = "demo", version
	data, err := m2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	writeSigned(t, dir, key, data, binding{"demo", version})
}

// writeSigned writes data as the manifest, signed by keyFile for b.
func writeSigned(t *testing.T, dir, keyFile string, data []byte, b binding) {
	t.Helper()
	key, err := LoadPrivateKey(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "hoist-release.json"), data, 0o644)
	sig := signData(key, data, b.comment("hoist-release.json", time.Now()))
	os.WriteFile(filepath.Join(dir, "hoist-release.json.minisig"), sig, 0o644)
}

func TestVerifyDirCancelled(t *testing.T) {
	dir := tree(t, "1.2.0")
	key, pub := newKey(t)
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := VerifyDir(ctx, root, []string{pub}, "")
	if !errors.Is(err, context.Canceled) || errors.Is(err, exitcode.ErrRejected) {
		t.Fatalf("err = %v, want context.Canceled and not a rejection", err)
	}
}

func TestSignErrors(t *testing.T) {
	key, _ := newKey(t)
	dir := tree(t, "1.0.0")
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{filepath.Join(t.TempDir(), "none.key")}}); err == nil {
		t.Error("signed with a missing key")
	}
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{filepath.Join(dir, "info.json")}}); err == nil {
		t.Error("signed with a file that is no key")
	}
	os.Symlink("/etc", filepath.Join(dir, "escape"))
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); !errors.Is(err, manifest.ErrInvalid) {
		t.Errorf("signed a tree with an escaping symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "hoist-release.json")); err == nil {
		t.Error("a failed Sign wrote a manifest")
	}
}

func TestSignRefusesFilesGitIgnores(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	key, _ := newKey(t)
	dir := tree(t, "1.0.0")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for p, content := range map[string]string{".gitignore": "build/\n*.log\n", "build/out.bin": "x", "app/x.log": "x", "keep.log": "x"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644)
	}
	git("add", "-f", "keep.log") // tracked although ignored: it will be committed
	err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}})
	if err == nil || !strings.Contains(err.Error(), "git ignores app/x.log, build/out.bin,") || strings.Contains(err.Error(), "keep.log") {
		t.Fatalf("err = %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "build"))
	os.Remove(filepath.Join(dir, "app/x.log"))
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
}

// minisignTool returns the path of the minisign CLI or skips the test.
func minisignTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		t.Skip("minisign not installed (.ci/run installs it)")
	}
	return p
}

func minisignRun(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command(minisignTool(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestMinisignInterop checks both directions with the minisign CLI: its
// unencrypted keys sign with hoist and it verifies hoist's signatures; hoist
// keys sign with minisign and hoist verifies its signatures, pre-hashed and
// legacy.
func TestMinisignInterop(t *testing.T) {
	minisignTool(t)
	keys := t.TempDir()
	pubFile, keyFile := filepath.Join(keys, "m.pub"), filepath.Join(keys, "m.key")
	minisignRun(t, "", "-G", "-W", "-p", pubFile, "-s", keyFile)

	dir := tree(t, "2.0.0")
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{keyFile}}); err != nil {
		t.Fatalf("hoist cannot sign with a minisign -G -W key: %v", err)
	}
	manifestFile := filepath.Join(dir, "hoist-release.json")
	minisignRun(t, "", "-V", "-p", pubFile, "-m", manifestFile)
	pub, err := ReadPublicKeyFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkDir(t, dir, []string{pub}, "2.0.0"); err != nil {
		t.Fatal(err)
	}

	hoistKey, hoistPub := newKey(t)
	for _, legacy := range []bool{false, true} {
		args := []string{"-S", "-s", hoistKey, "-m", manifestFile, "-t", "app:demo\tversion:2.0.0"}
		if legacy {
			args = append(args, "-l")
		}
		minisignRun(t, "", args...)
		if _, err := checkDir(t, dir, []string{hoistPub}, ""); err != nil {
			t.Fatalf("legacy=%v: hoist rejects minisign's signature by a hoist key: %v", legacy, err)
		}
	}
}

// TestEncryptedKeys checks password-protected keys both ways with the
// minisign CLI. Every key derivation costs minisign's scrypt parameters
// (1 GiB, 3-8 s), so this runs with HOIST_TEST_LONG=1 only; the everyday
// tests of cmd/hoist cover keygen and sign with --password-file.
func TestEncryptedKeys(t *testing.T) {
	if os.Getenv("HOIST_TEST_LONG") == "" {
		t.Skip("slow (scrypt); set HOIST_TEST_LONG=1")
	}
	minisignTool(t)
	dir := tree(t, "2.1.0")
	manifestFile := filepath.Join(dir, "hoist-release.json")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A hoist key: hoist signs with it, minisign decrypts it and signs too.
	prefix := filepath.Join(t.TempDir(), "enc")
	if err := GenerateKey(prefix, "s3cret pass"); err != nil {
		t.Fatal(err)
	}
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{prefix + ".key"}, PasswordFile: pwFile}); err != nil {
		t.Fatal(err)
	}
	minisignRun(t, "", "-V", "-p", prefix+".pub", "-m", manifestFile)
	minisignRun(t, "s3cret pass\n", "-S", "-s", prefix+".key", "-m", manifestFile, "-t", "app:demo\tversion:2.1.0")
	pub, _ := ReadPublicKeyFile(prefix + ".pub")
	if _, err := checkDir(t, dir, []string{pub}, ""); err != nil {
		t.Fatal(err)
	}

	// A minisign key with a password signs with hoist.
	keys := t.TempDir()
	minisignRun(t, "s3cret pass\ns3cret pass\n", "-G", "-p", filepath.Join(keys, "m.pub"), "-s", filepath.Join(keys, "m.key"))
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{filepath.Join(keys, "m.key")}, PasswordFile: pwFile}); err != nil {
		t.Fatal(err)
	}
	minisignRun(t, "", "-V", "-p", filepath.Join(keys, "m.pub"), "-m", manifestFile)
}
