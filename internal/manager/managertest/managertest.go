// Package managertest holds test fixtures for the unprivileged side (the
// manager, discovery and the user commands): the brief's release chain, an
// app root as the manager sees it, a status writer playing the engine, and
// release servers that are down or stall.
package managertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// WalkReleases is the requires chain of the brief: 2.0.0 requires >=1.5.0,
// which requires >=0.9.0, so 0.9.0 updates to 1.5.0 first.
func WalkReleases() []releaserepo.Release {
	return []releaserepo.Release{
		{Version: "0.9.0", Name: "Nine"},
		{Version: "1.5.0", Name: "Bridge", Notes: "A step on the way to 2.0.0.\nMigrates the database.", Requires: ">=0.9.0"},
		{Version: "2.0.0", Name: "Two", Notes: "The big one", Requires: ">=1.5.0"},
	}
}

// NewRoot makes what the manager sees of an app root in Docker: statuses/,
// events/signals/ and, unless installed is "", the engine's copy of the live
// info.json in statuses/.
func NewRoot(t testing.TB, installed string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"statuses", "events/signals"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o770); err != nil {
			t.Fatal(err)
		}
	}
	if installed != "" {
		info := fmt.Sprintf(`{"version":%q,"name":"installed"}`, installed)
		if err := os.WriteFile(filepath.Join(dir, "statuses/info.json"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// WriteStatus plays the engine: it replaces root's status file atomically.
func WriteStatus(t testing.TB, root string, st statusfile.Status) {
	t.Helper()
	dir := statuses(t, root)
	defer dir.Close()
	if err := statusfile.Write(dir, st); err != nil {
		t.Fatal(err)
	}
}

// WriteRollback plays the engine: it writes root's statuses/rollback.json.
func WriteRollback(t testing.TB, root string, s rollbackfile.State) {
	t.Helper()
	dir := statuses(t, root)
	defer dir.Close()
	if err := rollbackfile.Write(dir, s); err != nil {
		t.Fatal(err)
	}
}

// ReadStatus returns root's status.
func ReadStatus(t testing.TB, root string) statusfile.Status {
	t.Helper()
	dir := statuses(t, root)
	defer dir.Close()
	st, err := statusfile.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func statuses(t testing.TB, root string) *os.Root {
	t.Helper()
	dir, err := os.OpenRoot(filepath.Join(root, "statuses"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// ClosedPort returns a loopback address nobody listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// StallingListener returns the address of a listener that accepts
// connections and never answers, until the test ends.
func StallingListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// WriteNodeID plays root: it gives the app root a node id for which want
// holds (e.g. "outside a 50 % rollout of 1.1.0") in statuses/node-id, and
// returns it. The ids are fixed, so a failure can be replayed.
func WriteNodeID(t testing.TB, root string, want func(id string) bool) string {
	t.Helper()
	for i := range 1000 {
		sum := sha256.Sum256(fmt.Appendf(nil, "test node %d", i))
		id := hex.EncodeToString(sum[:16])
		if !want(id) {
			continue
		}
		if err := os.WriteFile(filepath.Join(root, "statuses/node-id"), []byte(id+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return id
	}
	t.Fatal("no node id among 1000 meets the condition")
	return ""
}
