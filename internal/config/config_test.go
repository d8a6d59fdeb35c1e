package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".hoist"), 0o700)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	want := Default("file:///srv/repo", []string{"RWQkey", "RWQkey2"})
	want.App = "demo"
	if err := Save(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repo != want.Repo || got.App != "demo" || len(got.Pubkeys) != 2 || time.Duration(got.ScriptTimeout) != 30*time.Minute || got.KeepBackups != 2 {
		t.Errorf("got %+v", got)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ".hoist/config.json"))
	// stall_timeout is optional: init does not write it (CONTRACT §2).
	if !strings.Contains(string(raw), `"script_timeout": "30m"`) || strings.Contains(string(raw), "stall_timeout") {
		t.Errorf("config.json = %s", raw)
	}
}

func TestValidate(t *testing.T) {
	ok := Default("r", []string{"k"})
	bad := []func(*Config){
		func(c *Config) { c.Repo = "" },
		func(c *Config) { c.Pubkeys = nil },
		func(c *Config) { c.KeepBackups = 0 },
		func(c *Config) { c.ScriptTimeout = 0 },
		func(c *Config) { c.App = "My App" },
		func(c *Config) { c.App = "-x" },
		func(c *Config) { c.Kind = "tuf" },
		func(c *Config) { c.TargetsURL = "https://example.com/dl/" }, // git repo
		func(c *Config) { c.Kind, c.TargetsURL = KindStatic, "ftp://example.com/" },
		func(c *Config) { c.Kind, c.TargetsURL = KindStatic, "https://user:pw@example.com/" },
		func(c *Config) { n := -1; c.DownloadRetries = &n },
		func(c *Config) { n := MaxDownloadRetries + 1; c.DownloadRetries = &n },
	}
	for _, p := range []string{"/data/", "", " ", "../data/", "data/../../etc", ".", "./"} {
		bad = append(bad, func(c *Config) { c.Protect = []string{"data/", p} })
	}
	for i, mutate := range bad {
		c := ok
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config accepted: %+v", i, c)
		}
	}
}

func TestStaticKeys(t *testing.T) {
	c := Default("https://example.com/releases/", []string{"k"})
	if c.Static() || c.FetchRetries() != 0 {
		t.Errorf("default config: static %v, retries %d", c.Static(), c.FetchRetries())
	}
	zero, three := 0, 3
	c.Kind, c.TargetsURL, c.DownloadRetries = KindStatic, "https://github.com/o/r/releases/download/", &zero
	if err := c.Validate(); err != nil || !c.Static() || c.FetchRetries() != -1 {
		t.Errorf("static config: %v, static %v, retries %d", err, c.Static(), c.FetchRetries())
	}
	if c.DownloadRetries = &three; c.FetchRetries() != 3 {
		t.Errorf("download_retries 3: %d", c.FetchRetries())
	}
}

// TestStallTimeout loads config.json files that differ only in
// stall_timeout.
func TestStallTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		want        time.Duration // 0: Load must fail
		errHas      string
	}{
		{name: "absent", field: "", want: 0}, // fetch's default
		{name: "valid", field: `"30s"`, want: 30 * time.Second},
		{name: "lowest", field: `"5s"`, want: 5 * time.Second},
		{name: "highest", field: `"1h"`, want: time.Hour},
		{name: "too small", field: `"1s"`, errHas: "stall_timeout is 1s, must be between 5s and 1h0m0s"},
		{name: "zero", field: `"0s"`, errHas: "stall_timeout is 0s"},
		{name: "negative", field: `"-1m"`, errHas: "stall_timeout is -1m0s"},
		{name: "too large", field: `"2h"`, errHas: "stall_timeout is 2h0m0s"},
		{name: "garbage", field: `"soon"`, errHas: `invalid duration "soon" (a duration is a string like "30m")`},
		{name: "number", field: `120`, errHas: `duration must be a string like "30m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			field := ""
			if tc.field != "" {
				field = `, "stall_timeout": ` + tc.field
			}
			c, err := loadWith(t, field)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want it to say %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.FetchStallTimeout(); got != tc.want {
				t.Errorf("stall timeout = %s, want %s", got, tc.want)
			}
		})
	}
}

// loadWith loads a valid config.json with extra added to its fields.
func loadWith(t *testing.T, extra string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".hoist"), 0o700)
	data := `{"repo": "file:///r", "pubkeys": ["k"], "keep_backups": 2, "protect": [], "script_timeout": "30m"` + extra + "}"
	if err := os.WriteFile(filepath.Join(dir, ".hoist/config.json"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	return Load(root)
}

// TestMaxReleaseBytes loads config.json files that differ only in
// max_release_bytes.
func TestMaxReleaseBytes(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		want        int64 // 0: fetch's default
		errHas      string
	}{
		{name: "absent", field: ""},
		{name: "valid", field: `, "max_release_bytes": 104857600`, want: 100 << 20},
		{name: "zero", field: `, "max_release_bytes": 0`, errHas: "max_release_bytes is 0, must be positive"},
		{name: "negative", field: `, "max_release_bytes": -1`, errHas: "max_release_bytes is -1"},
		{name: "not a number", field: `, "max_release_bytes": "1G"`, errHas: "max_release_bytes"},
	} {
		c, err := loadWith(t, tc.field)
		switch {
		case tc.errHas != "":
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.errHas)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case c.FetchMaxBytes() != tc.want:
			t.Errorf("%s: limit %d, want %d", tc.name, c.FetchMaxBytes(), tc.want)
		}
	}
}

// TestLoadRefusesBadProtect: a config whose protect entry would protect
// nothing does not load, and the error names the entry.
func TestLoadRefusesBadProtect(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".hoist"), 0o700)
	data := `{"repo": "file:///r", "pubkeys": ["k"], "keep_backups": 2, "protect": ["/data/"], "script_timeout": "30m"}`
	os.WriteFile(filepath.Join(dir, ".hoist/config.json"), []byte(data), 0o600)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = Load(root)
	if err == nil || !strings.Contains(err.Error(), `protect entry "/data/" is absolute`) {
		t.Errorf("Load: %v", err)
	}
}
