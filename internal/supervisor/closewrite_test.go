package supervisor

import (
	"errors"
	"testing"

	"github.com/fsnotify/fsnotify"
)

// withOps must refuse, not corrupt memory, when fsnotify's option type is
// not what it expects; TestWatcherSemantics shows it working on the real one.
func TestWithOpsChecksItsAssumptions(t *testing.T) {
	type opts struct {
		bufsize int
		op      fsnotify.Op
	}
	if _, err := withOps(fsnotify.WithBufferSize(0), fsnotify.Create|opCloseWrite); err != nil {
		t.Fatalf("fsnotify's own option refused: %v", err)
	}
	for name, err := range map[string]error{
		"not a function":     second(withOps(42, opCloseWrite)),
		"no argument":        second(withOps(func() {}, opCloseWrite)),
		"not a pointer":      second(withOps(func(opts) {}, opCloseWrite)),
		"no op field":        second(withOps(func(*struct{ bufsize int }) {}, opCloseWrite)),
		"op of another type": second(withOps(func(*struct{ op uint32 }) {}, opCloseWrite)),
	} {
		if !errors.Is(err, errNoCloseWrite) {
			t.Errorf("%s: %v, want errNoCloseWrite", name, err)
		}
	}
	// A look-alike option type is filled in as fsnotify's would be.
	opt, err := withOps(func(*opts) {}, opCloseWrite)
	if err != nil {
		t.Fatal(err)
	}
	var o opts
	opt(&o)
	if o.op != opCloseWrite || o.bufsize != 0 {
		t.Errorf("option set %+v, want op CLOSE_WRITE only", o)
	}
}

func second[T any](_ T, err error) error { return err }
