package manager

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/settings"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

func TestSettingsAPI(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{autoUpdate: true})
	url := s.url + settingsPath
	file := filepath.Join(root, "statuses", settings.Name)

	// No file yet: the --auto-update flag is the default.
	if code, _, got := call(t, "GET", url, testToken, ""); code != 200 || got != `{"auto_update":true,"window":"","channel":"stable","skip":[],"notify":[]}`+"\n" {
		t.Errorf("defaults: %d %s", code, got)
	}
	secret := "ntfy://owner:tk_s3cr3t@ntfy.sh/my-topic"
	code, _, got := call(t, "PUT", url, testToken, `{"window":"03:00-05:00","skip":["1.2.0"],"notify":["`+secret+`"]}`)
	want := `{"auto_update":true,"window":"03:00-05:00","channel":"stable","skip":["v1.2.0"],"notify":["ntfy://***@ntfy.sh/***"]}` + "\n"
	if code != 200 || got != want {
		t.Errorf("PUT: %d %s", code, got)
	}
	if _, _, got := call(t, "GET", url, testToken, ""); got != want {
		t.Errorf("GET after PUT: %s", got)
	}
	// A PUT of what GET showed keeps the secret.
	if code, _, _ := call(t, "PUT", url, testToken, `{"channel":"beta","notify":["ntfy://***@ntfy.sh/***"]}`); code != 200 {
		t.Errorf("PUT of the redacted URL: %d", code)
	}
	stored := readSettings(t, file)
	if stored.Channel != "beta" || len(stored.Notify) != 1 || stored.Notify[0] != secret || stored.Window.String() != "03:00-05:00" {
		t.Errorf("stored %+v", stored)
	}
	if strings.Contains(s.logs.String(), "tk_s3cr3t") {
		t.Error("the log shows a notification secret")
	}

	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"auto_update":false,"window":"25:00-01:00"}`,
		`{"auto_update":false,"colour":"blue"}`,
		`{"channel":"nightly"}`,
		`{"notify":["no scheme"]}`,
		`{"skip":["latest"]}`,
		`not json`,
	} {
		code, _, got := call(t, "PUT", url, testToken, body)
		if code != 400 || !strings.HasPrefix(errorOf(t, got), "invalid settings: ") {
			t.Errorf("PUT %s: %d %s", body, code, got)
		}
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("a refused PUT changed the file:\n%s", after)
	}
	if code, h, _ := call(t, "POST", url, testToken, `{}`); code != 405 || h.Get("Allow") != "GET, HEAD, PUT" {
		t.Errorf("POST: %d %v", code, h)
	}
	if code, _, _ := call(t, "PUT", url, "", `{"auto_update":false}`); code != 401 {
		t.Errorf("PUT without the token: %d", code)
	}
	long := `{"notify":["` + strings.Repeat(`generic+https://hooks.example.com/`+strings.Repeat("x", 1900)+`","`, settings.MaxNotify-1) + `ntfy://ntfy.sh/t"]}`
	if code, _, got := call(t, "PUT", url, testToken, long); code != 200 {
		t.Errorf("PUT of %d notification URLs (%d bytes): %d %s", settings.MaxNotify, len(long), code, got)
	}
}

func readSettings(t *testing.T, file string) settings.Settings {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := settings.Defaults(false).Apply(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get-update says when the automatic update may start: at the opening of
// the window, not at all when auto-update is off or the release is skipped.
func TestGetUpdateNextAutoUpdate(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{checkInterval: time.Hour})
	next := func() string {
		t.Helper()
		code, _, got := call(t, "GET", s.url+"/v1/system/get-update", testToken, "")
		var a struct {
			Version        string `json:"version"`
			NextAutoUpdate string `json:"next_auto_update"`
		}
		if err := json.Unmarshal([]byte(got), &a); code != 200 || err != nil || a.Version != "1.5.0" {
			t.Fatalf("get-update: %d %s", code, got)
		}
		return a.NextAutoUpdate
	}
	put := func(body string) {
		t.Helper()
		if code, _, got := call(t, "PUT", s.url+settingsPath, testToken, body); code != 200 {
			t.Fatalf("PUT %s: %d %s", body, code, got)
		}
	}
	if got := next(); got != "" {
		t.Errorf("auto-update off: next_auto_update %q", got)
	}
	opens := time.Now().Add(2 * time.Hour).Truncate(time.Minute).Local()
	window := opens.Format("15:04") + "-" + opens.Add(time.Hour).Format("15:04")
	put(`{"auto_update":true,"window":"` + window + `"}`)
	if got := next(); got != opens.Format(time.RFC3339) {
		t.Errorf("window %s: next_auto_update %q, want %q", window, got, opens.Format(time.RFC3339))
	}
	put(`{"skip":["v1.5.0"]}`)
	if got := next(); got != "" {
		t.Errorf("skipped release: next_auto_update %q", got)
	}
}

// Automatic updates start only inside the window and never for a skipped
// release; the loop wakes when the window opens.
func TestAutoUpdatePolicy(t *testing.T) {
	now := time.Now()
	inside := now.Add(-time.Minute).Format("15:04") + "-" + now.Add(time.Hour).Format("15:04")
	outside := now.Add(time.Hour).Format("15:04") + "-" + now.Add(2*time.Hour).Format("15:04")
	tests := []struct {
		name, settings string
		requested      bool
	}{
		{"off", `{"auto_update":false}`, false},
		{"inside the window", `{"auto_update":true,"window":"` + inside + `"}`, true},
		{"outside the window", `{"auto_update":true,"window":"` + outside + `"}`, false},
		{"skipped", `{"auto_update":true,"skip":["v1.5.0"]}`, false},
		{"another release skipped", `{"auto_update":true,"skip":["v1.4.0"]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := managertest.NewRoot(t, "0.9.0")
			writeFile(t, filepath.Join(root, "statuses", settings.Name), tt.settings)
			// The flag says yes; the file decides.
			s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{checkInterval: 50 * time.Millisecond, autoUpdate: true})
			signal := filepath.Join(root, "events/signals/update")
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				if _, err := os.Stat(signal); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			_, err := os.Stat(signal)
			if got := err == nil; got != tt.requested {
				t.Errorf("requested: %v, want %v\n%s", got, tt.requested, s.logs.String())
			}
		})
	}
}

