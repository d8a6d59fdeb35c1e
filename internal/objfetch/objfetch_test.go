package objfetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestMisbehavingServers runs Get against servers that break the rules in
// the ways a static host, a CDN or an attacker in the path can.
func TestMisbehavingServers(t *testing.T) {
	o := newObject(t, 256<<10)
	half := len(o.data) / 2
	tampered := append([]byte(nil), o.data...)
	tampered[len(tampered)-1] ^= 1
	longer := append(append([]byte(nil), o.data...), "more"...)

	tests := []misbehaviour{{
		name:     "whole object",
		handlers: []handler{serve(o)},
		want:     []logged{{"", 200, o.size()}},
	}, {
		name:     "connection dropped mid-object resumes with Range",
		handlers: []handler{dropAfter(o, half), serve(o)},
		want:     []logged{{"", 200, int64(half)}, {fmt.Sprintf("bytes=%d-", half), 206, o.size() - int64(half)}},
	}, {
		name:     "partial file of an earlier run resumes with Range",
		handlers: []handler{serve(o)},
		partial:  o.data[:half],
		want:     []logged{{fmt.Sprintf("bytes=%d-", half), 206, o.size() - int64(half)}},
	}, {
		name:     "complete partial file needs no request",
		handlers: []handler{serve(o)},
		partial:  o.data,
	}, {
		name:     "server without Range support: the object restarts from byte 0",
		rewinds:  true,
		handlers: []handler{serveBody(o.data)},
		partial:  o.data[:half],
		want:     []logged{{fmt.Sprintf("bytes=%d-", half), 200, o.size()}},
	}, {
		name:     "dropped twice without Range support",
		rewinds:  true,
		handlers: []handler{dropAfter(o, half), dropAfter(o, half/2), serveBody(o.data)},
		want: []logged{{"", 200, int64(half)}, {fmt.Sprintf("bytes=%d-", half), 200, int64(half / 2)},
			{fmt.Sprintf("bytes=%d-", half/2), 200, o.size()}},
	}, {
		name:     "torn partial file: a hash mismatch after a resume earns one download from byte 0",
		rewinds:  true,
		handlers: []handler{serve(o)},
		partial:  tampered[len(tampered)-half:], // right length, wrong bytes
		want: []logged{{fmt.Sprintf("bytes=%d-", half), 206, o.size() - int64(half)},
			{"", 200, o.size()}},
	}, {
		name:     "complete but torn partial file is downloaded again",
		rewinds:  true,
		handlers: []handler{serve(o)},
		partial:  tampered,
		want:     []logged{{"", 200, o.size()}},
	}, {
		name:     "partial file longer than the object is discarded",
		handlers: []handler{serve(o)},
		partial:  longer,
		want:     []logged{{"", 200, o.size()}},
	}, {
		name:     "503 with Retry-After, then the object",
		handlers: []handler{status(503, "Retry-After", "0"), serve(o)},
		want:     []logged{{"", 503, 0}, {"", 200, o.size()}},
	}, {
		name:     "429, 502, 408 are retried",
		handlers: []handler{status(429), status(502), status(408), serve(o)},
		want:     []logged{{"", 429, 0}, {"", 502, 0}, {"", 408, 0}, {"", 200, o.size()}},
	}, {
		name:     "tampered bytes",
		handlers: []handler{serveBody(tampered)},
		wantErr:  ErrMismatch,
		want:     []logged{{"", 200, o.size()}},
	}, {
		name:     "tampered bytes after a resume",
		rewinds:  true,
		handlers: []handler{dropAfter(o, half), serve(object{data: tampered})},
		wantErr:  ErrMismatch,
		want: []logged{{"", 200, int64(half)}, {fmt.Sprintf("bytes=%d-", half), 206, o.size() - int64(half)},
			{"", 200, o.size()}},
	}, {
		name:     "Content-Length longer than the object",
		handlers: []handler{serveBody(longer)},
		wantErr:  ErrMismatch,
	}, {
		name:     "Content-Range of another length",
		handlers: []handler{status(206, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", half, o.size(), o.size()+1))},
		partial:  o.data[:half],
		wantErr:  ErrMismatch,
		want:     []logged{{fmt.Sprintf("bytes=%d-", half), 206, 0}},
	}, {
		name:     "body longer than the object, without Content-Length",
		handlers: []handler{chunked(longer)},
		wantErr:  ErrMismatch,
	}, {
		name:     "404 is final",
		handlers: []handler{status(404)},
		wantErr:  &StatusError{Code: 404},
		want:     []logged{{"", 404, 0}},
	}, {
		name:     "403 is final",
		handlers: []handler{status(403)},
		wantErr:  &StatusError{Code: 403},
		want:     []logged{{"", 403, 0}},
	}, {
		name:     "retries are bounded",
		handlers: []handler{status(500, "Retry-After", "0")},
		wantErr:  &StatusError{Code: 500},
		wantMsg:  "500 Internal Server Error (4 attempts)",
		want:     []logged{{"", 500, 0}, {"", 500, 0}, {"", 500, 0}, {"", 500, 0}},
	}}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += " (Stream)"
			}
			t.Run(name, func(t *testing.T) {
				tt.run(t, o, stream)
			})
		}
	}
}

