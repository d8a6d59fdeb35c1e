package approot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// InitOptions are the settings of a new app root.
type InitOptions struct {
	// Templates holds events/, triggers/ and statuses/ to copy.
	Templates fs.FS
	// ManagerUID and ManagerGID own the directories the manager writes
	// (events/signals/, statuses/). Ignored unless running as root.
	ManagerUID, ManagerGID int
}

// Init lays out an app root in dir from the templates and returns it opened.
// The caller writes the config last: a root with a config is complete, and
// Init refuses it, so it never overwrites a live root's settings.
func Init(dir string, opts InitOptions) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create app root: %w", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("%s is already an app root (%s exists)", dir, ConfigFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := layout(root, opts); err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

func layout(root *os.Root, opts InitOptions) error {
	if err := copyTemplates(root, opts.Templates); err != nil {
		return err
	}
	for _, d := range []string{StateDir, LogsDir, BackupsDir} {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if err := root.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	for _, d := range []string{SignalsDir, StatusesDir} {
		if err := root.Chmod(d, 0o770); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
		if os.Geteuid() == 0 {
			if err := root.Lchown(d, opts.ManagerUID, opts.ManagerGID); err != nil {
				return fmt.Errorf("chown %s to the manager: %w", d, err)
			}
		}
	}
	return safefs.SyncDir(root, ".")
}

// copyTemplates copies every template file, keeping the executable bit of
// triggers. Placeholder files (.gitkeep) only carry their directory.
func copyTemplates(root *os.Root, templates fs.FS) error {
	return fs.WalkDir(templates, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			// Explicit modes, whatever the umask: the supervisor refuses
			// triggers from a triggers/ others can write to.
			if err := root.MkdirAll(p, 0o755); err != nil {
				return err
			}
			return root.Chmod(p, 0o755)
		}
		if path.Base(p) == ".gitkeep" {
			return nil
		}
		data, err := fs.ReadFile(templates, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if path.Dir(p) == TriggersDir {
			mode = 0o755
		}
		return safefs.WriteFile(root, p, data, mode)
	})
}
