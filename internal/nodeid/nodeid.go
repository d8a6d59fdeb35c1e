// Package nodeid gives each app root a random identity (CONTRACT §12): the
// phase of a rollout a node falls in, and the label that tells nodes apart
// in Prometheus. Root keeps the id in .hoist/node-id; the manager reads the
// copy in statuses/node-id, which root rewrites whenever it differs.
package nodeid

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Paths inside an app root.
const (
	File = ".hoist/node-id"
	// HostFile records a hash of the host's machine id when the node id was
	// made: a root copied to another machine (a cloned image) sees a
	// different one, and gets a new node id.
	HostFile = ".hoist/node-host"
	Copy     = approot.StatusesDir + "/node-id"
)

// size is the length of an id: 128 bits in lowercase hex.
const size = 32

// ErrInvalid marks a node id file that does not hold one id.
var ErrInvalid = errors.New("invalid node id")

// Valid reports whether id is 32 lowercase hex digits.
func Valid(id string) bool {
	if len(id) != size {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Read reads and validates the id in dir/name, reading at most a few bytes
// more than an id: the manager's copy is untrusted.
func Read(dir *os.Root, name string) (string, error) {
	data, err := safefs.ReadFile(dir, name, size+1)
	if err != nil {
		return "", err
	}
	id := string(bytes.TrimSuffix(data, []byte("\n")))
	if !Valid(id) {
		return "", fmt.Errorf("%s: %w", name, ErrInvalid)
	}
	return id, nil
}

// Ensure returns the root's node id, making a new one when there is none,
// when the file is damaged or when host (HostID's answer; "" when unknown)
// differs from the host the id was made on. It then makes statuses/node-id
// equal to it. Only root calls it: it writes .hoist/.
func Ensure(root *os.Root, host string) (string, error) {
	id, err := Read(root, File)
	if err == nil && host != "" && !sameHost(root, host) {
		err = errors.New("made on another host")
	}
	if err != nil {
		if id, err = create(root, host); err != nil {
			return "", err
		}
	}
	if cur, err := Read(root, Copy); err == nil && cur == id {
		return id, nil
	}
	// Root's file is the truth: whatever the manager left there is replaced.
	if err := safefs.WriteFile(root, Copy, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("node id copy: %w", err)
	}
	return id, nil
}

func create(root *os.Root, host string) (string, error) {
	var b [size / 2]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	id := hex.EncodeToString(b[:])
	if err := root.MkdirAll(approot.StateDir, 0o700); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	if host != "" {
		if err := safefs.WriteFile(root, HostFile, []byte(hostHash(host)+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("node id host: %w", err)
		}
	}
	if err := safefs.WriteFile(root, File, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

// sameHost reports whether the id was made on host. A root without a
// recorded host (made where the machine id was unknown) adopts this one.
func sameHost(root *os.Root, host string) bool {
	data, err := safefs.ReadFile(root, HostFile, 2*sha256.Size+1)
	if errors.Is(err, fs.ErrNotExist) {
		return safefs.WriteFile(root, HostFile, []byte(hostHash(host)+"\n"), 0o600) == nil
	}
	return err == nil && string(bytes.TrimSuffix(data, []byte("\n"))) == hostHash(host)
}

// hostHash keeps the machine id itself out of the root: systemd asks that it
// not be exposed.
func hostHash(host string) string {
	sum := sha256.Sum256([]byte("hoist node host\x00" + host))
	return hex.EncodeToString(sum[:])
}

// HostID returns this machine's id (/etc/machine-id, else D-Bus's copy), ""
// when it has none: then a cloned root cannot be detected.
func HostID() string {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if data, err := os.ReadFile(p); err == nil {
			if id := string(bytes.TrimSpace(data)); id != "" && len(id) <= 64 {
				return id
			}
		}
	}
	return ""
}

// Lookup returns the node id for a command that may not run as root: root's
// file when readable, else the manager's copy; "" when neither holds one.
func Lookup(root *os.Root) string {
	for _, name := range []string{File, Copy} {
		if id, err := Read(root, name); err == nil {
			return id
		}
	}
	return ""
}
