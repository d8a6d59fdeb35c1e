package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

// runHoist runs one command line through run and returns its exit code, stdout
// and stderr.
func runHoist(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// releaseTree writes a release work tree of version and returns its dir.
func releaseTree(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range map[string]string{
		"info.json":      `{"version":"` + version + `","name":"demo","app":"demo"}`,
		"app/config.yml": "port: 1\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, p), 0o644)
	}
	return dir
}

func TestReleaseKeygenSignVerify(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "rel")
	code, out, errOut := runHoist(t, "release", "keygen", "--out", prefix)
	if code != 0 || !strings.Contains(out, "public key: RW") {
		t.Fatalf("keygen: exit %d, %q, %q", code, out, errOut)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if code, _, _ := runHoist(t, "release", "keygen", "--out", prefix); code != exitcode.Failure {
		t.Errorf("keygen over an existing key: exit %d", code)
	}

	dir := releaseTree(t, "1.4.0")
	if code, out, errOut := runHoist(t, "release", "sign", "--key", prefix+".key", dir); code != 0 {
		t.Fatalf("sign: exit %d, %q, %q", code, out, errOut)
	}
	if minisign, err := exec.LookPath("minisign"); err == nil {
		cmd := exec.Command(minisign, "-V", "-p", prefix+".pub", "-m", filepath.Join(dir, "hoist-release.json"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("minisign -V rejects hoist's signature: %v\n%s", err, out)
		}
	}
	code, out, errOut = runHoist(t, "release", "verify", "--pub", prefix+".pub", dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "1.4.0") {
		t.Fatalf("verify: exit %d, %q, %q", code, out, errOut)
	}

	os.WriteFile(filepath.Join(dir, "app/config.yml"), []byte("port: 2\n"), 0o644)
	code, out, errOut = runHoist(t, "release", "verify", "--pub", prefix+".pub", dir)
	if code != exitcode.Rejected || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "app/config.yml: content changed") {
		t.Fatalf("verify of a changed tree: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestReleaseSignAppAndKeys signs with --app and two keys, verifies with
// either, and shows the key change a release carries.
func TestReleaseSignAppAndKeys(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	for _, prefix := range []string{a, b} {
		if code, _, errOut := runHoist(t, "release", "keygen", "--out", prefix); code != 0 {
			t.Fatal(errOut)
		}
	}
	dir := releaseTree(t, "1.5.0")
	os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"1.5.0"}`), 0o644)
	code, _, errOut := runHoist(t, "release", "sign", "--key", a+".key", dir)
	if code != exitcode.Failure || !strings.Contains(errOut, `no app id: give --app ID or an "app" field in info.json`) {
		t.Fatalf("sign without an app: exit %d, %q", code, errOut)
	}
	pubB, _ := os.ReadFile(b + ".pub")
	pubA, _ := os.ReadFile(a + ".pub")
	keyLine := func(pub []byte) string { return strings.Split(strings.TrimSpace(string(pub)), "\n")[1] }
	keys := `{"add":["` + keyLine(pubB) + `"],"revoke":["` + keyLine(pubA) + `"]}`
	os.WriteFile(filepath.Join(dir, "hoist-keys.json"), []byte(keys), 0o644)
	if code, out, errOut := runHoist(t, "release", "sign", "--key", a+".key", "--key", b+".key", "--app", "shop", dir); code != 0 || !strings.Contains(out, "2 key(s)") {
		t.Fatalf("sign: exit %d, %q, %q", code, out, errOut)
	}
	for _, pub := range []string{a, b} {
		code, out, errOut := runHoist(t, "release", "verify", "--pub", pub+".pub", "--app", "shop", dir)
		if code != 0 || !strings.Contains(out, "release 1.5.0 of app shop") {
			t.Fatalf("verify with %s: exit %d, %q, %q", filepath.Base(pub), code, out, errOut)
		}
		if pub == a && !strings.Contains(out, "makes the node trust:\n  "+keyLine(pubB)+"\n") {
			t.Errorf("verify does not show the key change: %q", out)
		}
	}
	code, _, errOut = runHoist(t, "release", "verify", "--pub", a+".pub", "--app", "demo", dir)
	if code != exitcode.Rejected || !strings.Contains(errOut, `is a release of app "shop", not "demo"`) {
		t.Fatalf("verify --app demo: exit %d, %q", code, errOut)
	}
}

func TestReleaseVerifyFailures(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "rel")
	if code, _, errOut := runHoist(t, "release", "keygen", "--out", prefix); code != 0 {
		t.Fatal(errOut)
	}
	unsigned := releaseTree(t, "1.0.0")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"unsigned tree", []string{"--pub", prefix + ".pub", unsigned}, exitcode.Rejected},
		{"missing dir", []string{"--pub", prefix + ".pub", filepath.Join(unsigned, "nope")}, exitcode.Failure},
		{"missing key", []string{"--pub", prefix + ".nope", unsigned}, exitcode.Failure},
		{"secret key as public key", []string{"--pub", prefix + ".key", unsigned}, exitcode.Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runHoist(t, append([]string{"release", "verify"}, tt.args...)...)
			if code != tt.code || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
		})
	}
}

// TestReleaseEncryptedKey costs two scrypt derivations with minisign's
// parameters (several seconds each).
func TestReleaseEncryptedKey(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	pw := filepath.Join(tmp, "pw")
	os.WriteFile(pw, []byte("correct horse\n"), 0o600)
	prefix := filepath.Join(tmp, "enc")
	if code, _, errOut := runHoist(t, "release", "keygen", "--out", prefix, "--password-file", pw); code != 0 {
		t.Fatalf("keygen: %s", errOut)
	}
	dir := releaseTree(t, "3.0.0")
	code, _, errOut := runHoist(t, "release", "sign", "--key", prefix+".key", dir)
	if code != exitcode.Failure || !strings.Contains(errOut, "--password-file") {
		t.Errorf("sign with an encrypted key and no password: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHoist(t, "release", "sign", "--key", prefix+".key", "--password-file", pw, dir); code != 0 {
		t.Fatalf("sign: %s", errOut)
	}
	if code, _, errOut := runHoist(t, "release", "verify", "--pub", prefix+".pub", dir); code != 0 {
		t.Fatalf("verify: %s", errOut)
	}
}

func TestReleaseUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"release"}, exitcode.Usage},
		{[]string{"release", "nonsense"}, exitcode.Usage},
		{[]string{"release", "keygen"}, exitcode.Usage},
		{[]string{"release", "keygen", "--out", "x", "extra"}, exitcode.Usage},
		{[]string{"release", "sign", "dir"}, exitcode.Usage},
		{[]string{"release", "sign", "--key", "k"}, exitcode.Usage},
		{[]string{"release", "verify", "--pub", "p"}, exitcode.Usage},
		{[]string{"release", "verify", "--pub", "p", "a", "b"}, exitcode.Usage},
		{[]string{"release", "verify", "--bogus", "dir"}, exitcode.Usage},
		{[]string{"release", "--help"}, exitcode.OK},
		{[]string{"release", "sign", "--help"}, exitcode.OK},
		{[]string{"release", "keygen", "-h"}, exitcode.OK},
	}
	for _, tt := range tests {
		if code, _, errOut := runHoist(t, tt.args...); code != tt.code {
			t.Errorf("hoist %q: exit %d, want %d (%s)", tt.args, code, tt.code, errOut)
		}
	}
}
