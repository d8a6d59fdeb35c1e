package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/syncbuf"
)

// receiver is a real webhook endpoint that refuses the first fail
// attempts with 503 and records the messages it accepts.
type receiver struct {
	url string // a shoutrrr URL for it

	mu       sync.Mutex // guards the fields below
	fail     int
	attempts int
	got      []string
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		if r.attempts <= r.fail {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		r.got = append(r.got, string(body))
	}))
	t.Cleanup(srv.Close)
	r.url = "generic+" + srv.URL + "/hook"
	return r
}

func (r *receiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// clock is a settable time for expiry tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is a statuses/ directory and a log.
type fixture struct {
	dir *os.Root
	log *syncbuf.Buffer
}

func newFixture(t *testing.T) *fixture {
	dir, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return &fixture{dir: dir, log: &syncbuf.Buffer{}}
}

func (f *fixture) notifier(opt Options) *Notifier {
	log := logrus.New()
	log.Out = f.log
	opt.Dir, opt.Log = f.dir, log
	return New(opt)
}

func (f *fixture) outbox(t *testing.T) outbox {
	t.Helper()
	b, err := loadOutbox(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func targets(urls ...string) func() []string { return func() []string { return urls } }

// failed is the observation of a failed update to v1.1.0.
var failed = NewObservation(statusfile.Status{State: statusfile.Failed, UpdateTo: "v1.1.0", Description: "exit status 3; restored v1.0.0"}, "1.0.0", nil)

// failUpdate makes n see an update to v1.1.0 fail.
func failUpdate(n *Notifier) {
	n.Observe(success("1.0.0"))
	n.Observe(failed)
}

// A receiver that fails the first attempts gets the message exactly once,
// retried with backoff; a second manager reading the same status sends
// nothing more.
func TestDeliveredOnceAfterFailures(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, 3)
	n := f.notifier(Options{Targets: targets(rcv.url), Retry: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	failUpdate(n)
	daemon.Eventually(t, "the delivery", func() bool { return len(f.outbox(t).Events) == 0 })
	time.Sleep(100 * time.Millisecond) // room for a wrong second send
	cancel()
	<-done
	want := "hoist: update to v1.1.0 failed: exit status 3; restored v1.0.0"
	if got := rcv.messages(); len(got) != 1 || got[0] != want || rcv.attempts != 4 {
		t.Fatalf("received %q after %d attempts, want once %q after 4", got, rcv.attempts, want)
	}

	again := f.notifier(Options{Targets: targets(rcv.url), Retry: 20 * time.Millisecond})
	again.Observe(failed)
	again.deliver(context.Background(), "")
	if b := f.outbox(t); len(b.Events) != 0 || len(rcv.messages()) != 1 {
		t.Errorf("after a restart: %d events queued, %d messages received", len(b.Events), len(rcv.messages()))
	}
}

// An event still undelivered a day after it happened is dropped and logged.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, 1<<30)
	clk := &clock{now: t0}
	n := f.notifier(Options{Targets: targets(rcv.url), Now: clk.Now})
	failUpdate(n)
	for range 30 {
		n.deliver(context.Background(), "")
		clk.add(time.Hour)
	}
	if b := f.outbox(t); len(b.Events) != 0 {
		t.Errorf("%d events left after a day", len(b.Events))
	}
	// Hourly retries capped at MaxRetry: one at t0, then backoff 30s, 1m,
	// ... each under an hour, so one per hour for 24 h.
	if rcv.attempts != 24 {
		t.Errorf("%d attempts within 24 h, want 24", rcv.attempts)
	}
	if !strings.Contains(f.log.String(), "notification dropped: not delivered within 24 h") {
		t.Errorf("no log of the drop:\n%s", f.log)
	}
}

// A corrupt outbox is set aside with a clear log line, and notifications
// go on with a fresh one.
func TestCorruptOutbox(t *testing.T) {
	f := newFixture(t)
	if err := f.dir.WriteFile(OutboxName, []byte(`{"version":1,"events":[{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, 0)
	n := f.notifier(Options{Targets: targets(rcv.url)})
	if !strings.Contains(f.log.String(), "notification outbox unreadable: starting a fresh one") {
		t.Errorf("log:\n%s", f.log)
	}
	if _, err := f.dir.Stat(OutboxName + ".corrupt"); err != nil {
		t.Errorf("the corrupt outbox was not kept: %v", err)
	}
	res, err := n.Test(context.Background())
	if err != nil || len(res) != 1 || !res[0].OK || len(rcv.messages()) != 1 {
		t.Fatalf("test after a corrupt outbox: %+v %v, received %q", res, err, rcv.messages())
	}
}

// The test message reports each target, its URL's secrets redacted, and a
// failing target gets the message later through the outbox.
func TestTestMessage(t *testing.T) {
	f := newFixture(t)
	good, bad := newReceiver(t, 0), newReceiver(t, 2)
	secretBad := strings.Replace(bad.url, "/hook", "/s3cret-topic?@Authorization=Bearer+t0ken", 1)
	n := f.notifier(Options{Targets: targets(good.url, secretBad)})
	res, err := n.Test(context.Background())
	if err != nil || len(res) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	byID := map[string]Result{}
	for _, r := range res {
		byID[r.ID] = r
	}
	if r := byID[TargetID(good.url)]; !r.OK || r.Target != Redact(good.url) {
		t.Errorf("good target: %+v", r)
	}
	r := byID[TargetID(secretBad)]
	if r.OK || r.Error == "" || !strings.HasPrefix(r.Target, "generic+http://127.0.0.1:") {
		t.Errorf("failing target: %+v", r)
	}
	for _, text := range []string{r.Target, r.Error, f.log.String()} {
		if strings.Contains(text, "s3cret") || strings.Contains(text, "t0ken") {
			t.Errorf("a secret shows: %s", text)
		}
	}
	if b := f.outbox(t); len(b.Events) != 1 || len(b.Events[0].Pending) != 1 || b.Events[0].Pending[TargetID(secretBad)] == nil {
		t.Fatalf("outbox after the test: %+v", b.Events)
	}
	if _, err := n.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := f.outbox(t); len(b.Events) != 1 {
		t.Errorf("a second test left %d test events pending, want 1", len(b.Events))
	}
	if raw, _ := f.dir.ReadFile(OutboxName); strings.Contains(string(raw), "s3cret") {
		t.Errorf("the outbox holds a URL: %s", raw)
	}
	if _, err := f.notifier(Options{}).Test(context.Background()); err != ErrNoTargets {
		t.Errorf("no targets: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	n := &Notifier{opt: Options{Retry: time.Second}}
	for _, tt := range []struct {
		attempts int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {13, MaxRetry}, {1000, MaxRetry}} {
		if got := n.backoff(tt.attempts); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"discord://T0KEN@693853386302554172?thread_id=1": "discord://***@693853386302554172?***",
		"ntfy://user:pass@ntfy.sh/secret-topic":          "ntfy://***@ntfy.sh/***",
		"generic+https://hooks.example/x?@Auth=Bearer+k": "generic+https://hooks.example/***?***",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every send finds its event pending in the outbox file, and every send
// after a delivery finds that delivery gone from it.
func TestWrittenBeforeSend(t *testing.T) {
	f := newFixture(t)
	var sent []string
	send := func(_ context.Context, url, text string) error {
		b := f.outbox(t)
		if len(b.Events) != 1 || b.Events[0].Pending[TargetID(url)] == nil {
			t.Errorf("sending to %s while the outbox holds %+v", url, b.Events)
		}
		if len(b.Events) == 1 && len(b.Events[0].Pending) != 2-len(sent) {
			t.Errorf("sending to %s while %d deliveries are pending, after %d sent", url, len(b.Events[0].Pending), len(sent))
		}
		sent = append(sent, url)
		return nil
	}
	n := f.notifier(Options{Targets: targets("ntfy://ntfy.example/a", "ntfy://ntfy.example/b"), Send: send})
	failUpdate(n)
	n.deliver(context.Background(), "")
	if len(sent) != 2 || len(f.outbox(t).Events) != 0 {
		t.Errorf("sent to %q; outbox %+v", sent, f.outbox(t).Events)
	}
}

// A target the owner removed gets nothing more; the others still do.
func TestRemovedTarget(t *testing.T) {
	f := newFixture(t)
	kept, removed := newReceiver(t, 1), newReceiver(t, 1)
	urls := []string{kept.url, removed.url}
	n := f.notifier(Options{Targets: func() []string { return urls }, Retry: time.Nanosecond})
	failUpdate(n)
	n.deliver(context.Background(), "") // both refuse the first attempt
	urls = urls[:1]
	time.Sleep(time.Millisecond)
	n.deliver(context.Background(), "")
	if len(kept.messages()) != 1 || len(removed.messages()) != 0 || len(f.outbox(t).Events) != 0 {
		t.Errorf("kept got %d, removed got %d, outbox %+v", len(kept.messages()), len(removed.messages()), f.outbox(t).Events)
	}
	if !strings.Contains(f.log.String(), "notification dropped: its target is no longer set") {
		t.Errorf("log:\n%s", f.log)
	}
}

// A send under way when the manager stops is finished and recorded: the
// target may have taken it, so it must not stay pending to be sent again.
// No other send starts after the stop.
func TestStopDuringSend(t *testing.T) {
	f := newFixture(t)
	ctx, stop := context.WithCancel(context.Background())
	sends := 0
	send := func(context.Context, string, string) error {
		sends++
		stop() // SIGTERM arrives while the target takes the message
		return nil
	}
	n := f.notifier(Options{Targets: targets("ntfy://ntfy.example/a", "ntfy://ntfy.example/b"), Send: send})
	failUpdate(n)
	n.deliver(ctx, "")
	if b := f.outbox(t); sends != 1 || len(b.Events) != 1 || len(b.Events[0].Pending) != 1 {
		t.Errorf("%d sends; outbox %+v: want one delivery recorded and the other pending", sends, b.Events)
	}
}
