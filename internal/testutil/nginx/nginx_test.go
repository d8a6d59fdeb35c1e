package nginx

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestServesFilesAndLogsRanges(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "obj"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Start(t, root, "")

	req, err := http.NewRequest(http.MethodGet, s.URL+"/obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=4-")
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusPartialContent || string(body) != "456789" {
		t.Fatalf("got %s %q, want 206 \"456789\"", resp.Status, body)
	}

	reqs := s.WaitRequests(1)
	want := Request{Method: "GET", URI: "/obj", Status: 206, BodyBytes: 6, Range: "bytes=4-", Authorization: "Bearer x"}
	if len(reqs) != 1 || reqs[0] != want {
		t.Fatalf("access log %+v, want [%+v]", reqs, want)
	}
	if n := s.BodyBytes("/obj"); n != 6 {
		t.Errorf("BodyBytes = %d, want 6", n)
	}
}
