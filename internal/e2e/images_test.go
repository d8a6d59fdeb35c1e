package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// TestManagerImagePerArch builds the manager image for Raspberry Pis from
// the cross-built binaries, with no emulation, and checks that Docker
// labels each image with its platform, which is what a Pi's docker load and
// docker run go by.
func TestManagerImagePerArch(t *testing.T) {
	d := startDockerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := filepath.Join(repoRoot(t), "deploy", "build-image.sh")
	for _, tt := range []struct{ arch, platform string }{
		{"arm64", "arm64"},
		{"armv7", "arm/v7"},
	} {
		bin := filepath.Dir(testbin.CrossDir(t, tt.arch))
		out := run(t, append(d.env(), "HOIST_BIN="+bin), script, "--arch", tt.arch)
		tag := "hoist-manager:" + tt.arch
		if !strings.Contains(out, "built "+tag+" for linux/"+tt.platform) {
			t.Errorf("build-image.sh --arch %s: %s", tt.arch, out)
		}
		got, err := d.docker(ctx, "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}", tag)
		if err != nil {
			t.Fatal(err)
		}
		if got = strings.TrimSpace(got); got != "linux/"+tt.platform {
			t.Errorf("%s is for %s, want linux/%s", tag, got, tt.platform)
		}
	}
}
