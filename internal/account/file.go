package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// Name is the file's name inside statuses/.
const Name = "account.json"

// Password length limits, in bytes.
const (
	MinPassword = 8
	MaxPassword = 1024
)

// maxSize caps the file read.
const maxSize = 4 << 10

var (
	// ErrNoPassword means no password was set: sign-in is off.
	ErrNoPassword = errors.New("no password set (hoist-manager passwd)")
	// ErrWeakPassword means a new password is refused; its message is safe to show.
	ErrWeakPassword = fmt.Errorf("the password must be %d to %d bytes of UTF-8", MinPassword, MaxPassword)
)

// file is the content of account.json.
type file struct {
	Hash string `json:"hash"`
}

// SetPassword stores password's hash in dir (statuses/), 0600, owned as
// the file it replaces (or dir) so that root can run it for the manager.
func SetPassword(dir *os.Root, password string, p Params) error {
	if len(password) < MinPassword || len(password) > MaxPassword || !utf8.ValidString(password) {
		return ErrWeakPassword
	}
	h, err := Hash(password, p)
	if err != nil {
		return err
	}
	data, err := json.Marshal(file{Hash: h})
	if err != nil {
		return fmt.Errorf("encode %s: %w", Name, err)
	}
	return safefs.WriteFileKeepOwner(dir, Name, append(data, '\n'), 0o600)
}

// LoadHash returns the stored hash; ErrNoPassword when there is none.
func LoadHash(dir *os.Root) (string, error) {
	data, err := safefs.ReadFile(dir, Name, maxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoPassword
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", Name, err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("parse %s: %w", Name, err)
	}
	if f.Hash == "" {
		return "", ErrNoPassword
	}
	return f.Hash, nil
}
