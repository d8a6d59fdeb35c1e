package engine

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

// TestProgressWithinAStepIsThrottled: counting files within one step
// writes the status (two fsyncs each) at most every statusEvery, while the
// next step is written at once.
func TestProgressWithinAStepIsThrottled(t *testing.T) {
	dir := t.TempDir()
	statuses, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer statuses.Close()
	var logged bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logged)
	r := (&Engine{statuses: statuses, log: log}).newReporter("v1.1.0")
	start := time.Now()
	r.now = func() time.Time { return start } // however slow this machine is

	r.enter(bandInstall, "Installing files")
	count := r.count(bandInstall, "Installing files")
	for done := range 10 {
		count(done+1, 10)
	}
	if writes := strings.Count(logged.String(), "\n"); writes != 1 {
		t.Errorf("%d status writes for one step of 10 files, want 1:\n%s", writes, logged.String())
	}
	r.enter(bandScript01, "Running 01-run.sh")
	st, err := statusfile.Read(statuses)
	if err != nil {
		t.Fatal(err)
	}
	if st.Progress != bandScript01.span().lo || st.Description != "Running 01-run.sh" {
		t.Errorf("status after the next step: %+v", st)
	}
}
