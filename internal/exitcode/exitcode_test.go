package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("boom"), Failure},
		{"usage", fmt.Errorf("bad flag: %w", ErrUsage), Usage},
		{"locked", fmt.Errorf("apply: %w", ErrLocked), Locked},
		{"rejected deep", fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrRejected)), Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
