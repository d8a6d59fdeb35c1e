package manager

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// promDir holds the Prometheus example, rules and dashboard.
var promDir = filepath.Join("..", "..", "deploy", "prometheus")

// The example config, the rules and their unit tests pass promtool
// (Debian's prometheus package; .ci/run installs it).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (.ci/run installs the prometheus package)")
	}
	// The example names its token file where a real node keeps it; check a
	// copy that points at a token file that exists.
	dir := t.TempDir()
	for _, name := range []string{"prometheus.yml", "hoist-rules.yml", "hoist-rules.test.yml"} {
		data, err := os.ReadFile(filepath.Join(promDir, name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "/etc/prometheus/hoist-token", filepath.Join(dir, "hoist-token"))
		writeFile(t, filepath.Join(dir, name), text)
	}
	writeFile(t, filepath.Join(dir, "hoist-token"), testToken)
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "hoist-rules.yml"},
		{"test", "rules", "hoist-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every metric the rules and the dashboard use is one a real manager
// serves, so they cannot drift apart from the code.
func TestRulesUseServedMetrics(t *testing.T) {
	served := map[string]bool{}
	metricType := regexp.MustCompile(`(?m)^# TYPE (\S+) `)
	// One node inside the rollout (behind), one outside (held), both with a
	// failed update, and one on a static repository (its metadata's
	// expiry): together they show every metric.
	scrape := func(root, releases string) {
		s := start(t, root, releases, options{})
		call(t, "GET", s.url+"/v1/system/get-update", testToken, "")
		_, _, body := call(t, "GET", s.url+"/metrics", testToken, "")
		for _, m := range metricType.FindAllStringSubmatch(body, -1) {
			served[m[1]] = true
		}
	}
	for _, inside := range []bool{true, false} {
		root, _ := rootOn1(t, inside)
		managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Description: "boom"})
		scrape(root, phasedRepo(t).FileURL())
	}
	staticRoot := managertest.NewRoot(t, "1.0.0")
	scrape(staticRoot, staticSite(t, staticRoot))
	used := regexp.MustCompile(`\bhoist_manager_[a-z_]+`)
	for _, name := range []string{"hoist-rules.yml", "grafana-dashboard.json"} {
		data, err := os.ReadFile(filepath.Join(promDir, name))
		if err != nil {
			t.Fatal(err)
		}
		names := used.FindAllString(string(data), -1)
		if len(names) == 0 {
			t.Fatalf("%s uses no hoist_manager_ metric", name)
		}
		for _, n := range names {
			if !served[n] {
				t.Errorf("%s uses %s, which the manager does not serve", name, n)
				served[n] = true // once is enough
			}
		}
	}
}