// misbehaviour is a case of TestMisbehavingServers.
type misbehaviour struct {
	name     string
	handlers []handler
	partial  []byte // left by an earlier run
	wantErr  error  // nil: the object arrives
	wantMsg  string // in the error
	want     []logged
	// rewinds: the download starts again from byte 0 after bytes were
	// written, which Stream refuses with ErrRewound.
	rewinds bool
}

// run downloads o with Get, or Stream if stream, and checks the outcome:
// Stream's writer must get exactly the object's bytes, or fail with
// ErrRewound if the case rewinds.
func (tt misbehaviour) run(t *testing.T, o object, stream bool) {
	s := newServer(t, tt.handlers...)
	partial := partialPath(t)
	if tt.partial != nil {
		if err := os.WriteFile(partial, tt.partial, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var held atomic.Int64
	c := fastClient(Options{Retries: 3, Progress: func(d int64) { held.Add(d) }})
	var streamed bytes.Buffer
	var err error
	if stream {
		err = c.Stream(context.Background(), s.URL+"/obj", o.size(), o.sha, partial, &streamed)
		if tt.rewinds {
			if !errors.Is(err, ErrRewound) {
				t.Fatalf("Stream: %v, want %v", err, ErrRewound)
			}
			return
		}
	} else {
		err = c.Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial)
	}

	if tt.wantErr == nil {
		if err != nil {
			t.Fatal(err)
		}
		assertFile(t, partial, o.data)
		if held.Load() != o.size() {
			t.Errorf("progress adds up to %d, want %d", held.Load(), o.size())
		}
		if stream && !bytes.Equal(streamed.Bytes(), o.data) {
			t.Errorf("Stream wrote %d bytes that differ from the object's %d", streamed.Len(), o.size())
		}
	} else {
		var se *StatusError
		if want, ok := tt.wantErr.(*StatusError); ok {
			if !errors.As(err, &se) || se.Code != want.Code {
				t.Fatalf("Get: %v, want status %d", err, want.Code)
			}
		} else if !errors.Is(err, tt.wantErr) {
			t.Fatalf("Get: %v, want %v", err, tt.wantErr)
		}
		if errors.Is(err, ErrMismatch) {
			assertGone(t, partial)
			if held.Load() != 0 {
				t.Errorf("progress adds up to %d after a mismatch, want 0", held.Load())
			}
		}
	}
	if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
		t.Errorf("Get: %v, want it to say %q", err, tt.wantMsg)
	}
	if tt.want != nil || tt.wantErr == nil {
		if got := s.requests(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("requests %v, want %v", got, tt.want)
		}
	}
}

