package settings

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func openDir(t *testing.T) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

func TestLoadMissingIsDefaults(t *testing.T) {
	root, _ := openDir(t)
	s, err := Load(root, Defaults(true))
	if err != nil {
		t.Fatal(err)
	}
	if !s.AutoUpdate || s.Channel != Stable || s.Window.IsZero() == false || len(s.Skip) != 0 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	root, dir := openDir(t)
	s, err := Defaults(false).Apply([]byte(`{"auto_update":true,"window":"23:00-02:00","channel":"beta","skip":["1.2.0","v1.2.0","v1.3.0-beta.1"],"notify":["ntfy://user:pw@ntfy.sh/topic?priority=high"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(root, s); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, Name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	got, err := Load(root, Defaults(false))
	if err != nil {
		t.Fatal(err)
	}
	if !got.AutoUpdate || got.Window.String() != "23:00-02:00" || got.Channel != Beta ||
		!slices.Equal(got.Skip, []string{"v1.2.0", "v1.3.0-beta.1"}) || !slices.Equal(got.Notify, s.Notify) {
		t.Errorf("loaded %+v", got)
	}
	if !got.Skips("1.2.0") || !got.Skips("v1.3.0-beta.1") || got.Skips("1.2.1") {
		t.Error("Skips")
	}
}

func TestApplyRefuses(t *testing.T) {
	for _, body := range []string{
		`{"autoupdate":true}`,
		`{"window":"3-5"}`,
		`{"window":"03:00-03:00"}`,
		`{"channel":"nightly"}`,
		`{"channel":""}`,
		`{"skip":["latest"]}`,
		`{"notify":["not a url"]}`,
		`{"notify":["https://"]}`,
		`{"notify":["/relative/path"]}`,
		`{"auto_update":"yes"}`,
		`{"auto_update":true} {}`,
		`[]`,
	} {
		if _, err := Defaults(false).Apply([]byte(body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Apply(%s) = %v, want ErrInvalid", body, err)
		}
	}
}

func TestLoadRefusesUnknownKeys(t *testing.T) {
	root, dir := openDir(t)
	if err := os.WriteFile(filepath.Join(dir, Name), []byte(`{"auto_update":true,"extra":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, Defaults(false)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load = %v", err)
	}
}

func TestRedacted(t *testing.T) {
	tests := map[string]string{
		"ntfy://user:pw@ntfy.sh/topic?priority=high": "ntfy://***@ntfy.sh/***?***",
		"discord://token@123456":                     "discord://***@123456",
		"gotify://gotify.example.com/AbCdEf":         "gotify://gotify.example.com/***",
		"generic+https://hooks.example.com":          "generic+https://hooks.example.com",
	}
	for in, want := range tests {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	s := Settings{Channel: Stable, Notify: []string{"ntfy://user:pw@ntfy.sh/topic"}}
	if r := s.Redacted(); r.Notify[0] != "ntfy://***@ntfy.sh/***" || s.Notify[0] != "ntfy://user:pw@ntfy.sh/topic" {
		t.Errorf("Redacted: %v, original %v", r.Notify, s.Notify)
	}
}

func TestApplyKeepsRedactedURLs(t *testing.T) {
	s := Defaults(false)
	s.Notify = []string{"ntfy://a:secret1@ntfy.sh/one", "ntfy://b:secret2@ntfy.sh/two"}
	// What GET showed, reordered, plus a new URL.
	got, err := s.Apply([]byte(`{"notify":["ntfy://***@ntfy.sh/***","discord://tok@42","ntfy://***@ntfy.sh/***"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ntfy://a:secret1@ntfy.sh/one", "discord://tok@42", "ntfy://b:secret2@ntfy.sh/two"}
	if !slices.Equal(got.Notify, want) {
		t.Errorf("notify = %v, want %v", got.Notify, want)
	}
	// Keys not given stay.
	if got.Channel != Stable || got.AutoUpdate {
		t.Errorf("other keys changed: %+v", got)
	}
}

// Root editing the file (hoist settings) leaves it to the manager's user.
func TestSaveKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	root, dir := openDir(t)
	if err := os.Chown(dir, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a new file, then a replaced one
		if err := Save(root, Defaults(true)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, Name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
			t.Errorf("owner %d:%d, want 4321:4322", st.Uid, st.Gid)
		}
		if err := os.Chown(dir, 0, 0); err != nil { // the file's owner counts now
			t.Fatal(err)
		}
	}
}
