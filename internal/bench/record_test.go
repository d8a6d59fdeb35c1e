package bench

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSplice(t *testing.T) {
	block := func(s string) string { return BeginMarker + "\n" + s + "\n" + EndMarker + "\n" }
	tests := []struct {
		name, doc, want string
		err             error
	}{
		{"empty doc", "", block("T"), nil},
		{"appended", "# Bench\nintro", "# Bench\nintro\n" + block("T"), nil},
		{"replaced, text kept", "head\n" + block("old\ntable") + "tail\n", "head\n" + block("T") + "tail\n", nil},
		{"end before begin", EndMarker + "\n" + BeginMarker, "", ErrMarkers},
		{"begin only", "a\n" + BeginMarker + "\nb", "", ErrMarkers},
		{"two blocks", block("a") + block("b"), "", ErrMarkers},
	}
	for _, tt := range tests {
		got, err := Splice(tt.doc, "T\n\n")
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("%s: Splice = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := Record(path, "first"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := "# Notes by hand\n" + string(data) + "\nanalysis\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Record(path, "second"); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Notes by hand\n" + BeginMarker + "\nsecond\n" + EndMarker + "\n\nanalysis\n"
	if string(data) != want {
		t.Errorf("after two records:\n%s\nwant:\n%s", data, want)
	}
}
