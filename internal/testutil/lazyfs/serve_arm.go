package lazyfs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Serve only answers that nothing can be mounted: go-fuse's splice package
// does not compile for 32-bit arm (it stores syscall.Splice's int count in
// an int64), so the FUSE server is left out there and MountForTest skips.
func Serve(_ context.Context, _ string, _ Options, _ io.Reader, out io.Writer) error {
	err := fmt.Errorf("%w: lazyfs's FUSE server (go-fuse) does not build for 32-bit arm", ErrUnavailable)
	json.NewEncoder(out).Encode(reply{Error: err.Error(), Unavailable: true})
	return err
}
