package engine

import (
	"fmt"
	"os"
	"slices"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/manifest"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
)

// checkTrust refuses, before anything changes, a release of another app
// than the pinned one, and one carrying a key change the node could not
// adopt once it is installed (see release.Adopt). dir is the verified
// staging clone of m.
func (e *Engine) checkTrust(dir *os.Root, m *manifest.Manifest) error {
	if e.cfg.App != "" && m.App != e.cfg.App {
		return rejectf("it is a release of app %q, but this node runs app %q", m.App, e.cfg.App)
	}
	files, err := readTrustFiles(dir)
	if err != nil {
		return err
	}
	_, err = releasepkg.Adopt(e.cfg.Pubkeys, files)
	return err
}

// adoptTrust runs once a release is installed: it pins the release's app
// when none is pinned yet and adopts the key change the release carries,
// rewriting the config atomically. It reads the live root, so it can run
// again after a crash; a second run changes nothing.
func (e *Engine) adoptTrust() error {
	files, err := readTrustFiles(e.root)
	if err != nil {
		return fmt.Errorf("adopt the installed release's app and keys: %w", err)
	}
	trust, err := releasepkg.Adopt(e.cfg.Pubkeys, files)
	if err != nil {
		// checkTrust passed on the same bytes before the install: only a
		// root changed since gets here, and retrying would not help.
		e.log.WithError(err).Error("not adopting the app and keys of the installed release")
		return nil
	}
	cfg := e.cfg
	if cfg.App == "" {
		cfg.App = trust.App
	}
	cfg.Pubkeys = trust.Pubkeys
	if cfg.App == e.cfg.App && slices.Equal(cfg.Pubkeys, e.cfg.Pubkeys) {
		return nil
	}
	if err := config.Save(e.root, cfg); err != nil {
		return fmt.Errorf("adopt the installed release's app and keys: %w", err)
	}
	e.log.WithField("app", cfg.App).WithField("pubkeys", len(cfg.Pubkeys)).Info("config now pins the app and trusts the keys of the installed release")
	e.cfg = cfg
	return nil
}

// readTrustFiles reads what release.Adopt needs from a release tree,
// staging clone or live root, whose files may share inodes by design.
func readTrustFiles(dir *os.Root) (releasepkg.Files, error) {
	return releasepkg.ReadFiles(func(name string, limit int64) ([]byte, error) {
		return readCapped(dir, name, limit)
	})
}
