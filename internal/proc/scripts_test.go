package proc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
	"github.com/sirupsen/logrus"
)

// script writes an executable shell script with body and returns a Spec
// running it with a 10s timeout, output collected in log.
func script(t *testing.T, body string, log *bytes.Buffer) Spec {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "02-run.sh")
	testbin.WriteExecutable(t, p, []byte("#!/bin/sh\n"+body+"\n"))
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	return Spec{Name: "02-run.sh", Path: p, Args: []string{"v1.1.0", dir}, Dir: dir,
		Env: []string{"HOIST_RELEASE=v1.1.0"}, Timeout: 10 * time.Second, Log: log, Logger: logger}
}

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name, body string
		timeout    time.Duration
		wantErr    string // "" for success
		wantStatus int
	}{
		{"success", "echo ok", 0, "", 0},
		{"exit status", "echo failing; exit 3", 0, "02-run.sh exited with status 3", 3},
		{"signal", "kill -9 $$", 0, "02-run.sh was killed by signal 9 (killed)", -1},
		{"timeout", "sleep 30", 300 * time.Millisecond, "02-run.sh timed out after 300ms", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			s := script(t, tt.body, &log)
			if tt.timeout > 0 {
				s.Timeout = tt.timeout
			}
			err := Run(context.Background(), s)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || err.Error() != tt.wantErr || se.ExitStatus != tt.wantStatus {
				t.Fatalf("err = %v (%#v), want %q status %d", err, se, tt.wantErr, tt.wantStatus)
			}
		})
	}
}

func TestArgsEnvAndDir(t *testing.T) {
	var log bytes.Buffer
	s := script(t, `echo "args=$1 $2"; echo "env=$HOIST_RELEASE"; echo "pwd=$(pwd)"; echo err >&2`, &log)
	if err := Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"args=v1.1.0 " + s.Dir, "env=v1.1.0", "pwd=" + s.Dir, "err"} {
		if !strings.Contains(log.String(), want+"\n") {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestTimeoutKillsProcessGroup checks that a child the script started dies
// with it, so a timed-out script leaves nothing running.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	var log bytes.Buffer
	pidFile := filepath.Join(t.TempDir(), "pid")
	s := script(t, "sleep 60 & echo $! > "+pidFile+"; wait", &log)
	s.Timeout = 300 * time.Millisecond
	start := time.Now()
	if err := Run(context.Background(), s); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %v", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && strings.Contains(string(data), ") Z ")
}

// TestOrphanHoldingOutput: the script exits 0 but leaves a process holding
// stdout; Run must still return promptly, as a success.
func TestOrphanHoldingOutput(t *testing.T) {
	var log bytes.Buffer
	s := script(t, "setsid sleep 30 & echo started", &log)
	start := time.Now()
	if err := Run(context.Background(), s); err != nil {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > waitDelay+3*time.Second {
		t.Fatalf("Run took %v", d)
	}
}

func TestCancel(t *testing.T) {
	var log bytes.Buffer
	s := script(t, "sleep 30", &log)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	err := Run(ctx, s)
	var se *Error
	if !errors.As(err, &se) || se.Timeout != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestProgressAndLog: progress lines are reported, and every line reaches
// Spec.Log in order, the last one even without its newline.
func TestProgressAndLog(t *testing.T) {
	var log bytes.Buffer
	s := script(t, `echo "::progress 10 Pulling images"
echo "::progress 250 out of range"
echo "::progress x bad"
echo "::progress 60"
i=0; while [ $i -lt 80 ]; do echo "line $i"; i=$((i+1)); done
printf 'no newline at end'`, &log)
	var mu sync.Mutex
	var got []string
	s.Progress = func(n int, text string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%d %s", n, text))
	}
	if err := Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if want := []string{"10 Pulling images", "60 "}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("progress = %q, want %q", got, want)
	}
	want := []string{"::progress 10 Pulling images", "::progress 250 out of range", "::progress x bad", "::progress 60"}
	for i := range 80 {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "no newline at end")
	if got := log.String(); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("log =\n%s", got)
	}
}

