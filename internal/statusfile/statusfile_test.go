package statusfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Status
		wantErr bool
	}{
		{"installing", `{"state":"installing","progress":40,"description":"Installing","updateTo":"v1.1.0"}`,
			Status{Installing, 40, "Installing", "v1.1.0"}, false},
		{"success", `{"state":"success","progress":100,"description":"","updateTo":""}`, Default(), false},
		{"garbage", `{{{`, Status{}, true},
		{"empty", ``, Status{}, true},
		{"bad state", `{"state":"exploded","progress":1,"description":"","updateTo":""}`, Status{}, true},
		{"progress high", `{"state":"installing","progress":101,"description":"","updateTo":""}`, Status{}, true},
		{"progress negative", `{"state":"installing","progress":-1,"description":"","updateTo":""}`, Status{}, true},
		{"unknown field", `{"state":"success","progress":100,"description":"","updateTo":"","x":1}`, Status{}, true},
		{"trailing", `{"state":"success","progress":100,"description":"","updateTo":""} {}`, Status{}, true},
		{"long updateTo", `{"state":"installing","progress":0,"description":"","updateTo":"` + strings.Repeat("v", 100) + `"}`, Status{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadWrite: what either writer writes reads back (shortened), an
// invalid status is refused, and garbage does not parse.
func TestReadWrite(t *testing.T) {
	writers := []struct {
		name  string
		write func(*os.Root, Status) error
	}{{"Write", Write}, {"WriteProgress", WriteProgress}}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if s, err := Read(r); err != nil || s != Default() {
				t.Fatalf("missing file: %+v, %v", s, err)
			}
			want := Status{Failed, 35, strings.Repeat("é", 2000), "v2.0.0"}
			if err := w.write(r, want); err != nil {
				t.Fatal(err)
			}
			got, err := Read(r)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != Failed || got.Progress != 35 || len(got.Description) > maxDescription+len("…") {
				t.Errorf("got %+v", got)
			}
			if err := w.write(r, Status{State: "nope"}); err == nil {
				t.Error("invalid status written")
			}
			os.WriteFile(filepath.Join(dir, Name), []byte("garbage"), 0o644)
			if _, err := Read(r); !errors.Is(err, ErrInvalid) {
				t.Errorf("garbage: err = %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"state":"installing","progress":40,"description":"x","updateTo":"v1.1.0"}`))
	f.Add([]byte(`{"state":"failed","progress":0,"description":"","updateTo":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid status: %v", err)
		}
	})
}
