// Package backup saves the state some paths of the live root had before a
// change, so that the change can be undone: the undo area of an update in
// progress, and the kept backups that `hoist rollback` restores.
//
// A backup is a directory holding index.json (the Index: every saved path's
// kind, content hash, mode or link target, including "absent" for paths the
// change creates) and files/, the saved contents at their own paths.
// Contents are hard links to the live files' inodes, which the engine only
// ever replaces by rename and never rewrites in place, so a backup costs
// neither time nor disk space; where links are impossible they are copies.
//
// Invariants:
//   - Capture returns only when the backup is complete and on disk, and the
//     index is written last: a backup with an index is whole.
//   - Restore checks every content's sha256 before putting it back, so a
//     damaged backup is an error, never a silently wrong root.
//   - Kept backups form a stack: each was taken when the release it saves
//     was replaced by Index.To, and Seq orders them, newest highest.
package backup

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
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/safefs"
)

const (
	indexName = "index.json"
	filesDir  = "files"
	// maxIndex caps the index read back from disk.
	maxIndex = 64 << 20
)

// Index describes a backup.
type Index struct {
	// Version is the release whose state the backup holds ("" when the root
	// held none) and To the release the change installed.
	Version string `json:"version"`
	To      string `json:"to"`
	// Seq orders kept backups, newest highest (see NextSeq).
	Seq   int            `json:"seq"`
	Nodes []install.Node `json:"nodes"`
	// Compared is when the update began comparing the live files with the
	// release it installed: each live file of the release not in Nodes was
	// as the release lists it then. It is kept as the index file's
	// modification time, not in its content, which stays a function of the
	// states alone (journaled by sha256, compared byte for byte by tests).
	// An index written without it carries its write time, a little later.
	Compared time.Time `json:"-"`
}

// ErrDamaged means a backup's index is missing, unreadable or not the one
// expected.
var ErrDamaged = errors.New("backup damaged")

