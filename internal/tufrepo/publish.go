package tufrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"aead.dev/minisign"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Keys are the minisign secret keys a publisher signs with.
type Keys struct {
	// Key signs the release and the targets, snapshot and timestamp roles.
	Key string
	// RootKey signs the root; empty means Key.
	RootKey string
	// PasswordFile holds the password of encrypted keys.
	PasswordFile string
}

// load returns the key and the root key.
func (k Keys) load() (key, rootKey minisign.PrivateKey, err error) {
	if key, err = release.LoadPrivateKey(k.Key, k.PasswordFile); err != nil {
		return key, rootKey, err
	}
	if k.RootKey == "" {
		return key, key, nil
	}
	rootKey, err = release.LoadPrivateKey(k.RootKey, k.PasswordFile)
	return key, rootKey, err
}

// Options say how to publish a release.
type Options struct {
	Keys
	// App is the app id of the release; empty takes "app" of info.json.
	App string
	// Tarball also writes the release as one tar.gz target, APP.tar.gz.
	Tarball bool
	// Expires is the lifetime of the new timestamp (0: the default).
	Expires time.Duration
	// Now is the time metadata expiry counts from (zero: time.Now()).
	Now time.Time
}

func (o Options) times() (time.Time, time.Duration) {
	now, expires := o.Now, o.Expires
	if now.IsZero() {
		now = time.Now()
	}
	if expires == 0 {
		expires = DefaultTimestampExpiry
	}
	return now, expires
}

// Result says what a publish did.
type Result struct {
	Tag string
	// Unchanged is true when the same release was already published.
	Unchanged bool
	// Objects and Bytes count the objects written (new content only).
	Objects int
	Bytes   int64
}

// ErrRepublish refuses a version already published with other content.
var ErrRepublish = errors.New("version already published with other content")

