package tufclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/objfetch"
)

// TestHTTPClientKeepsParallelConnections: downloading many objects
// objfetch.DefaultParallel at a time reuses about that many connections,
// instead of opening a new one every few objects.
func TestHTTPClientKeepsParallelConnections(t *testing.T) {
	body := bytes.Repeat([]byte("an object "), 4<<10)
	sum := sha256.Sum256(body)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // the downloads overlap, as over a network
		w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	var objs []objfetch.Object
	for i := range 200 {
		objs = append(objs, objfetch.Object{URL: fmt.Sprintf("%s/objects/%d", srv.URL, i), Size: int64(len(body)),
			SHA256: hex.EncodeToString(sum[:]), Partial: filepath.Join(dir, fmt.Sprint(i))})
	}
	c := objfetch.New(objfetch.Options{HTTP: NewHTTPClient(0)})
	if err := c.GetAll(context.Background(), objs, 0, nil); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n > 2*objfetch.DefaultParallel {
		t.Errorf("%d objects took %d connections, want at most %d", len(objs), n, 2*objfetch.DefaultParallel)
	}
}