// Capture saves idx.Nodes, the current states of root's paths as
// install.Stat returned them, into the directory dir of root (replacing
// it). It returns the sha256 of the index, for the caller's journal.
func Capture(ctx context.Context, root *os.Root, dir string, idx Index) (string, error) {
	if err := root.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := root.MkdirAll(path.Join(dir, filesDir), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	var files []install.Node
	for _, n := range idx.Nodes {
		if n.Kind == install.File {
			files = append(files, n)
		}
	}
	// The live root is the source, files/ the target: Apply links (or
	// copies) each live file, which the caller hashed for idx just now.
	err := install.Apply(ctx, root, files, install.Options{To: path.Join(dir, filesDir), Trusted: true})
	if err != nil {
		return "", fmt.Errorf("save files to %s: %w", dir, err)
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	index := path.Join(dir, indexName)
	if err := safefs.WriteFile(root, index, data, 0o600); err != nil {
		return "", fmt.Errorf("write backup index: %w", err)
	}
	if !idx.Compared.IsZero() {
		// Durable with the commit's syncfs, before the backup is kept.
		if err := root.Chtimes(index, idx.Compared, idx.Compared); err != nil {
			return "", fmt.Errorf("date backup index: %w", err)
		}
	}
	return digest(data), nil
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ReadSaved returns the content the backup in dir saved for the file p,
// read through at most limit bytes and checked against idx: the bytes
// Restore would put back. A path idx does not list as a file is
// fs.ErrNotExist. The saved file is a hard link to what was live, so it
// is read as the live root's files are, not with safefs.ReadFile.
func ReadSaved(root *os.Root, dir string, idx Index, p string, limit int64) ([]byte, error) {
	i := slices.IndexFunc(idx.Nodes, func(n install.Node) bool { return n.Path == p && n.Kind == install.File })
	if i < 0 {
		return nil, fmt.Errorf("%s does not save %s: %w", dir, p, fs.ErrNotExist)
	}
	f, err := root.Open(path.Join(dir, filesDir, p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := safefs.ReadCapped(f, p, limit)
	if err != nil {
		return nil, err
	}
	if digest(data) != idx.Nodes[i].SHA256 {
		return nil, fmt.Errorf("%w: %s: %s is not the content saved", ErrDamaged, dir, p)
	}
	return data, nil
}

// Load reads the index of the backup dir. If wantSHA is not empty the index
// must have that sha256.
func Load(root *os.Root, dir, wantSHA string) (Index, error) {
	data, err := safefs.ReadFile(root, path.Join(dir, indexName), maxIndex)
	if err != nil {
		return Index{}, fmt.Errorf("%w: %s: %v", ErrDamaged, dir, err)
	}
	if wantSHA != "" && digest(data) != wantSHA {
		return Index{}, fmt.Errorf("%w: %s: index is not the one journaled", ErrDamaged, dir)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return Index{}, fmt.Errorf("%w: %s: %v", ErrDamaged, dir, err)
	}
	if fi, err := root.Lstat(path.Join(dir, indexName)); err == nil {
		idx.Compared = fi.ModTime()
	}
	return idx, nil
}

// Restore puts root's paths back to the states idx records, with the
// contents saved in dir. Copy copies them instead of linking, leaving a
// backup that is kept independent of the live files. progress may be nil.
func Restore(ctx context.Context, root *os.Root, dir string, idx Index, copy bool, progress func(done, total int)) error {
	opts := install.Options{From: path.Join(dir, filesDir), Copy: copy, Progress: progress}
	if err := install.Apply(ctx, root, idx.Nodes, opts); err != nil {
		return fmt.Errorf("restore from %s: %w", dir, err)
	}
	return nil
}

// Kept is a backup kept in a backups directory.
type Kept struct {
	Dir   string // relative to the root
	Index Index
}

// List returns the backups in the directory backups of root, newest first.
// Directories without a readable index are returned in damaged.
func List(root *os.Root, backups string) (kept []Kept, damaged []string, err error) {
	d, err := root.Open(backups)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", backups, err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		dir := path.Join(backups, name)
		idx, err := Load(root, dir, "")
		if err != nil {
			damaged = append(damaged, dir)
			continue
		}
		kept = append(kept, Kept{dir, idx})
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Index.Seq > kept[j].Index.Seq })
	return kept, damaged, nil
}

// NextSeq returns the Seq that makes a new backup the newest of those in
// backups.
func NextSeq(root *os.Root, backups string) (int, error) {
	kept, _, err := List(root, backups)
	if err != nil || len(kept) == 0 {
		return 1, err
	}
	return kept[0].Index.Seq + 1, nil
}

// Keep moves the backup dir into backups under name, replacing one of the
// same name. It is idempotent: once dir is gone there is nothing left to
// do. The backup's place in the stack is the Seq it was captured with.
func Keep(root *os.Root, dir, backups, name string) error {
	if _, err := root.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // moved by an earlier run
	}
	if _, err := Load(root, dir, ""); err != nil {
		return err
	}
	if err := root.MkdirAll(backups, 0o700); err != nil {
		return err
	}
	target := path.Join(backups, name)
	if err := root.RemoveAll(target); err != nil {
		return fmt.Errorf("replace %s: %w", target, err)
	}
	if err := root.Rename(dir, target); err != nil {
		return fmt.Errorf("keep backup as %s: %w", target, err)
	}
	return safefs.SyncDir(root, backups)
}

// Prune removes, with remove, all but the newest keep backups in backups,
// and damaged ones. The engine passes a remove that moves them aside, to
// be deleted after its status is written.
func Prune(root *os.Root, backups string, keep int, remove func(dir string) error) error {
	kept, damaged, err := List(root, backups)
	if err != nil {
		return err
	}
	for _, k := range kept[min(keep, len(kept)):] {
		damaged = append(damaged, k.Dir)
	}
	for _, dir := range damaged {
		if err := remove(dir); err != nil {
			return fmt.Errorf("prune %s: %w", dir, err)
		}
	}
	return nil
}
