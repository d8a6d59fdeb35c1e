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
	want := Default("file:///srv/repo", []string{"RWQkey"})
	if err := Save(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repo != want.Repo || time.Duration(got.ScriptTimeout) != 30*time.Minute || got.KeepBackups != 2 {
		t.Errorf("got %+v", got)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ".hoist/config.json"))
	if !strings.Contains(string(raw), `"script_timeout": "30m"`) {
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
	}
	for i, mutate := range bad {
		c := ok
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config accepted", i)
		}
	}
}
