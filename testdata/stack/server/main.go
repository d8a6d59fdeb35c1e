// Command stack-server is one service of the sample stack that the docker
// end-to-end test and `make demo-docker` install with hoist. It answers its
// name and the version of the release it was built from, so a test can tell
// which release is really running.
//
// The version is read at start from /info.json, the release's own info.json
// that 01-run.sh copies into the image: what the service answers comes from
// the files hoist installed, not from an argument that could lie.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "web", "service name to answer")
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	info := flag.String("info", "/info.json", "the release's info.json")
	unhealthy := flag.Bool("unhealthy", false, "answer 503 on /healthz, as a broken release would")
	flag.Parse()
	// As PID 1 in a container a signal without a handler is ignored, so
	// SIGTERM is handled explicitly: `docker stop` must not wait 10s.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *name, *listen, *info, *unhealthy); err != nil {
		fmt.Fprintln(os.Stderr, "stack-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name, listen, infoPath string, unhealthy bool) error {
	version, err := readVersion(infoPath)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              listen,
		Handler:           handler(name, version, unhealthy),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("%s %s listening on %s\n", name, version, listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func readVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var info struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(f, 64<<10)).Decode(&info); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if info.Version == "" {
		return "", fmt.Errorf("%s: no version", path)
	}
	return info.Version, nil
}

// handler answers / with {"service","version"} and /healthz with
// "ok VERSION" (or 503 when unhealthy).
func handler(name, version string, unhealthy bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"service": name, "version": version})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if unhealthy {
			http.Error(w, "unhealthy "+version, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok %s\n", version)
	})
	return mux
}