// chunked sends body without Content-Length.
func chunked(body []byte) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, int64) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		n, _ := w.Write(body)
		return http.StatusOK, int64(n)
	}
}

// TestEndlessBodyIsCut checks that a server sending without end costs at
// most the object's length (plus what is in flight), not the disk.
func TestEndlessBodyIsCut(t *testing.T) {
	o := newObject(t, 64<<10)
	var sent atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) {
		chunk := make([]byte, 32<<10)
		for sent.Load() < 1<<30 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				break
			}
		}
		return 200, sent.Load()
	})
	partial := partialPath(t)
	err := New(Options{}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Get: %v, want ErrMismatch for a longer body", err)
	}
	assertGone(t, partial)
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("server could send %d bytes", n)
	}
}

// TestRetryAfterIsHonoured checks the wait a 503's Retry-After asks for.
func TestRetryAfterIsHonoured(t *testing.T) {
	o := newObject(t, 1024)
	s := newServer(t, status(503, "Retry-After", "1"), serve(o))
	var log bytes.Buffer
	logger := logrus.New()
	logger.Out = &log
	start := time.Now()
	err := fastClient(Options{Log: logger}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partialPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %s, want Retry-After's 1s", d)
	}
	if want := "retry 1 of 5 in 1s"; !strings.Contains(log.String(), want) || !strings.Contains(log.String(), s.URL+"/obj") {
		t.Errorf("log %q, want %q and the URL", log.String(), want)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"-3", 0},
		{"99999999999999999", maxRetryAfter},
		{"Sat, 05 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"Sat, 05 Dec 2026 11:00:00 GMT", 0},
		{"Sun, 06 Dec 2026 12:00:00 GMT", maxRetryAfter},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

// TestStallIsRetried checks that a server that stops sending mid-object is
// given up on after the stall timeout and the object resumed.
func TestStallIsRetried(t *testing.T) {
	o := newObject(t, 64<<10)
	half := len(o.data) / 2
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stall := func(w http.ResponseWriter, r *http.Request) (int, int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(o.size(), 10))
		w.Write(o.data[:half])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, int64(half)
	}
	s := newServer(t, stall, serve(o))
	partial := partialPath(t)
	err := fastClient(Options{StallTimeout: 200 * time.Millisecond}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial)
	if err != nil {
		t.Fatal(err)
	}
	assertFile(t, partial, o.data)
	if got := s.requests(); len(got) != 2 || got[1].Range != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("requests %v, want a stalled one and a resume", got)
	}
}

// TestStalledForGood checks the error once every attempt stalls: it names
// the stall, and the partial file stays for the next run.
func TestStalledForGood(t *testing.T) {
	o := newObject(t, 1024)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(o.size(), 10))
		w.Write(o.data[:10])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, 10
	})
	partial := partialPath(t)
	err := fastClient(Options{Retries: 1, StallTimeout: 100 * time.Millisecond}).Get(context.Background(), s.URL+"/obj", o.size(), o.sha, partial)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("Get: %v, want ErrStalled", err)
	}
	assertFile(t, partial, o.data[:10])
}

// TestErrorsHideCredentials checks that neither the token nor a password
// in the URL reaches an error message, and that the token is sent as basic
// auth.
func TestErrorsHideCredentials(t *testing.T) {
	o := newObject(t, 16)
	var auth atomic.Value
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) {
		auth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(401)
		return 401, 0
	})
	url := strings.Replace(s.URL, "http://", "http://user:urlsecret@", 1) + "/obj?token=querysecret"
	err := New(Options{Token: "tokensecret"}).Get(context.Background(), url, o.size(), o.sha, partialPath(t))
	if err == nil {
		t.Fatal("Get succeeded against a 401")
	}
	for _, secret := range []string{"urlsecret", "querysecret", "tokensecret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows %s", err, secret)
		}
	}
	if got := auth.Load(); got != "Basic eC1hY2Nlc3MtdG9rZW46dG9rZW5zZWNyZXQ=" { // x-access-token:tokensecret
		t.Errorf("Authorization %q, want basic auth with the token", got)
	}
}

