package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/safefs"
)

const (
	// KeepLogs is how many runs keep their script output in LogDir.
	KeepLogs = 10
	// MaxLog caps a kept log: the tail of the run's output is kept, as the
	// end says what failed.
	MaxLog = 1 << 20
	// runLogDir holds the output of the runs in progress, root-only.
	runLogDir = ".hoist/logs"
)

// runLog is the root-only file that collects run id's script output while
// it runs (and across a crash: recover appends to it).
func runLog(id string) string { return path.Join(runLogDir, "run-"+id+".log") }

// logName is the published log of run id, relative to statuses/.
func logName(id string) string { return path.Join(LogDir, id+".log") }

// RunLog opens the file collecting run id's script output, for appending.
// The caller closes it.
func (s *Store) RunLog(id string) (*os.File, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("history: bad id %q", clipText(id))
	}
	if err := s.root.MkdirAll(runLogDir, 0o700); err != nil {
		return nil, err
	}
	return s.root.OpenFile(runLog(id), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// KeepLog publishes the tail of run id's output (at most MaxLog bytes,
// from a line start, redacted) as statuses/history/<id>.log, deletes the
// logs of older runs beyond KeepLogs, and removes the run's own file. A
// run whose output file is gone (published by an earlier attempt) keeps
// what was published.
func (s *Store) KeepLog(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("history: bad id %q", clipText(id))
	}
	data, err := tail(s.root, runLog(id), MaxLog)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := s.logDir(); err != nil {
		return err
	}
	if err := safefs.WriteFile(s.statuses, logName(id), []byte(redact.String(string(data))), 0o644); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return errors.Join(s.pruneLogs(), s.root.Remove(runLog(id)))
}

// logDir makes statuses/history a directory of its own, replacing a
// file or symlink someone put in its place.
func (s *Store) logDir() error {
	fi, err := s.statuses.Lstat(LogDir)
	if err == nil && fi.IsDir() {
		return safefs.Sweep(s.statuses, LogDir) // temp files of a write a crash cut short
	}
	if err == nil {
		err = s.statuses.Remove(LogDir)
	} else if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err == nil {
		err = s.statuses.Mkdir(LogDir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("history: log directory: %w", err)
	}
	return nil
}

// tail reads the last limit bytes of dir/name, cut to start at a line.
func tail(dir *os.Root, name string, limit int64) ([]byte, error) {
	f, err := dir.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, start, err := safefs.ReadTail(f, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if start > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, nil
}

// pruneLogs deletes the kept logs beyond the newest KeepLogs. It reads
// the directory in batches and holds at most KeepLogs+1 names, however
// many there are; names that are not a log it wrote are left alone.
func (s *Store) pruneLogs() error {
	d, err := s.statuses.Open(LogDir)
	if err != nil {
		return err
	}
	defer d.Close()
	var newest []string // ids, by descending sequence number
	var errs []error
	for {
		ents, err := d.ReadDir(256)
		for _, ent := range ents {
			id, ok := cutLogName(ent.Name())
			if !ok || !ent.Type().IsRegular() {
				continue
			}
			i, _ := slices.BinarySearchFunc(newest, id, func(a, b string) int { return seq(b) - seq(a) })
			newest = slices.Insert(newest, i, id)
			if len(newest) > KeepLogs {
				errs = append(errs, s.statuses.Remove(logName(newest[KeepLogs])))
				newest = newest[:KeepLogs]
			}
		}
		if errors.Is(err, io.EOF) {
			return errors.Join(errs...)
		}
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
}

// cutLogName returns the id of a log's file name.
func cutLogName(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, ".log")
	return id, ok && ValidID(id)
}
