// Package infofile reads info.json files, with one size cap wherever one is
// read: in a release tree, the live root, the copy in statuses/, or a
// release repository. One cap means the engine never installs an info.json
// that the manager then cannot read.
package infofile

import (
	"io"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// MaxSize caps an info.json; a real one is a few hundred bytes.
const MaxSize = 64 << 10

// Read reads the info.json r, named name in errors; past MaxSize it fails
// with safefs.ErrTooLarge instead of reading on.
func Read(r io.Reader, name string) ([]byte, error) {
	return safefs.ReadCapped(r, name, MaxSize)
}
