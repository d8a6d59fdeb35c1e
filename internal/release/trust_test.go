package release

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

func TestSignApp(t *testing.T) {
	key, pub := newKey(t)
	tests := []struct {
		name, info, flag string
		want             string // the app signed, or part of the error
		ok               bool
	}{
		{"from info.json", `"app":"demo"`, "", "demo", true},
		{"from --app", `"name":"x"`, "shop-2", "shop-2", true},
		{"both agree", `"app":"demo"`, "demo", "demo", true},
		{"neither", `"name":"x"`, "", `no app id: give --app ID or an "app" field in info.json`, false},
		{"both differ", `"app":"demo"`, "shop", `--app "shop" differs from the app "demo" in info.json`, false},
		{"invalid --app", `"name":"x"`, "My App", "is not 1 to 64 of a-z", false},
		{"invalid in info.json", `"app":"Demo"`, "", "is not 1 to 64 of a-z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, "1.2.0")
			os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"1.2.0",`+tt.info+`}`), 0o644)
			err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}, App: tt.flag})
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				if _, err := os.Lstat(filepath.Join(dir, "hoist-release.json")); err == nil {
					t.Error("a refused Sign wrote a manifest")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := checkDir(t, dir, []string{pub}, "")
			if err != nil || m.App != tt.want {
				t.Fatalf("verified %+v, %v; want app %q", m, err, tt.want)
			}
			sig, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json.minisig"))
			var s minisign.Signature
			if err := s.UnmarshalText(sig); err != nil || !strings.HasSuffix(s.TrustedComment, "\tapp:"+tt.want+"\tversion:1.2.0") {
				t.Errorf("trusted comment %q, %v", s.TrustedComment, err)
			}
		})
	}
}

// TestVerifyBinding checks that a valid signature by a trusted key counts
// only for the app and version its trusted comment names.
func TestVerifyBinding(t *testing.T) {
	key, pub := newKey(t)
	signAs := func(b binding) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json"))
			writeSigned(t, dir, key, data, b)
		}
	}
	tests := []struct {
		name   string
		spoil  func(t *testing.T, dir string)
		reason string
	}{
		{"signed for another app", signAs(binding{"shop", "1.2.0"}), `is for app "shop" version "1.2.0", but hoist-release.json says app "demo" version "1.2.0"`},
		{"signed for another version", signAs(binding{"demo", "9.0.0"}), `is for app "demo" version "9.0.0"`},
		{"comment without binding", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json"))
			k, _ := LoadPrivateKey(key, "")
			os.WriteFile(filepath.Join(dir, "hoist-release.json.minisig"), signData(k, data, "timestamp:1\tfile:hoist-release.json\thashed"), 0o644)
		}, "names no app and version"},
		{"manifest without app", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json"))
			data = []byte(strings.Replace(string(data), `"app":"demo",`, "", 1))
			writeSigned(t, dir, key, data, binding{"demo", "1.2.0"})
		}, "hoist-release.json names no app"},
		{"signature moved from another app's manifest", func(t *testing.T, dir string) {
			other := tree(t, "1.2.0")
			os.WriteFile(filepath.Join(other, "info.json"), []byte(`{"version":"1.2.0","app":"shop"}`), 0o644)
			if err := Sign(context.Background(), other, SignOptions{Keys: []string{key}}); err != nil {
				t.Fatal(err)
			}
			sig, _ := os.ReadFile(filepath.Join(other, "hoist-release.json.minisig"))
			os.WriteFile(filepath.Join(dir, "hoist-release.json.minisig"), sig, 0o644)
		}, "bad signature"},
		{"info.json names another app", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"1.2.0","app":"shop"}`), 0o644)
			if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(filepath.Join(dir, "hoist-release.json"))
			data = []byte(strings.Replace(string(data), `"app":"shop"`, `"app":"demo"`, 1))
			writeSigned(t, dir, key, data, binding{"demo", "1.2.0"})
		}, `info.json says app "shop", the manifest "demo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, "1.2.0")
			if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, dir)
			_, err := checkDir(t, dir, []string{pub}, "")
			if !errors.Is(err, exitcode.ErrRejected) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want rejected with %q", err, tt.reason)
			}
		})
	}
}

// TestSignSeveralKeys checks that a release signed by several keys
// verifies with any one of them, and that minisign checks the first.
func TestSignSeveralKeys(t *testing.T) {
	keyA, pubA := newKey(t)
	keyB, pubB := newKey(t)
	_, pubC := newKey(t)
	dir := tree(t, "1.2.0")
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{keyA, keyB}}); err != nil {
		t.Fatal(err)
	}
	for _, pubkeys := range [][]string{{pubA}, {pubB}, {pubC, pubB}} {
		if _, err := checkDir(t, dir, pubkeys, ""); err != nil {
			t.Errorf("trusting %d keys: %v", len(pubkeys), err)
		}
	}
	if _, err := checkDir(t, dir, []string{pubC}, ""); !errors.Is(err, exitcode.ErrRejected) {
		t.Errorf("verified with an untrusted key only: %v", err)
	}
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{keyA, keyA}}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("signed twice with one key: %v", err)
	}
	if _, err := exec.LookPath("minisign"); err == nil {
		pubFile := filepath.Join(t.TempDir(), "a.pub")
		os.WriteFile(pubFile, []byte("untrusted comment: a\n"+pubA+"\n"), 0o644)
		minisignRun(t, "", "-V", "-p", pubFile, "-m", filepath.Join(dir, "hoist-release.json"))
	}
}

// TestSignKeyChange checks that sign signs hoist-keys.json before the
// manifest, which lists both, refuses a malformed one, and drops the
// signature of one that is gone.
func TestSignKeyChange(t *testing.T) {
	key, pub := newKey(t)
	dir := tree(t, "1.2.0")
	keyChange(t, dir, []string{pub}, nil)
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	m, err := checkDir(t, dir, []string{pub}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{KeysFile, KeysSignatureFile} {
		if _, ok := m.Lookup(name); !ok {
			t.Errorf("the manifest does not list %s", name)
		}
	}
	os.WriteFile(filepath.Join(dir, KeysFile), []byte(`{"add":["nonsense"]}`), 0o644)
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err == nil || !strings.Contains(err.Error(), "not a minisign public key") {
		t.Errorf("signed a malformed key change: %v", err)
	}
	os.Remove(filepath.Join(dir, KeysFile))
	if err := Sign(context.Background(), dir, SignOptions{Keys: []string{key}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, KeysSignatureFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale %s kept: %v", KeysSignatureFile, err)
	}
}

// keyChange writes hoist-keys.json into dir.
func keyChange(t *testing.T, dir string, add, revoke []string) {
	t.Helper()
	q := func(keys []string) string {
		if len(keys) == 0 {
			return "[]"
		}
		return `["` + strings.Join(keys, `","`) + `"]`
	}
	if err := os.WriteFile(filepath.Join(dir, KeysFile), []byte(`{"add":`+q(add)+`,"revoke":`+q(revoke)+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFiles(t *testing.T, dir string) Files {
	t.Helper()
	f, err := ReadFiles(func(name string, _ int64) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAdopt(t *testing.T) {
	keyA, pubA := newKey(t)
	keyB, pubB := newKey(t)
	keyC, pubC := newKey(t)
	tests := []struct {
		name    string
		keys    []string // signing keys
		add     []string // nil and revoke nil: no key change
		revoke  []string
		spoil   func(dir string)
		trusted []string // the node's keys; default {pubA}
		want    []string // keys after; nil: rejected
		reason  string
	}{
		{name: "no key change", keys: []string{keyA}, want: []string{pubA}},
		{name: "rotate A to B", keys: []string{keyA, keyB}, add: []string{pubB}, revoke: []string{pubA}, want: []string{pubB}},
		{name: "add B", keys: []string{keyA}, add: []string{pubB}, want: []string{pubA, pubB}},
		{name: "already adopted", keys: []string{keyA, keyB}, add: []string{pubB}, revoke: []string{pubA}, trusted: []string{pubB}, want: []string{pubB}},
		{name: "revoke the only key, release signed by it only", keys: []string{keyA}, add: []string{pubB}, revoke: []string{pubA},
			reason: "no trusted key would have signed this release"},
		{name: "revoke every key", keys: []string{keyA}, revoke: []string{pubA}, reason: "revokes every trusted key"},
		{name: "signed by a second trusted key only", keys: []string{keyC}, add: []string{pubB}, trusted: []string{pubA, pubC}, want: []string{pubA, pubC, pubB}},
		{name: "key change not by a trusted key", keys: []string{keyA}, add: []string{pubC}, spoil: func(dir string) {
			k, _ := LoadPrivateKey(keyC, "")
			data, _ := os.ReadFile(filepath.Join(dir, KeysFile))
			os.WriteFile(filepath.Join(dir, KeysSignatureFile), signData(k, data, binding{"demo", "1.2.0"}.comment(KeysFile, time.Now())), 0o644)
		}, reason: "which is not a trusted key"},
		{name: "key change signed for another version", keys: []string{keyA}, add: []string{pubB}, spoil: func(dir string) {
			k, _ := LoadPrivateKey(keyA, "")
			data, _ := os.ReadFile(filepath.Join(dir, KeysFile))
			os.WriteFile(filepath.Join(dir, KeysSignatureFile), signData(k, data, binding{"demo", "1.0.0"}.comment(KeysFile, time.Now())), 0o644)
		}, reason: `the signature of hoist-keys.json is for app "demo" version "1.0.0"`},
		{name: "key change edited after signing", keys: []string{keyA}, add: []string{pubB}, spoil: func(dir string) {
			keyChange(t, dir, []string{pubC}, nil)
		}, reason: "hoist-keys.json differs from the manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, "1.2.0")
			if tt.add != nil || tt.revoke != nil {
				keyChange(t, dir, tt.add, tt.revoke)
			}
			signAndSpoil(t, dir, tt.keys, tt.spoil)
			trusted := tt.trusted
			if trusted == nil {
				trusted = []string{pubA}
			}
			got, err := Adopt(trusted, readFiles(t, dir))
			if tt.want == nil {
				if !errors.Is(err, exitcode.ErrRejected) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("err = %v, want rejected with %q", err, tt.reason)
				}
				return
			}
			if err != nil || got.App != "demo" || !slices.Equal(got.Pubkeys, tt.want) {
				t.Fatalf("Adopt = %+v, %v; want %d keys", got, err, len(tt.want))
			}
		})
	}
}