// Publish signs the release work tree src as `hoist release sign` does,
// in a copy so that src is not changed, and adds it to the repository in
// out, creating the repository when out holds none.
func Publish(ctx context.Context, src, out string, opts Options) (Result, error) {
	key, rootKey, err := opts.load()
	if err != nil {
		return Result{}, err
	}
	tmp, err := os.MkdirTemp("", "hoist-publish-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	stage := filepath.Join(tmp, "release")
	if err := os.CopyFS(stage, withoutGit{os.DirFS(src)}); err != nil {
		return Result{}, fmt.Errorf("copy %s: %w", src, err)
	}
	err = release.Sign(ctx, stage, release.SignOptions{Keys: []string{opts.Key}, PasswordFile: opts.PasswordFile, App: opts.App})
	if err != nil {
		return Result{}, err
	}
	rel, err := readSigned(stage)
	if err != nil {
		return Result{}, err
	}
	now, expires := opts.times()
	r, err := openRepo(out, now)
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	if r.root == nil {
		err = r.create(rootKey, key)
	} else {
		err = r.renewRoot(rootKey)
	}
	if err != nil {
		return Result{}, err
	}
	if _, err := r.signer(key, metadata.TARGETS); err != nil {
		return Result{}, err
	}
	res := Result{Tag: "v" + rel.manifest.Version}
	if old, ok := r.targets.Signed.Targets[Target(res.Tag, ManifestName)]; ok {
		if hex.EncodeToString(old.Hashes["sha256"]) == sha256Hex(rel.files[ManifestName]) {
			res.Unchanged = true
			return res, nil
		}
		return res, fmt.Errorf("%s: %w; publish it as a new version", res.Tag, ErrRepublish)
	}
	sizes, err := r.putObjects(ctx, stage, rel.manifest, &res)
	if err != nil {
		return res, err
	}
	if rel.files[ObjectsName], err = json.Marshal(sizes); err != nil {
		return res, err
	}
	if opts.Tarball {
		if err := r.putTarball(ctx, res.Tag, stage, rel.manifest); err != nil {
			return res, err
		}
	}
	if err := r.putTargets(res.Tag, rel); err != nil {
		return res, err
	}
	return res, r.commit(key, expires)
}

// signed is a signed release read back from its staging copy.
type signed struct {
	manifest *manifest.Manifest
	files    map[string][]byte // target name → content
	custom   Custom
}

func readSigned(stage string) (signed, error) {
	d, err := os.OpenRoot(stage)
	if err != nil {
		return signed{}, err
	}
	defer d.Close()
	rel := signed{files: map[string][]byte{}}
	if rel.files[ManifestName], err = safefs.ReadFile(d, approot.ManifestFile, manifest.MaxSize); err != nil {
		return rel, err
	}
	if rel.files[SignatureName], err = safefs.ReadFile(d, approot.SignatureFile, manifest.MaxSize); err != nil {
		return rel, err
	}
	if rel.files[InfoName], err = infofile.ReadFile(d, approot.InfoFile); err != nil {
		return rel, err
	}
	if rel.manifest, err = manifest.Parse(rel.files[ManifestName]); err != nil {
		return rel, err
	}
	if err := json.Unmarshal(rel.files[InfoName], &rel.custom.Hoist); err != nil {
		return rel, fmt.Errorf("parse %s: %w", approot.InfoFile, err)
	}
	rel.custom.Hoist.App = rel.manifest.App
	rel.custom.Hoist.Version = rel.manifest.Version
	return rel, nil
}

// putObjects writes each regular file of m in stage to objects/<sha256>
// unless that object exists (objects are immutable), and returns the
// size of every object of the release.
func (r *repo) putObjects(ctx context.Context, stage string, m *manifest.Manifest, res *Result) (Sizes, error) {
	if err := r.dir.MkdirAll(ObjectsDir, 0o755); err != nil {
		return nil, err
	}
	src, err := os.OpenRoot(stage)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	sizes := Sizes{}
	for _, e := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.IsLink() {
			continue
		}
		st, err := src.Lstat(e.Path)
		if err != nil {
			return nil, err
		}
		sizes[e.SHA256] = st.Size()
		if _, err := r.dir.Lstat(Object(e.SHA256)); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err := copyObject(src, e.Path, r.dir, Object(e.SHA256)); err != nil {
			return nil, err
		}
		res.Objects++
		res.Bytes += st.Size()
	}
	return sizes, nil
}

func copyObject(src *os.Root, name string, dst *os.Root, object string) error {
	f, err := src.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return safefs.Write(dst, object, f, 0o644)
}

// putTargets writes the release's target files and lists them in targets.
func (r *repo) putTargets(tag string, rel signed) error {
	if err := r.dir.MkdirAll(path.Join(TargetsDir, tag), 0o755); err != nil {
		return err
	}
	custom, err := json.Marshal(rel.custom)
	if err != nil {
		return err
	}
	raw := json.RawMessage(custom)
	for _, name := range []string{ManifestName, SignatureName, InfoName, ObjectsName} {
		data := rel.files[name]
		if err := safefs.WriteFile(r.dir, path.Join(TargetsDir, tag, name), data, 0o644); err != nil {
			return err
		}
		t, err := metadata.TargetFile().FromBytes(Target(tag, name), data, "sha256")
		if err != nil {
			return err
		}
		if name == ManifestName {
			t.Custom = &raw
		}
		r.targets.Signed.Targets[t.Path] = t
	}
	return nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// withoutGit is a file system that hides every .git entry: a release
// never includes one (manifest.Build skips them), so publishing from a git
// work tree does not copy its history, nor trip over the sockets and
// fifos git tools leave there.
type withoutGit struct{ fsys fs.FS }

func (w withoutGit) Open(name string) (fs.File, error) { return w.fsys.Open(name) }

func (w withoutGit) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(w.fsys, name)
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == ".git" }), err
}

func (w withoutGit) ReadLink(name string) (string, error) { return fs.ReadLink(w.fsys, name) }

func (w withoutGit) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(w.fsys, name) }
