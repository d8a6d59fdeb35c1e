package tufrepo

import (
	"errors"
	"fmt"
	"time"

	"aead.dev/minisign"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/release"
)

var errNoRepo = errors.New("no static release repository here (no metadata/root.json)")

// openExisting is openRepo for the commands that change a repository a
// publish made: without its root.json there is nothing to change. It
// opens it at opts' time and returns opts' timestamp lifetime.
func openExisting(out string, opts Options) (*repo, time.Duration, error) {
	now, expires := opts.times()
	r, err := openRepo(out, now)
	if err != nil {
		return nil, 0, err
	}
	if r.root == nil {
		r.Close()
		return nil, 0, fmt.Errorf("%s: %w", out, errNoRepo)
	}
	return r, expires, nil
}

// Refresh re-signs the timestamp of the repository in out, so that nodes
// keep trusting it: the job a weekly CI run does. It needs nothing but the
// keys. The other roles last a year from each publish; when one of them
// ends within 90 days (no release for months), it is renewed too, so that
// the weekly job alone keeps a quiet repository alive.
func Refresh(out string, keys Keys, now time.Time, expires time.Duration) error {
	key, rootKey, err := keys.load()
	if err != nil {
		return err
	}
	r, expires, err := openExisting(out, Options{Now: now, Expires: expires})
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.renewRoot(rootKey); err != nil {
		return err
	}
	renew := r.now.Add(rootRenewal)
	if r.targets.Signed.Expires.Before(renew) || r.snapshot.Signed.Expires.Before(renew) {
		return r.commit(key, expires)
	}
	return r.stamp(key, expires)
}

// RotateRoot makes newKeys the keys of every role: the new root version is
// signed by the old root key and the new one, so that nodes trusting the
// old root follow, and targets, snapshot and timestamp are re-signed with
// the new key.
func RotateRoot(out string, oldRootKey string, newKeys Keys, now time.Time, expires time.Duration) error {
	old, err := release.LoadPrivateKey(oldRootKey, newKeys.PasswordFile)
	if err != nil {
		return err
	}
	key, rootKey, err := newKeys.load()
	if err != nil {
		return err
	}
	r, expires, err := openExisting(out, Options{Now: now, Expires: expires})
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.signer(old, metadata.ROOT); err != nil {
		return err
	}
	r.root.Signed.Keys = map[string]*metadata.Key{}
	for _, role := range r.root.Signed.Roles {
		role.KeyIDs = []string{}
	}
	if err := authorize(r.root, rootKey, metadata.ROOT); err != nil {
		return err
	}
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := authorize(r.root, key, role); err != nil {
			return err
		}
	}
	signers := []minisign.PrivateKey{old}
	if !old.Equal(rootKey) {
		signers = append(signers, rootKey)
	}
	if err := r.writeRoot(signers...); err != nil {
		return err
	}
	return r.commit(key, expires)
}