// TestCancel checks that a cancelled context ends a download at once, even
// while it waits to retry.
func TestCancel(t *testing.T) {
	o := newObject(t, 16)
	s := newServer(t, status(503, "Retry-After", "60"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := New(Options{}).Get(ctx, s.URL+"/obj", o.size(), o.sha, partialPath(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Get took %s after the context ended", d)
	}
}

func TestEmptyObject(t *testing.T) {
	e := object{sha: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	s := newServer(t, serve(e))
	partial := partialPath(t)
	if err := New(Options{}).Get(context.Background(), s.URL+"/obj", 0, e.sha, partial); err != nil {
		t.Fatal(err)
	}
	assertFile(t, partial, nil)
	if got := s.requests(); len(got) != 0 {
		t.Errorf("requests %v for an empty object, want none", got)
	}
}

func TestGetAll(t *testing.T) {
	objs := []object{newObject(t, 100), newObject(t, 200<<10), newObject(t, 0), newObject(t, 5000)}
	mux := http.NewServeMux()
	dir := t.TempDir()
	var want []Object
	for i, o := range objs {
		mux.HandleFunc(fmt.Sprintf("/%d", i), func(w http.ResponseWriter, r *http.Request) { serve(o)(w, r) })
		want = append(want, Object{Size: o.size(), SHA256: o.sha, Partial: fmt.Sprintf("%s/%d", dir, i)})
	}
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) { mux.ServeHTTP(w, r); return 0, 0 })
	for i := range want {
		want[i].URL = fmt.Sprintf("%s/%d", s.URL, i)
	}
	var done atomic.Int32
	err := New(Options{}).GetAll(context.Background(), want, 2, func(Object) error { done.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		assertFile(t, want[i].Partial, o.data)
	}
	if done.Load() != int32(len(objs)) {
		t.Errorf("done called %d times, want %d", done.Load(), len(objs))
	}

	want[1].SHA256 = objs[0].sha
	if err := New(Options{}).GetAll(context.Background(), want, 2, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("GetAll with a wrong hash: %v, want ErrMismatch", err)
	}
}

// TestRedirect follows a release asset's redirect to another host, as
// GitHub sends to signed storage URLs: the token stays with the first host,
// and a retry asks the first host again (the signed URL may have expired).
func TestRedirect(t *testing.T) {
	o := newObject(t, 64<<10)
	half := len(o.data) / 2
	var storageAuth atomic.Value
	storage := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) {
		storageAuth.Store(r.Header.Get("Authorization"))
		return dropAfter(o, half)(w, r)
	}, serve(o))
	// "localhost" is another host than the storage's 127.0.0.1.
	storageURL := strings.Replace(storage.URL, "127.0.0.1", "localhost", 1) + "/signed?sig=1"
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) (int, int64) {
		http.Redirect(w, r, storageURL, http.StatusFound)
		return http.StatusFound, 0
	})
	partial := partialPath(t)
	if err := fastClient(Options{Token: "tok"}).Get(context.Background(), origin.URL+"/obj", o.size(), o.sha, partial); err != nil {
		t.Fatal(err)
	}
	assertFile(t, partial, o.data)
	if got := origin.requests(); len(got) != 2 || got[1].Range != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("origin saw %v, want the first request and the resume", got)
	}
	if got := storage.requests(); len(got) != 2 || got[1].Range != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("storage saw %v, want the first request and the resume with its Range", got)
	}
	if auth := storageAuth.Load(); auth != "" {
		t.Errorf("storage host got Authorization %q", auth)
	}
}
