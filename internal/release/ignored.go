package release

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/hoist-dev/hoist/internal/manifest"
)

// checkIgnored refuses to sign, in the top of a git work tree, a manifest
// listing files that git ignores and does not track: `git add -A` would
// leave them out of the tagged commit, and every install of the release
// would then be rejected. A dir that is not a repository's top is not
// checked.
func checkIgnored(dir string, m *manifest.Manifest) error {
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open git repository %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("git work tree %s: %w", dir, err)
	}
	patterns, err := gitignore.ReadPatterns(wt.Filesystem, nil)
	if err != nil {
		return fmt.Errorf("read .gitignore files: %w", err)
	}
	root := osfs.New("/")
	for _, load := range []func(billy.Filesystem) ([]gitignore.Pattern, error){gitignore.LoadGlobalPatterns, gitignore.LoadSystemPatterns} {
		if ps, err := load(root); err == nil {
			patterns = append(patterns, ps...)
		}
	}
	tracked := map[string]bool{}
	if idx, err := repo.Storer.Index(); err == nil {
		for _, e := range idx.Entries {
			tracked[e.Name] = true
		}
	}
	matcher := gitignore.NewMatcher(patterns)
	var ignored []string
	for _, e := range m.Files {
		if !tracked[e.Path] && matcher.Match(strings.Split(e.Path, "/"), false) {
			ignored = append(ignored, e.Path)
		}
	}
	switch n := len(ignored); {
	case n == 0:
		return nil
	case n > 3:
		ignored = append(ignored[:3], fmt.Sprintf("and %d more", n-3))
	}
	return fmt.Errorf("git ignores %s, so the tagged commit would lack what the manifest lists: remove or un-ignore them before signing",
		strings.Join(ignored, ", "))
}
