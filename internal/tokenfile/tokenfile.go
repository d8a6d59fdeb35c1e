// Package tokenfile reads a credential kept in a file: the manager's API
// token and the release repository's token. A token never travels in a URL
// or a flag, where process listings and logs would show it.
package tokenfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// MaxSize caps a token file; a token is a few dozen bytes.
const MaxSize = 4 << 10

// ErrEmpty means the file holds no token.
var ErrEmpty = errors.New("token file is empty")

// Read returns the content of the file at path, without surrounding white
// space.
func Read(path string) (string, error) {
	tok, _, err := read(path)
	return tok, err
}

// ReadPrivate is Read for a file that only its owner may read or write, as
// root's secrets must be (chmod 600): a token others can read is no longer
// a secret.
func ReadPrivate(path string) (string, error) {
	tok, fi, err := read(path)
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s: mode %04o lets others read or change it; chmod 600 it", path, perm)
	}
	return tok, nil
}

func read(path string) (string, os.FileInfo, error) {
	// O_NONBLOCK: a fifo in its place must not hang the caller; it has no
	// effect on a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("token file %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return "", nil, fmt.Errorf("token file %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return "", nil, fmt.Errorf("token file %s is over %d bytes", path, MaxSize)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return tok, fi, nil
}
