package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestRepoToken serves the releases as a private repository that demands
// basic auth with a token: apply fails without token_file, refuses a
// token_file others can read, and installs with it. Credentials put into
// the repo URL instead never reach the status file, its failure report
// or the log.
func TestRepoToken(t *testing.T) {
	const token = "ghp_RepoToken0123456789"
	repo := releaserepo.New(t, releaserepo.DefaultReleases()[:2]...)
	url := repo.ServeHTTPAuth(t, token)
	f := newFixtureAt(t, filepath.Join(t.TempDir(), "app"), repo)
	noLeak := func(what string, r fmt.Stringer, secrets ...string) {
		t.Helper()
		texts := map[string]string{"output": r.String()}
		public, _ := filepath.Glob(f.path("statuses/*")) // all the manager can read
		for _, name := range public {
			data, _ := os.ReadFile(name)
			texts[name] = string(data)
		}
		for name, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s: %s shows %q:\n%s", what, name, s, text)
				}
			}
		}
	}

	// Credentials in the URL: refused by the server, and never shown.
	leaky := strings.Replace(url, "http://", "http://ghp_UserToken@", 1) + "?access_token=QuerySecret"
	f.editConfig(func(c *config.Config) { c.Repo = leaky })
	r := f.hoist("apply", "--to", "v1.0.0")
	if r.Code == 0 || f.status().State != statusfile.Failed {
		t.Fatalf("apply from a private repository without a token: %s", r)
	}
	noLeak("URL with credentials", r, "ghp_UserToken", "QuerySecret")

	f.editConfig(func(c *config.Config) { c.Repo = url })
	tokenFile := filepath.Join(t.TempDir(), "repo-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.editConfig(func(c *config.Config) { c.TokenFile = tokenFile })
	if r := f.hoist("apply", "--to", "v1.0.0"); r.Code == 0 || !strings.Contains(r.Stderr, "chmod 600") {
		t.Errorf("apply with a world-readable token_file: %s", r)
	}

	os.Chmod(tokenFile, 0o600)
	noLeak("first install", f.must("apply", "--to", "v1.0.0"), token)
	noLeak("update", f.must("apply", "--to", "v1.1.0"), token) // an incremental fetch
	if got := f.read("info.json"); !strings.Contains(got, `"1.1.0"`) {
		t.Errorf("info.json = %s", got)
	}
}
