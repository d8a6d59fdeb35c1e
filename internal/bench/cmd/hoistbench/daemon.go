package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/bench"
)

// daemon is a long-running process the bench started in its own process
// group, with its output in a log file.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

// startDaemon starts argv with env added to cleanEnv, output to logPath,
// and waits until the log contains ready.
func startDaemon(ctx context.Context, argv, env []string, logPath, ready string) (*daemon, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(d.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(logPath)
		switch {
		case strings.Contains(string(data), ready):
			return d, nil
		case ctx.Err() != nil || time.Now().After(deadline):
			d.stop()
			return nil, fmt.Errorf("%s not ready (%q not logged): %s", argv[0], ready, tail(string(data), 300))
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s exited: %s", argv[0], tail(string(data), 300))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// usage reads the daemon's process tree from /proc.
func (d *daemon) usage() (bench.Usage, error) { return bench.TreeUsage("/proc", d.pid()) }

// stop sends SIGTERM to the daemon's process group and waits for the
// daemon to exit, killing the group after 10 s.
func (d *daemon) stop() {
	syscall.Kill(-d.pid(), syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.pid(), syscall.SIGKILL)
		<-d.done
	}
}

// karenScript is the baseline watcher, in the shape of Umbrel's karen: a
// bash loop over inotifywait that removes each signal and starts its
// trigger in the background.
const karenScript = `signals=$1 triggers=$2
inotifywait -m -e close_write,moved_to --format '%f' "$signals" | while IFS= read -r signal; do
  rm -f -- "$signals/$signal"
  if [[ -x "$triggers/$signal" ]]; then
    "$triggers/$signal" &
  fi
done
`

// watcher is one of the two programs that turn signals into trigger runs,
// running on its own app root.
type watcher struct {
	name    string // "hoist" or "bash"
	signals string // its events/signals directory
	*daemon
}

// startWatchers prepares two app roots under dir, whose triggers/ hold
// copies of trigger (one per name), and starts hoist-supervisor on the
// first and the karen loop on the second, with env added to theirs.
func (b *suite) startWatchers(ctx context.Context, dir, trigger string, names, env []string) ([]*watcher, error) {
	hoistRoot, bashRoot := dir+"/hoist", dir+"/bash"
	if _, err := b.run(ctx, b.work, b.hoist, "init", hoistRoot, "--repo", "https://example.invalid/app.git", "--pub", b.pub); err != nil {
		return nil, err
	}
	for _, root := range []string{hoistRoot, bashRoot} {
		if err := installTriggers(root+"/"+approot.TriggersDir, root+"/"+approot.SignalsDir, trigger, names); err != nil {
			return nil, err
		}
	}
	h, err := startDaemon(ctx, []string{b.supervisor, "--root", hoistRoot}, env, dir+"/hoist-supervisor.log", "watching signals")
	if err != nil {
		return nil, err
	}
	k, err := startDaemon(ctx, []string{"bash", "-c", karenScript, "karen", bashRoot + "/" + approot.SignalsDir, bashRoot + "/" + approot.TriggersDir},
		env, dir+"/karen.log", "Watches established.")
	if err != nil {
		h.stop()
		return nil, err
	}
	return []*watcher{
		{name: "hoist", signals: hoistRoot + "/" + approot.SignalsDir, daemon: h},
		{name: "bash", signals: bashRoot + "/" + approot.SignalsDir, daemon: k},
	}, nil
}

func stopAll(ws []*watcher) {
	for _, w := range ws {
		w.stop()
	}
}

// installTriggers makes triggersDir hold trigger under each name (hard
// links of one copy, so a run's argv[0] names its signal) and makes sure
// signalsDir exists.
func installTriggers(triggersDir, signalsDir, trigger string, names []string) error {
	if err := os.MkdirAll(triggersDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(signalsDir, 0o770); err != nil {
		return err
	}
	data, err := os.ReadFile(trigger)
	if err != nil {
		return err
	}
	first := triggersDir + "/" + names[0]
	if err := os.WriteFile(first, data, 0o755); err != nil {
		return err
	}
	for _, n := range names[1:] {
		if err := os.Link(first, triggersDir+"/"+n); err != nil {
			return err
		}
	}
	return nil
}
