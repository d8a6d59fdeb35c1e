package account

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cheap keeps the tests fast; DefaultParams is measured, not tested.
var cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q", h)
	}
	if h2, _ := Hash("correct horse", cheap); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false} {
		ok, err := Verify(h, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", // 4 GiB
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5aw",
	} {
		if _, err := Verify(bad, "x"); !errors.Is(err, ErrBadHash) {
			t.Errorf("Verify(%q) = %v, want ErrBadHash", bad, err)
		}
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := LoadHash(root); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("LoadHash on nothing = %v", err)
	}
	for _, weak := range []string{"short", strings.Repeat("x", MaxPassword+1), "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"} {
		if err := SetPassword(root, weak, cheap); !errors.Is(err, ErrWeakPassword) {
			t.Errorf("SetPassword(%q) = %v", weak[:5], err)
		}
	}
	if err := SetPassword(root, "long enough", cheap); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, Name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", fi, err)
	}
	h, err := LoadHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Verify(h, "long enough"); !ok {
		t.Error("stored hash does not verify")
	}
}

func TestSessions(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := NewSessions(time.Hour, 3*time.Hour)
	id, err := s.Create(t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 43 {
		t.Errorf("id %q is not 256 bits in base64url", id)
	}
	for _, at := range []time.Duration{0, 50 * time.Minute, 100 * time.Minute, 150 * time.Minute} {
		if !s.Valid(id, t0.Add(at)) { // each use keeps it from idling out
			t.Fatalf("invalid at +%v", at)
		}
	}
	if s.Valid(id, t0.Add(3*time.Hour)) {
		t.Error("valid past the absolute expiry")
	}
	id, _ = s.Create(t0)
	if s.Valid(id, t0.Add(time.Hour)) {
		t.Error("valid after an idle hour")
	}
	id, _ = s.Create(t0)
	s.End(id)
	if s.Valid(id, t0) || s.Valid("", t0) || s.Valid("forged", t0) {
		t.Error("ended, empty or unknown id valid")
	}
}

func TestSessionsCapped(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := NewSessions(time.Hour, time.Hour)
	first, _ := s.Create(t0)
	for i := range MaxSessions {
		if _, err := s.Create(t0.Add(time.Duration(i+1) * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Valid(first, t0.Add(time.Second)) || len(s.m) != MaxSessions {
		t.Errorf("oldest session kept or cap broken: %d sessions", len(s.m))
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	l := NewLimiter(3, 10*time.Second)
	for range 3 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatal("refused within the burst")
		}
		l.Fail("a", t0)
	}
	ok, wait := l.Allow("a", t0)
	if ok || wait != 10*time.Second {
		t.Errorf("after the burst: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Error("another client is refused")
	}
	if ok, wait := l.Allow("a", t0.Add(4*time.Second)); ok || wait != 6*time.Second {
		t.Errorf("+4s: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("a", t0.Add(10*time.Second)); !ok {
		t.Error("the guesser's address does not recover")
	}
}

func TestLimiterForgetsPastCap(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	l := NewLimiter(1, time.Hour)
	for i := range maxClients + 10 {
		l.Fail(string(rune(i)), t0)
	}
	if len(l.m) > maxClients {
		t.Errorf("%d clients tracked", len(l.m))
	}
}

func TestClient(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":             "192.0.2.1",
		"192.0.2.1":                  "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.1]:80":      "192.0.2.1",
		"garbage":                    "garbage",
	} {
		if got := Client(in); got != want {
			t.Errorf("Client(%q) = %q, want %q", in, got, want)
		}
	}
}
