package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse parses the manifest of a release of 2,000 files, the size
// of make bench's: every apply parses the live and the new one.
func BenchmarkParse(b *testing.B) {
	m := &Manifest{App: "bench", Version: "1.0.0"}
	for i := range 2000 {
		m.Files = append(m.Files, Entry{Path: fmt.Sprintf("app/d%03d/f%05d.bin", i/100, i), SHA256: strings.Repeat("ab", 32), Mode: "0644"})
	}
	m.Files = append(m.Files, Entry{Path: "info.json", SHA256: strings.Repeat("cd", 32), Mode: "0644"})
	data, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
