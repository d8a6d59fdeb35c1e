package tufrepo

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoRelease refuses a change to a release the repository does not list.
var ErrNoRelease = errors.New("no such release in the repository")

// SetRollout re-signs the phased rollout of release tag ("v1.3.0") in the
// custom metadata of its manifest target: rollout is the JSON object nodes
// read (validated by the caller: discovery.Rollout.Validate), nil removes
// it. The release's files and objects are untouched; a new targets
// version is committed as Publish commits one, timestamp.json last, so
// that halting a rollout is one quick signed change. Opts gives the keys,
// the timestamp's lifetime and the time.
func SetRollout(out, tag string, rollout json.RawMessage, opts Options) error {
	key, rootKey, err := opts.load()
	if err != nil {
		return err
	}
	r, expires, err := openExisting(out, opts)
	if err != nil {
		return err
	}
	defer r.Close()
	t, ok := r.targets.Signed.Targets[Target(tag, ManifestName)]
	if !ok || t.Custom == nil {
		return fmt.Errorf("%s: %w", tag, ErrNoRelease)
	}
	custom, err := withRollout(*t.Custom, rollout)
	if err != nil {
		return fmt.Errorf("%s: custom metadata: %w", tag, err)
	}
	if err := r.renewRoot(rootKey); err != nil {
		return err
	}
	t.Custom = &custom
	return r.commit(key, expires)
}

// withRollout returns the custom metadata custom with hoist.rollout set to
// rollout. Fields this version does not know are kept, so that an older
// hoist re-signing a newer publisher's release drops nothing.
func withRollout(custom, rollout json.RawMessage) (json.RawMessage, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(custom, &outer); err != nil {
		return nil, err
	}
	var hoist map[string]json.RawMessage
	if err := json.Unmarshal(outer["hoist"], &hoist); err != nil {
		return nil, err
	}
	if hoist == nil {
		return nil, errors.New(`"hoist" is null`)
	}
	if len(rollout) == 0 {
		delete(hoist, "rollout")
	} else {
		hoist["rollout"] = rollout
	}
	var err error
	if outer["hoist"], err = json.Marshal(hoist); err != nil {
		return nil, err
	}
	return json.Marshal(outer)
}
