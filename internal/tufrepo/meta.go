package tufrepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"time"

	"aead.dev/minisign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tufkey"
)

// Metadata lifetimes. The timestamp's is the publisher's (--expires);
// the others are renewed by every publish, root when it is near its end.
const (
	DefaultTimestampExpiry = 30 * 24 * time.Hour
	roleExpiry             = 365 * 24 * time.Hour
	rootRenewal            = 90 * 24 * time.Hour
	maxMetadata            = 16 << 20
)

// repo is the metadata of a static repository, opened to change it.
type repo struct {
	dir       *os.Root
	root      *metadata.Metadata[metadata.RootType] // nil: a new repository
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	now       time.Time
}

// openRepo reads the metadata of the repository in dir, creating dir.
// A directory without metadata/root.json is a new repository.
func openRepo(dir string, now time.Time) (*repo, error) {
	if err := os.MkdirAll(path.Join(dir, MetadataDir), 0o755); err != nil {
		return nil, err
	}
	d, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	r := &repo{dir: d, now: now.UTC()}
	data, err := r.read("root.json")
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := r.load(data); err != nil {
		d.Close()
		return nil, err
	}
	return r, nil
}

func (r *repo) Close() error { return r.dir.Close() }

// load parses root.json and follows timestamp → snapshot → targets.
func (r *repo) load(rootData []byte) error {
	var err error
	if r.root, err = metadata.Root().FromBytes(rootData); err != nil {
		return fmt.Errorf("%s/root.json: %w", MetadataDir, err)
	}
	data, err := r.read("timestamp.json")
	if errors.Is(err, fs.ErrNotExist) {
		// The first publish stopped after writing the root: nothing else
		// was published, the next one starts the other roles.
		r.emptyRoles()
		return nil
	}
	if err != nil {
		return err
	}
	if r.timestamp, err = metadata.Timestamp().FromBytes(data); err != nil {
		return fmt.Errorf("%s/timestamp.json: %w", MetadataDir, err)
	}
	snap := r.timestamp.Signed.Meta["snapshot.json"]
	if snap == nil {
		return fmt.Errorf("%s/timestamp.json names no snapshot", MetadataDir)
	}
	if data, err = r.read(versioned(snap.Version, metadata.SNAPSHOT)); err != nil {
		return err
	}
	if r.snapshot, err = metadata.Snapshot().FromBytes(data); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tgt := r.snapshot.Signed.Meta["targets.json"]
	if tgt == nil {
		return fmt.Errorf("snapshot %d names no targets", snap.Version)
	}
	if data, err = r.read(versioned(tgt.Version, metadata.TARGETS)); err != nil {
		return err
	}
	if r.targets, err = metadata.Targets().FromBytes(data); err != nil {
		return fmt.Errorf("targets: %w", err)
	}
	return nil
}

func (r *repo) read(name string) ([]byte, error) {
	return safefs.ReadFile(r.dir, path.Join(MetadataDir, name), maxMetadata)
}

// versioned is the file name of version v of role: "3.snapshot.json".
func versioned(v int64, role string) string {
	return strconv.FormatInt(v, 10) + "." + role + ".json"
}

// create starts a new repository: rootKey is the root key, key the
// targets, snapshot and timestamp key.
func (r *repo) create(rootKey, key minisign.PrivateKey) error {
	r.root = metadata.Root(r.now.Add(roleExpiry))
	if err := authorize(r.root, rootKey, metadata.ROOT); err != nil {
		return err
	}
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := authorize(r.root, key, role); err != nil {
			return err
		}
	}
	r.emptyRoles()
	r.root.Signed.Version = 0 // bumped to 1 by writeRoot
	return r.writeRoot(rootKey)
}

// emptyRoles starts targets, snapshot and timestamp with no release, at
// version 0: the first commit writes version 1 of each.
func (r *repo) emptyRoles() {
	r.targets = metadata.Targets()
	r.targets.Signed.Version = 0
	r.snapshot = metadata.Snapshot()
	r.snapshot.Signed.Version = 0
	r.timestamp = metadata.Timestamp()
	r.timestamp.Signed.Version = 0
}

// authorize makes key a key of role in root.
func authorize(root *metadata.Metadata[metadata.RootType], key minisign.PrivateKey, role string) error {
	k, err := tufkey.Public(key.Public().(minisign.PublicKey))
	if err != nil {
		return err
	}
	return root.Signed.AddKey(k, role)
}