func TestCheckDelay(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 5, h, m, 0, 0, time.UTC) }
	mk := func(auto bool, window string) settings.Settings {
		s := settings.Defaults(auto)
		w, err := settings.ParseWindow(window)
		if err != nil {
			t.Fatal(err)
		}
		s.Window = w
		return s
	}
	tests := []struct {
		st   settings.Settings
		now  time.Time
		want time.Duration
	}{
		{mk(true, ""), at(1, 0), 6 * time.Hour},
		{mk(false, "03:00-05:00"), at(1, 0), 6 * time.Hour},
		{mk(true, "03:00-05:00"), at(1, 0), 2 * time.Hour},
		{mk(true, "03:00-05:00"), at(3, 30), 6 * time.Hour},
		{mk(true, "03:00-05:00"), at(20, 0), 6 * time.Hour},
		{mk(true, "23:00-01:00"), at(20, 0), 3 * time.Hour},
	}
	for _, tt := range tests {
		if got := checkDelay(6*time.Hour, tt.st, tt.now); got != tt.want {
			t.Errorf("checkDelay(%s at %v) = %v, want %v", tt.st.Window, tt.now, got, tt.want)
		}
	}
}

// The info metric names the owner's channel.
func TestMetricChannel(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	for _, ch := range []string{"stable", "beta"} {
		if code, _, got := call(t, "PUT", s.url+settingsPath, testToken, `{"channel":"`+ch+`"}`); code != 200 {
			t.Fatalf("PUT: %d %s", code, got)
		}
		if _, _, got := call(t, "GET", s.url+"/metrics", testToken, ""); !strings.Contains(got, `hoist_manager_info{channel="`+ch+`"`) {
			t.Errorf("channel %s: metrics lack it", ch)
		}
	}
}

// A channel switch is applied at once: the sleeping check loop (an hour
// between checks) wakes, checks on the new channel and requests the beta.
func TestChannelSwitchWakesCheckLoop(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	writeFile(t, filepath.Join(root, "statuses", settings.Name), `{"auto_update":true}`)
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0-beta.1"})
	s := start(t, root, repo.FileURL(), options{checkInterval: time.Hour, autoUpdate: true})
	if code, _, got := call(t, "PUT", s.url+settingsPath, testToken, `{"channel":"beta"}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, got)
	}
	signal := filepath.Join(root, "events/signals/update")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(signal); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no automatic update requested after switching to beta:\n%s", s.logs.String())
		}
	}
	if data, err := os.ReadFile(filepath.Join(root, "statuses", statusfile.Name)); err != nil || !strings.Contains(string(data), "v1.1.0-beta.1") {
		t.Errorf("status %s (%v), want the beta queued", data, err)
	}
}

// A notification URL whose scheme no shoutrrr service has is refused with
// a message naming the entry and the services, never the URL.
func TestSettingsUnknownNotifyService(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	body := `{"notify":["generic+https://hooks.example.com/x","nfty://ntfy.sh/s3cret-topic"]}`
	code, _, got := call(t, "PUT", s.url+settingsPath, testToken, body)
	msg := errorOf(t, got)
	if code != 400 || !strings.HasPrefix(msg, `invalid settings: notify entry 2: no notification service "nfty"`) || !strings.Contains(msg, "ntfy") {
		t.Errorf("PUT %s: %d %s", body, code, got)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("the error shows the URL: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(root, "statuses", settings.Name)); !os.IsNotExist(err) {
		t.Errorf("a refused PUT wrote the settings: %v", err)
	}
}
