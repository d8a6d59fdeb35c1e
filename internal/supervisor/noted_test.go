package supervisor

import (
	"strconv"
	"testing"
)

func TestNotedReportsOncePerNameAndReason(t *testing.T) {
	n := newNoted()
	steps := []struct {
		name, reason string
		news         bool
	}{
		{".x", "dot file", true},
		{".x", "dot file", false},
		{"fifo", "fifo", true},
		{"fifo", "fifo", false},
		{"fifo", "directory", true}, // the name now holds something else
	}
	for _, s := range steps {
		if news, full := n.add(s.name, s.reason); news != s.news || full {
			t.Errorf("add(%q, %q) = %v, %v; want %v, false", s.name, s.reason, news, full, s.news)
		}
	}
	n.forget("fifo")
	if news, _ := n.add("fifo", "directory"); !news {
		t.Error("a forgotten name is not news again")
	}
}

func TestNotedIsCapped(t *testing.T) {
	n := newNoted()
	for i := range maxNoted {
		if news, full := n.add(strconv.Itoa(i), "r"); !news || full {
			t.Fatalf("add %d below the cap = %v, %v", i, news, full)
		}
	}
	if news, full := n.add("one-more", "r"); news || !full {
		t.Errorf("first add over the cap = %v, %v; want false, true", news, full)
	}
	if news, full := n.add("two-more", "r"); news || full {
		t.Errorf("second add over the cap = %v, %v; want false, false", news, full)
	}
	if len(n.reasons) != maxNoted {
		t.Errorf("remembered %d names, want the cap %d", len(n.reasons), maxNoted)
	}
}
