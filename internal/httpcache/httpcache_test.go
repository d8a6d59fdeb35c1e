package httpcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// server serves body with the given validators and records the conditional
// headers of each request.
type server struct {
	mu       sync.Mutex
	body     string
	etag     string
	modified time.Time
	seen     []string // "If-None-Match|If-Modified-Since" per request
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r.Header.Get("If-None-Match")+"|"+r.Header.Get("If-Modified-Since"))
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
	}
	// ServeContent answers the conditional headers as nginx does.
	http.ServeContent(w, r, "", s.modified, strings.NewReader(s.body))
}

func (s *server) set(body, etag string, modified time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.modified = body, etag, modified
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestConditionalGet(t *testing.T) {
	mod := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	modH := mod.Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		etag     string
		modified time.Time
		second   string // the conditional headers of the second request
	}{
		{"etag", `"v1"`, time.Time{}, `"v1"|`},
		{"last-modified", "", mod, "|" + modH},
		{"both", `"v1"`, mod, `"v1"|` + modH},
		{"neither", "", time.Time{}, "|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{}
			s.set("one", tc.etag, tc.modified)
			ts := httptest.NewServer(s)
			defer ts.Close()
			c := New(ts.Client(), NewMemory(), 100)
			ctx := context.Background()

			r1, err := c.Get(ctx, ts.URL+"/x", nil)
			if err != nil || string(r1.Body) != "one" || r1.NotModified {
				t.Fatalf("first Get = %+v, %v", r1, err)
			}
			r2, err := c.Get(ctx, ts.URL+"/x", nil)
			if err != nil || string(r2.Body) != "one" {
				t.Fatalf("second Get = %+v, %v", r2, err)
			}
			if want := tc.second != "|"; r2.NotModified != want {
				t.Errorf("second Get NotModified = %v, want %v", r2.NotModified, want)
			}
			if got := s.requests(); got[0] != "|" || got[1] != tc.second {
				t.Errorf("conditional headers = %q, want [| %s]", got, tc.second)
			}

			// A change is a full answer, remembered in its turn.
			s.set("two", strings.ReplaceAll(tc.etag, "1", "2"), tc.modified.Add(time.Hour))
			r3, err := c.Get(ctx, ts.URL+"/x", nil)
			if err != nil || string(r3.Body) != "two" || r3.NotModified {
				t.Fatalf("Get after a change = %+v, %v", r3, err)
			}
		})
	}
}

func TestGetSendsHeaderAndCapsBody(t *testing.T) {
	var auth string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write(bytes.Repeat([]byte("x"), 101))
	}))
	defer ts.Close()
	c := New(ts.Client(), NewMemory(), 100)
	_, err := c.Get(context.Background(), ts.URL, http.Header{"Authorization": {"Bearer t"}})
	if !errors.Is(err, safefs.ErrTooLarge) {
		t.Errorf("Get of 101 bytes with a cap of 100: err = %v, want ErrTooLarge", err)
	}
	if auth != "Bearer t" {
		t.Errorf("Authorization = %q", auth)
	}
}

// A 304 without validators sent (a confused server) is not taken as
// "unchanged": there is nothing to reuse.
func TestUnsolicited304(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}))
	defer ts.Close()
	_, err := New(ts.Client(), NewMemory(), 100).Get(context.Background(), ts.URL, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotModified {
		t.Errorf("err = %v, want a StatusError 304", err)
	}
}

func TestStatusErrorRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		code    int
		header  string
		wait    time.Duration
		hasWait bool
	}{
		{http.StatusTooManyRequests, "120", 2 * time.Minute, true},
		{http.StatusServiceUnavailable, "7", 7 * time.Second, true},
		{http.StatusServiceUnavailable, "", 0, false},
		{http.StatusInternalServerError, "120", 0, false}, // only 429 and 503 ask to wait
		{http.StatusNotFound, "", 0, false},
	} {
		t.Run(fmt.Sprint(tc.code, tc.header), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.code)
			}))
			defer ts.Close()
			_, err := New(ts.Client(), NewMemory(), 100).Get(context.Background(), ts.URL, nil)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("err = %v, want a StatusError %d", err, tc.code)
			}
			wait, ok := ServerWait(fmt.Errorf("checking: %w", err))
			if wait != tc.wait || ok != tc.hasWait {
				t.Errorf("ServerWait = %v, %v; want %v, %v", wait, ok, tc.wait, tc.hasWait)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	date := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return date.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		value string
		date  string
		want  time.Duration
		ok    bool
	}{
		{"", "", 0, false},
		{"0", "", 0, true},
		{" 30 ", "", 30 * time.Second, true},
		{"86400", "", MaxRetryAfter, true},
		{"99999999999999999999", "", 0, false}, // overflows: malformed
		{"-5", "", 0, false},
		{"soon", "", 0, false},
		{at(90 * time.Second), date.Format(http.TimeFormat), 90 * time.Second, true},
		{at(-time.Hour), date.Format(http.TimeFormat), 0, true},
		{at(48 * time.Hour), date.Format(http.TimeFormat), MaxRetryAfter, true},
	} {
		resp := &http.Response{Header: http.Header{}}
		if tc.value != "" {
			resp.Header.Set("Retry-After", tc.value)
		}
		if tc.date != "" {
			resp.Header.Set("Date", tc.date)
		}
		got, ok := RetryAfter(resp)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q, Date %q) = %v, %v; want %v, %v", tc.value, tc.date, got, ok, tc.want, tc.ok)
		}
	}
}

// A Dir store makes the next process's first request conditional.
func TestDirPersists(t *testing.T) {
	s := &server{}
	s.set("one", `"v1"`, time.Time{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	dir, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for run := range 2 {
		r, err := New(ts.Client(), NewDir(dir, 100), 100).Get(context.Background(), ts.URL+"/x", nil)
		if err != nil || string(r.Body) != "one" || r.NotModified != (run == 1) || r.CacheErr != nil {
			t.Fatalf("run %d: Get = %+v, %v", run, r, err)
		}
	}
	if got := s.requests(); got[1] != `"v1"|` {
		t.Errorf("second run's conditional headers = %q", got[1])
	}
	// A damaged file is no entry: the request goes out unconditional.
	if err := dir.WriteFile(fileName(ts.URL+"/x"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := NewDir(dir, 100).Load(ts.URL + "/x"); ok {
		t.Error("a damaged entry loaded")
	}
}

func TestDirPrunes(t *testing.T) {
	dir, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	d := NewDir(dir, 100)
	for i := range MaxEntries + 3 {
		if err := d.Save(fmt.Sprint(i), Entry{ETag: "e", Body: []byte("b")}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := dir.Open(".")
	names, _ := f.Readdirnames(-1)
	f.Close()
	if len(names) != MaxEntries {
		t.Errorf("%d files after %d saves, want %d", len(names), MaxEntries+3, MaxEntries)
	}
	if _, ok := d.Load(fmt.Sprint(MaxEntries + 2)); !ok {
		t.Error("the newest entry was pruned")
	}
}

func TestMemoryBounded(t *testing.T) {
	m := NewMemory()
	for i := range MaxEntries + 10 {
		m.Save(fmt.Sprint(i), Entry{ETag: "e"})
	}
	if len(m.entries) != MaxEntries {
		t.Errorf("%d entries, want %d", len(m.entries), MaxEntries)
	}
}
