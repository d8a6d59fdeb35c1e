package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/fetch"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/packguard"
	"github.com/hoist-dev/hoist/internal/tag"
)

// maxClone caps the objects of one depth-1 clone held in memory: a release
// tree is scripts and configuration, not images.
const maxClone = 64 << 20

// localSource reads a repository on this machine (file://) in place. go-git's
// file transport would run git-upload-pack, which product code must not run
// and the manager's container does not have.
type localSource struct{ path string }

func (s localSource) open(ctx context.Context, what string) (*git.Repository, error) {
	if err := ctx.Err(); err != nil {
		return nil, fetchError(what, err)
	}
	repo, err := git.PlainOpen(s.path)
	if err != nil {
		return nil, fetchError(what, err)
	}
	return repo, nil
}

func (s localSource) Info(ctx context.Context, ref string) (Info, error) {
	repo, err := s.open(ctx, refName(ref))
	if err != nil {
		return Info{}, err
	}
	rev := plumbing.Revision(plumbing.HEAD)
	if ref != "" {
		rev = plumbing.Revision(plumbing.NewTagReferenceName(ref))
	}
	hash, err := repo.ResolveRevision(rev)
	if ref != "" && errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Info{}, fmt.Errorf("%s: %w", ref, ErrNoSuchRelease)
	}
	if err != nil {
		return Info{}, fetchError(refName(ref), err)
	}
	return infoAt(repo, *hash, ref)
}

func (s localSource) Tags(ctx context.Context) ([]*version.Version, error) {
	repo, err := s.open(ctx, "tags")
	if err != nil {
		return nil, err
	}
	iter, err := repo.Tags()
	if err != nil {
		return nil, fetchError("tags", err)
	}
	var names []string
	err = iter.ForEach(func(r *plumbing.Reference) error {
		names = append(names, r.Name().String())
		return nil
	})
	if err != nil {
		return nil, fetchError("tags", err)
	}
	return releaseVersions(names), nil
}

// remoteSource reads a repository over the network: tags with ls-remote,
// an info.json with a depth-1 single-ref clone into memory. Each Info starts
// with one ref advertisement; when the ref's commit is one whose info.json
// store remembers, that advertisement is all it costs (see polite.go).
type remoteSource struct {
	url   string
	auth  transport.AuthMethod // nil: anonymous
	limit int64                // bytes of objects one clone may hold
	store httpcache.Store      // info.json by commit hash
}

func (s remoteSource) Info(ctx context.Context, ref string) (Info, error) {
	refs, err := s.list(ctx)
	if err != nil {
		return Info{}, fetchError(refName(ref), err)
	}
	hash, ok := advertised(refs, ref)
	if !ok && ref != "" {
		return Info{}, fmt.Errorf("%s: %w", ref, ErrNoSuchRelease)
	}
	if e, hit := s.store.Load(infoKey(hash)); ok && hit {
		return parseAt(ref, e.Body)
	}
	data, err := s.clone(ctx, ref)
	if err != nil {
		return Info{}, err
	}
	return parseAt(ref, data)
}

// clone reads ref's info.json with a depth-1 clone and remembers it by the
// cloned commit's hash, which is what the next advertisement will show if
// ref has not moved.
func (s remoteSource) clone(ctx context.Context, ref string) ([]byte, error) {
	name := plumbing.HEAD
	if ref != "" {
		name = plumbing.NewTagReferenceName(ref)
	}
	fetch.InstallHTTP() // caps an error answer, which go-git reads whole
	st := &cappedStorage{Storage: memory.NewStorage(), limit: s.limit}
	repo, err := git.CloneContext(ctx, st, nil, &git.CloneOptions{
		URL:           s.url,
		Auth:          s.auth,
		ReferenceName: name,
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	})
	if ref != "" && errors.Is(err, git.NoMatchingRefSpecError{}) {
		return nil, fmt.Errorf("%s: %w", ref, ErrNoSuchRelease)
	}
	if err != nil {
		return nil, fetchError(refName(ref), err)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, fetchError(refName(ref), err)
	}
	data, err := infoBytesAt(repo, head.Hash(), ref)
	if err != nil {
		return nil, err
	}
	// A cache that cannot remember costs a clone next time, not an answer.
	_ = s.store.Save(infoKey(head.Hash()), httpcache.Entry{Body: data})
	return data, nil
}

func (s remoteSource) list(ctx context.Context) ([]*plumbing.Reference, error) {
	fetch.InstallHTTP() // caps an error answer, which go-git reads whole
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{s.url}})
	return rem.ListContext(ctx, &git.ListOptions{Auth: s.auth, PeelingOption: git.AppendPeeled})
}

func (s remoteSource) Tags(ctx context.Context) ([]*version.Version, error) {
	refs, err := s.list(ctx)
	if err != nil {
		return nil, fetchError("tags", err)
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name().String()
	}
	return releaseVersions(names), nil
}

