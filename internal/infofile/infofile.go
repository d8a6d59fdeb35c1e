// Package infofile reads info.json files, with one size cap wherever one is
// read: in a release tree, the live root, the copy in statuses/, or a
// release repository. One cap means the engine never installs an info.json
// that the manager then cannot read.
package infofile

import (
	"io"
	"os"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// MaxSize caps an info.json; a real one is a few hundred bytes.
const MaxSize = 64 << 10

// Read reads the info.json r, named name in errors; past MaxSize it fails
// with safefs.ErrTooLarge instead of reading on.
func Read(r io.Reader, name string) ([]byte, error) {
	return safefs.ReadCapped(r, name, MaxSize)
}

// ReadFile reads dir/name, which must be a plain regular file with one link
// (safefs.OpenRegular): for release trees and statuses/, where a link could
// make root read a file of another's choosing.
func ReadFile(dir *os.Root, name string) ([]byte, error) {
	f, err := safefs.OpenRegular(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, name)
}
