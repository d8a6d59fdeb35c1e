package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/hashicorp/go-version"
	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/history"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/lock"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
	"github.com/hoist-dev/hoist/internal/tufclient"
)

// Paths of the engine's own state, relative to the root.
const (
	journalFile = approot.StateDir + "/journal"
	// undoDir holds the state of every path the transaction in progress
	// changes; an apply's becomes .hoist/backups/<old version> on commit.
	undoDir = approot.StateDir + "/undo"
	// trashDir holds what a cleanup removes — the used backup, the undo
	// area, staging clones — moved there by one rename each, so that the
	// status can report the outcome before thousands of files are deleted.
	// Nothing in it is ever needed again: settling a transaction empties
	// it, and so does every recover.
	trashDir = approot.StateDir + "/trash"
)

// Options configure an Engine.
type Options struct {
	Root string // the app root, absolute
	Log  logrus.FieldLogger
	// CrashAt is a test hook: the engine kills itself with SIGKILL right
	// after journaling this step (one of Steps). Empty in production.
	CrashAt Step
}

// Engine changes one app root. Methods take its lock themselves.
type Engine struct {
	dir      string
	root     *os.Root // the app root
	statuses *os.Root // statuses/, writable by the manager: see statusfile
	cfg      config.Config
	log      logrus.FieldLogger
	crashAt  Step
	history  *history.Store
}

// Open opens the app root in opts.Root and reads its config.
func Open(opts Options) (*Engine, error) {
	root, err := os.OpenRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("app root: %w", err)
	}
	cfg, err := config.Load(root)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("%s is not a usable app root (run hoist init): %w", opts.Root, err)
	}
	statuses, err := root.OpenRoot(approot.StatusesDir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open %s: %w", approot.StatusesDir, err)
	}
	return &Engine{dir: opts.Root, root: root, statuses: statuses, cfg: cfg, log: opts.Log, crashAt: opts.CrashAt,
		history: history.NewStore(root, statuses)}, nil
}

// Close releases the engine's handles.
func (e *Engine) Close() error {
	e.statuses.Close()
	return e.root.Close()
}

// lockedError reports the lock as CONTRACT §5 words it, keeping the
// holder's details for the log.
type lockedError struct{ err error }

func (l lockedError) Error() string { return "an update is already in progress" }
func (l lockedError) Unwrap() error { return l.err }

// lock takes the root's update lock.
func (e *Engine) lock() (*lock.Lock, error) {
	l, err := lock.Acquire(filepath.Join(e.dir, approot.LockFile))
	if errors.Is(err, exitcode.ErrLocked) {
		e.log.WithError(err).Info("lock held")
		return nil, lockedError{err}
	}
	if err != nil {
		return nil, err
	}
	if l.Previous.PID != 0 {
		e.log.WithFields(logrus.Fields{"pid": l.Previous.PID, "boot_id": l.Previous.BootID}).Warn("took over the lock of a process that died")
	}
	e.reserveStatusRoom()
	return l, nil
}

// release is the installed release, or the zero value on a root where none
// is installed yet.
type release struct {
	version  *version.Version // nil: none installed
	manifest *manifest.Manifest
}

func (r release) tag() string {
	if r.version == nil {
		return ""
	}
	return tag.Of(r.version)
}

// info is the part of info.json the engine reads.
type info struct {
	Version  string `json:"version"`
	Requires string `json:"requires"`
}

// readInfo reads dir/info.json. It does not refuse hard links (unlike
// safefs.ReadFile): during an update the live files share inodes with the
// staging clone and the undo area by design. It is capped at
// infofile.MaxSize, the manager's cap, like every info.json read.
func readInfo(dir *os.Root, name string) (info, error) {
	var in info
	data, err := readCapped(dir, name, infofile.MaxSize)
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return in, fmt.Errorf("parse %s: %w", name, err)
	}
	return in, nil
}

// readCapped reads a root-owned file of the live root. Not safefs.ReadFile:
// live files share inodes with backups by design, so their link count is
// above one.
func readCapped(dir *os.Root, name string, limit int64) ([]byte, error) {
	f, err := dir.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return safefs.ReadCapped(f, name, limit)
}

// installed reads the live release from info.json and hoist-release.json.
func (e *Engine) installed() (release, error) {
	v, data, err := e.readInstalled()
	if err != nil || data == nil {
		return release{version: v}, err
	}
	return parseInstalled(v, data)
}

// readInstalled reads the live release's version and the bytes of its
// manifest (nil when it has none); parseInstalled makes the release.
func (e *Engine) readInstalled() (*version.Version, []byte, error) {
	in, err := readInfo(e.root, approot.InfoFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("installed release: %w", err)
	}
	v, err := tag.Parse("v" + in.Version)
	if err != nil {
		return nil, nil, fmt.Errorf("installed release: %s: %w", approot.InfoFile, err)
	}
	data, err := readCapped(e.root, approot.ManifestFile, manifest.MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		// A root installed by another tool: nothing to remove, but every
		// file the update replaces is still backed up.
		e.log.Warnf("installed release %s has no %s", in.Version, approot.ManifestFile)
		return v, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("installed release: %w", err)
	}
	return v, data, nil
}

func parseInstalled(v *version.Version, data []byte) (release, error) {
	m, err := manifest.Parse(data)
	if err != nil {
		return release{}, fmt.Errorf("installed release: %w", err)
	}
	return release{version: v, manifest: m}, nil
}

// publishLive writes the copies of the live root the manager reads (it
// sees nothing else of the root): statuses/info.json and the trusted TUF
// root its discovery of a static repository starts from.
func (e *Engine) publishLive() error {
	return errors.Join(e.publishInfo(), tufclient.PublishRoot(e.root, e.statuses))
}

// publishInfo writes statuses/info.json, the copy of the live info.json,
// or removes it when no release is installed.
func (e *Engine) publishInfo() error {
	data, err := readCapped(e.root, approot.InfoFile, infofile.MaxSize)
	name := path.Base(approot.StatusInfoCopy)
	if errors.Is(err, fs.ErrNotExist) {
		return ignoreMissing(e.statuses.Remove(name))
	}
	if err != nil {
		return err
	}
	return safefs.WriteFile(e.statuses, name, data, 0o644)
}
