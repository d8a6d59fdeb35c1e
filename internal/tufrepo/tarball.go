package tufrepo

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tarball"
)

// putTarball writes the signed release in stage as the target
// tag/APP.tar.gz, hashing it as it is written, and lists it in targets.
func (r *repo) putTarball(ctx context.Context, tag, stage string, m *manifest.Manifest) error {
	src, err := os.OpenRoot(stage)
	if err != nil {
		return err
	}
	defer src.Close()
	name := Target(tag, TarballName(m.App))
	if err := r.dir.MkdirAll(path.Join(TargetsDir, tag), 0o755); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(ctx, pw, src, m)) }()
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(pr, h)}
	if err := safefs.Write(r.dir, path.Join(TargetsDir, name), counted, 0o644); err != nil {
		pr.CloseWithError(err)
		return err
	}
	t := metadata.TargetFile()
	t.Path, t.Length, t.Hashes["sha256"] = name, counted.n, h.Sum(nil)
	r.targets.Signed.Targets[name] = t
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