// signer returns key's signer after checking that root lists it for role.
func (r *repo) signer(key minisign.PrivateKey, role string) (signature.Signer, error) {
	k, err := tufkey.Public(key.Public().(minisign.PublicKey))
	if err != nil {
		return nil, err
	}
	id, err := k.ID()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(r.root.Signed.Roles[role].KeyIDs, id) {
		return nil, fmt.Errorf("key %X is not a %s key of this repository", key.ID(), role)
	}
	return tufkey.Signer(key)
}

// writeRoot bumps the root's version, signs it with keys (the root keys
// of the previous version and of this one) and writes N.root.json, then
// root.json.
func (r *repo) writeRoot(keys ...minisign.PrivateKey) error {
	r.root.Signed.Version++
	r.root.Signed.Expires = r.now.Add(roleExpiry)
	r.root.ClearSignatures()
	for _, key := range keys {
		s, err := tufkey.Signer(key)
		if err != nil {
			return err
		}
		if _, err := r.root.Sign(s); err != nil {
			return fmt.Errorf("sign root: %w", err)
		}
	}
	data, err := r.root.ToBytes(true)
	if err != nil {
		return err
	}
	if err := r.write(versioned(r.root.Signed.Version, metadata.ROOT), data); err != nil {
		return err
	}
	return r.write("root.json", data)
}

// renewRoot re-signs the root with rootKey when it expires within
// rootRenewal, so that a repository published to regularly never lets
// its root lapse.
func (r *repo) renewRoot(rootKey minisign.PrivateKey) error {
	if r.root.Signed.Expires.After(r.now.Add(rootRenewal)) {
		return nil
	}
	if _, err := r.signer(rootKey, metadata.ROOT); err != nil {
		return fmt.Errorf("the root expires on %s and must be renewed: %w", r.root.Signed.Expires.Format(time.DateOnly), err)
	}
	return r.writeRoot(rootKey)
}

// commit signs and writes new targets, snapshot and timestamp versions
// with key, in that order, the timestamp expiring after tsExpiry.
func (r *repo) commit(key minisign.PrivateKey, tsExpiry time.Duration) error {
	s, err := r.signer(key, metadata.TARGETS)
	if err != nil {
		return err
	}
	r.targets.Signed.Version++
	r.targets.Signed.Expires = r.now.Add(roleExpiry)
	if err := writeSigned(r, r.targets, s, versioned(r.targets.Signed.Version, metadata.TARGETS)); err != nil {
		return err
	}
	if s, err = r.signer(key, metadata.SNAPSHOT); err != nil {
		return err
	}
	r.snapshot.Signed.Version++
	r.snapshot.Signed.Expires = r.now.Add(roleExpiry)
	r.snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metadata.MetaFile(r.targets.Signed.Version)}
	if err := writeSigned(r, r.snapshot, s, versioned(r.snapshot.Signed.Version, metadata.SNAPSHOT)); err != nil {
		return err
	}
	return r.stamp(key, tsExpiry)
}

// stamp signs and writes a new timestamp.json naming the current snapshot.
func (r *repo) stamp(key minisign.PrivateKey, expiry time.Duration) error {
	s, err := r.signer(key, metadata.TIMESTAMP)
	if err != nil {
		return err
	}
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = r.now.Add(expiry)
	r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metadata.MetaFile(r.snapshot.Signed.Version)}
	return writeSigned(r, r.timestamp, s, timestampFile)
}

// timestampFile is the one metadata file nodes poll with conditional
// requests; see write.
const timestampFile = "timestamp.json"

// writeSigned signs meta with s alone and writes it to metadata/name.
func writeSigned[T metadata.Roles](r *repo, meta *metadata.Metadata[T], s signature.Signer, name string) error {
	meta.ClearSignatures()
	if _, err := meta.Sign(s); err != nil {
		return fmt.Errorf("sign %s: %w", name, err)
	}
	data, err := meta.ToBytes(true)
	if err != nil {
		return err
	}
	return r.write(name, data)
}

// write replaces metadata/name. timestamp.json always looks newer than the
// one it replaces, even within the same second, since nodes ask nginx "changed
// since?" and nginx answers from the mtime in seconds.
func (r *repo) write(name string, data []byte) error {
	if name == timestampFile {
		return safefs.WriteFileNewer(r.dir, path.Join(MetadataDir, name), data, 0o644)
	}
	return safefs.WriteFile(r.dir, path.Join(MetadataDir, name), data, 0o644)
}