// infoAt reads and parses info.json from the commit hash.
func infoAt(repo *git.Repository, hash plumbing.Hash, ref string) (Info, error) {
	data, err := infoBytesAt(repo, hash, ref)
	if err != nil {
		return Info{}, err
	}
	return parseAt(ref, data)
}

// infoBytesAt reads info.json from the commit hash.
func infoBytesAt(repo *git.Repository, hash plumbing.Hash, ref string) ([]byte, error) {
	what := refName(ref)
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return nil, fetchError(what, err)
	}
	f, err := commit.File(approot.InfoFile)
	if err != nil {
		return nil, fetchError(what, fmt.Errorf("%w: %v", ErrBadInfo, err))
	}
	if f.Size > infofile.MaxSize {
		return nil, fetchError(what, fmt.Errorf("%w: info.json is %d bytes", errTooLarge, f.Size))
	}
	r, err := f.Reader()
	if err != nil {
		return nil, fetchError(what, err)
	}
	defer r.Close()
	data, err := infofile.Read(r, approot.InfoFile)
	if err != nil {
		return nil, fetchError(what, err)
	}
	return data, nil
}

// parseAt parses the info.json read at ref; at a tag it must describe the
// tag's own version.
func parseAt(ref string, data []byte) (Info, error) {
	info, err := ParseInfo(data)
	if err != nil {
		return Info{}, fetchError(refName(ref), err)
	}
	if ref != "" && info.Tag() != ref {
		return Info{}, fetchError(ref, fmt.Errorf("%w: version %q at tag %s", ErrBadInfo, info.Version, ref))
	}
	return info, nil
}

// releaseVersions returns the versions of the release tags among ref names,
// ascending, without duplicates (peeled "^{}" entries) or other tags.
func releaseVersions(names []string) []*version.Version {
	seen := map[string]bool{}
	var out []*version.Version
	for _, n := range names {
		t, ok := strings.CutPrefix(n, "refs/tags/")
		if !ok {
			continue
		}
		t = strings.TrimSuffix(t, "^{}")
		v, err := tag.Parse(t)
		if err != nil || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, v)
	}
	sort.Sort(version.Collection(out))
	return out
}

// cappedStorage is an in-memory object store that refuses to grow past a
// limit, so a huge or hostile repository cannot exhaust the manager's memory.
// A fetched pack streams through packguard, which refuses it at the header of
// the object that would cross the limit, before anything inflates it; only a
// pack within the limit is parsed into memory.
type cappedStorage struct {
	*memory.Storage
	limit, used int64
}

// maxCloneObjects caps the objects a clone's pack may claim: each costs
// go-git's parser memory before any is read.
const maxCloneObjects = 1 << 16

func (s *cappedStorage) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	s.used += o.Size()
	if s.used > s.limit {
		return plumbing.ZeroHash, fmt.Errorf("%w: clone exceeds %d bytes", errTooLarge, s.limit)
	}
	return s.Storage.SetEncodedObject(o)
}

// PackfileWriter is what go-git writes a fetched pack to: what packguard
// lets through streams to go-git's parser, which stores each object in s.
// Holding the pack until it is whole would cost its size on top of its
// objects'.
func (s *cappedStorage) PackfileWriter() (io.WriteCloser, error) {
	pr, pw := io.Pipe()
	w := &packWriter{pipe: pw, parsed: make(chan error, 1)}
	w.guard = packguard.NewWriter(pw, packguard.Limits{Bytes: s.limit, Objects: maxCloneObjects})
	go func() {
		p, err := packfile.NewParserWithStorage(packfile.NewScanner(pr), s)
		if err == nil {
			_, err = p.Parse()
		}
		pr.CloseWithError(err) // a parser that stopped early fails the next Write
		w.parsed <- err
	}()
	return w, nil
}

// packWriter passes a pack that packguard judged to the parser.
type packWriter struct {
	guard  *packguard.Writer // writes to pipe
	pipe   *io.PipeWriter
	parsed chan error // the parser's end, and why
}

func (w *packWriter) Write(p []byte) (int, error) {
	n, err := w.guard.Write(p)
	return n, tooLarge(err)
}

// Close ends the guard's scan and waits for the parser, which a refused
// pack stops.
func (w *packWriter) Close() error {
	if err := w.guard.Close(); err != nil {
		w.pipe.CloseWithError(err)
		<-w.parsed
		return tooLarge(err)
	}
	w.pipe.Close()
	return <-w.parsed
}

// tooLarge marks a pack refused for its size as errTooLarge.
func tooLarge(err error) error {
	if errors.Is(err, packguard.ErrTooLarge) {
		return fmt.Errorf("%w: %w", errTooLarge, err)
	}
	return err
}
