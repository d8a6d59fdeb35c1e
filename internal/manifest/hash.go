package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/hoist-dev/hoist/internal/iobuf"
)

// hashFile returns the sha256 of the regular file dir/name and its info. It
// refuses a file that is not regular when opened (swapped since an Lstat)
// and never blocks on a fifo.
func hashFile(dir *os.Root, name string) (string, fs.FileInfo, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	// os.Root follows a symlink to a target inside the root even with
	// O_NOFOLLOW: the name must still be the file that was opened.
	if lfi, err := dir.Lstat(name); err != nil || !fi.Mode().IsRegular() || !os.SameFile(lfi, fi) {
		return "", nil, fmt.Errorf("%s: not a regular file", name)
	}
	h := sha256.New()
	if _, err := iobuf.Copy(h, f); err != nil {
		return "", nil, fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), fi, nil
}
