package objfetch

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestFetch(t *testing.T) {
	o := newObject(t, 1000)
	tests := []struct {
		name     string
		handlers []handler
		max      int64
		wantErr  error
		requests int
	}{
		{"at the bound", []handler{serve(o)}, 1000, nil, 1},
		{"below the bound", []handler{serve(o)}, 5000, nil, 1},
		{"announced longer", []handler{serve(o)}, 999, ErrTooLarge, 1},
		{"longer without Content-Length", []handler{chunked(o.data)}, 999, ErrTooLarge, 1},
		{"cut, then whole", []handler{dropAfter(o, 10), serve(o)}, 1000, nil, 2},
		{"503, then whole", []handler{status(503), serve(o)}, 1000, nil, 2},
		{"404 at once", []handler{status(404)}, 1000, &StatusError{Code: 404}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.handlers...)
			data, err := fastClient(Options{}).Fetch(context.Background(), s.URL+"/1.root.json", tt.max)
			var se *StatusError
			switch want, ok := tt.wantErr.(*StatusError); {
			case ok:
				if !errors.As(err, &se) || se.Code != want.Code {
					t.Fatalf("Fetch: %v, want status %d", err, want.Code)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch: %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case string(data) != string(o.data):
				t.Fatalf("Fetch returned %d other bytes", len(data))
			}
			if got := s.requests(); len(got) != tt.requests {
				t.Errorf("requests %s, want %d", fmt.Sprint(got), tt.requests)
			}
		})
	}
}
