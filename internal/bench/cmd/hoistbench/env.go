package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// suite is one run: where the binaries are, its work directory, its key.
type suite struct {
	opt        options
	work       string
	temp       bool      // work was created here and is removed at the end
	progress   io.Writer // one line per step, so a long run shows where it is
	hoist      string
	supervisor string
	manager    string
	stamp      string // helper binaries, next to hoistbench
	fileserver string
	key, pub   string // release signing key made by `hoist release keygen`
}

func newBench(opt options, progress io.Writer) (*suite, error) {
	bin, err := filepath.Abs(opt.bin)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b := &suite{
		opt:        opt,
		progress:   progress,
		hoist:      filepath.Join(bin, "hoist"),
		supervisor: filepath.Join(bin, "hoist-supervisor"),
		manager:    filepath.Join(bin, "hoist-manager"),
		stamp:      filepath.Join(filepath.Dir(exe), "stamp"),
		fileserver: filepath.Join(filepath.Dir(exe), "fileserver"),
	}
	for _, p := range []string{b.hoist, b.supervisor, b.manager, b.stamp, b.fileserver} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w (run make build, and build internal/bench/cmd/... next to hoistbench)", err)
		}
	}
	b.work = opt.work
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "hoistbench-"); err != nil {
			return nil, err
		}
		b.temp = !opt.keep
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		return nil, err
	}
	b.key = filepath.Join(b.work, "keys", "release.key")
	b.pub = filepath.Join(b.work, "keys", "release.pub")
	if err := os.MkdirAll(filepath.Dir(b.key), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(b.key); err != nil {
		if _, err := b.run(context.Background(), b.work, b.hoist, "release", "keygen", "--out", strings.TrimSuffix(b.key, ".key")); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *suite) cleanup() {
	if b.temp {
		os.RemoveAll(b.work)
	} else {
		b.logf("work directory kept: %s", b.work)
	}
}

func (b *suite) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// path returns a path in the work directory.
func (b *suite) path(elem ...string) string {
	return filepath.Join(append([]string{b.work}, elem...)...)
}

// run runs name with args in dir under cleanEnv and returns how long it
// took; a failure carries the end of its output.
func (b *suite) run(ctx context.Context, dir, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(out.String(), 400))
	}
	return took, nil
}

// output runs name like run and returns its standard output.
func (b *suite) output(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(stderr.String(), 400))
	}
	return out, nil
}

// bash runs script with bash, its arguments as $1…, and times it.
func (b *suite) bash(ctx context.Context, dir, script string, args ...string) (time.Duration, error) {
	quiesce()
	return b.run(ctx, dir, "bash", append([]string{"-euo", "pipefail", "-c", script, "bash"}, args...)...)
}

// cleanEnv is the environment of every process the bench starts: no
// inherited GIT_* variables or git config, C locale, a PATH.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOIST_") && !strings.HasPrefix(kv, "LC_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// quiesce writes all dirty pages back before a timed step. hoist flushes
// what it writes (syncfs) and the bash way does not; without this, a step
// of one would wait for the writeback of the other's earlier step.
func quiesce() { unix.Sync() }

// monotonic is CLOCK_MONOTONIC in ns, the clock the stamp helper reports.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot fail on Linux with a valid clock id
	}
	return ts.Nano()
}

// describeMachine is the line BENCHMARKS.md needs: date, nproc, CPU,
// kernel, and the versions of what is compared.
func describeMachine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var uts unix.Utsname
	kernel := "unknown kernel"
	if unix.Uname(&uts) == nil {
		kernel = "Linux " + unix.ByteSliceToString(uts.Release[:])
	}
	gitVersion := "git ?"
	if out, err := exec.Command("git", "--version").Output(); err == nil {
		gitVersion = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("Date: %s  \nMachine: nproc %d, %s, %s, %s; %s",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpu, kernel, runtime.Version(), gitVersion)
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