func TestLongLinesAreSplit(t *testing.T) {
	var lines []string
	w := &lineWriter{emit: func(l string) { lines = append(lines, l) }}
	w.Write(bytes.Repeat([]byte("a"), maxLine*2+10))
	w.Write([]byte("b\r\nc"))
	w.flush()
	if len(lines) != 4 || len(lines[0]) != maxLine || lines[2] != strings.Repeat("a", 10)+"b" || lines[3] != "c" {
		t.Fatalf("lines: %d, lens %d", len(lines), len(lines[0]))
	}
}

func TestParseProgress(t *testing.T) {
	tests := []struct {
		line, text string // text is what ParseProgress returns with n and ok
		n          int
		ok         bool
	}{
		{"::progress 0", "", 0, true},
		{"::progress 100 Done ", "Done", 100, true},
		{"::progress 101 x", "", 0, false},
		{"::progress -1 x", "", 0, false},
		{"  ::progress 5 x", "", 0, false},
		{"::progress", "", 0, false},
		{"::progress 5 " + strings.Repeat("é", 200), strings.Repeat("é", 100), 5, true},
	}
	for _, tt := range tests {
		n, text, ok := ParseProgress(tt.line)
		if n != tt.n || text != tt.text || ok != tt.ok {
			t.Errorf("ParseProgress(%.30q) = %d %.20q %v", tt.line, n, text, ok)
		}
	}
}

// TestStructuredOutput runs scripts that print one line each and checks the
// entry it becomes: with StructuredOutput, a logrus JSON line is an entry of
// its own; anything else, or any line without the option, is the message
// of an info entry.
func TestStructuredOutput(t *testing.T) {
	const warn = `{"level":"warning","msg":"restored release differs","time":"2001-02-03T04:05:06Z","version":"1.2.0","progress":2}`
	tests := []struct {
		name       string
		line       string
		structured bool
		level, msg string
		fields     map[string]any // beyond script, stream and trigger
	}{
		{"entry", warn, true, "warning", "restored release differs", map[string]any{"version": "1.2.0", "progress": 2.0}},
		{"option off", warn, false, "info", warn, nil},
		{"fatal", `{"level":"fatal","msg":"cannot go on"}`, true, "error", "cannot go on", nil},
		{"panic", `{"level":"panic","msg":"oops","error":"boom"}`, true, "error", "oops", map[string]any{"error": "boom"}},
		{"no level", `{"msg":"hello","version":"1.2.0"}`, true, "info", `{"msg":"hello","version":"1.2.0"}`, nil},
		{"unknown level", `{"level":"loud","msg":"hello"}`, true, "info", `{"level":"loud","msg":"hello"}`, nil},
		{"msg not a string", `{"level":"info","msg":3}`, true, "info", `{"level":"info","msg":3}`, nil},
		{"not json", `{"level":"info","msg":"cut`, true, "info", `{"level":"info","msg":"cut`, nil},
		{"plain", "level=error msg=text", true, "info", "level=error msg=text", nil},
		{"clash", `{"level":"error","msg":"forged","script":"01-run.sh","stream":"stdout","trigger":"rollback","signal":"update"}`,
			true, "error", "forged", map[string]any{"signal": "update",
				"fields.script": "01-run.sh", "fields.stream": "stdout", "fields.trigger": "rollback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw, entries bytes.Buffer
			s := script(t, "printf '%s\\n' '"+tt.line+"' >&2", &raw)
			logger := logrus.New()
			logger.SetOutput(&entries)
			logger.SetFormatter(&logrus.JSONFormatter{})
			s.Logger = logger.WithField("trigger", "update")
			s.StructuredOutput = tt.structured
			if err := Run(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if raw.String() != tt.line+"\n" {
				t.Errorf("log writer got %q, want the raw line", raw.String())
			}
			var got map[string]any
			if err := json.Unmarshal(entries.Bytes(), &got); err != nil {
				t.Fatalf("want one JSON entry, got %q: %v", entries.String(), err)
			}
			want := map[string]any{"level": tt.level, "msg": tt.msg, "script": "02-run.sh", "stream": "stderr", "trigger": "update"}
			maps.Copy(want, tt.fields)
			ts, _ := got["time"].(string)
			delete(got, "time")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("entry = %v, want %v", got, want)
			}
			if ts == "" || strings.HasPrefix(ts, "2001") {
				t.Errorf("time = %q, want the logger's own", ts)
			}
		})
	}
}
