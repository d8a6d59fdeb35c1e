package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hashA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	info  = `{"path":"info.json","sha256":"` + hashA + `","mode":"0644"}`
)

// doc wraps entries (JSON objects, already comma-separated) into a manifest.
func doc(entries string) string {
	return `{"version":"1.1.0","files":[` + entries + `]}`
}

func file(p string) string { return `{"path":"` + p + `","sha256":"` + hashA + `","mode":"0644"}` }
func link(p, target string) string {
	return `{"path":"` + p + `","link":"` + target + `"}`
}

func TestParseValid(t *testing.T) {
	tests := map[string]string{
		"minimal":              doc(info),
		"executable":           doc(`{"path":"bin","sha256":"` + hashA + `","mode":"0755"},` + info),
		"link in dir":          doc(file("a/b") + `,` + link("a/l", "b") + `,` + info),
		"link up and back":     doc(file("a/b") + `,` + link("c/l", "../a/b") + `,` + info),
		"dangling inside":      doc(info + `,` + link("l", "nowhere")),
		"link to dir":          doc(link("cur", "v1") + `,` + info + `,` + file("v1/x")),
		"chain through link":   doc(link("a", "d") + `,` + link("b", "a/x") + `,` + file("d/x") + `,` + info),
		"sorted bytewise":      doc(file("a-b") + `,` + file("a/b") + `,` + info),
		"whitespace":           " {\"version\" : \"1.1.0\",\n\"files\":[" + info + "]}\n",
		"dotfiles":             doc(file(".env") + `,` + file("a/.gitignore") + `,` + info),
		"gitlike but not .git": doc(file(".github/x") + `,` + file(".gitx") + `,` + info),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse([]byte(in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Version != "1.1.0" {
				t.Errorf("version %q", m.Version)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := map[string]string{
		"not json":           `{`,
		"empty":              ``,
		"array":              `[]`,
		"trailing data":      doc(info) + `{}`,
		"unknown field":      `{"version":"1.1.0","files":[` + info + `],"extra":1}`,
		"unknown entry key":  doc(`{"path":"info.json","sha256":"` + hashA + `","mode":"0644","owner":"root"}`),
		"key in other case":  `{"Version":"1.1.0","files":[` + info + `]}`,
		"duplicate key":      `{"version":"1.1.0","version":"9.9.9","files":[` + info + `]}`,
		"dup entry key":      doc(`{"path":"x","path":"info.json","sha256":"` + hashA + `","mode":"0644"}`),
		"no version":         `{"files":[` + info + `]}`,
		"bad version":        `{"version":"v1.1.0","files":[` + info + `]}`,
		"app upper case":     `{"app":"Demo","version":"1.1.0","files":[` + info + `]}`,
		"app with space":     `{"app":"my app","version":"1.1.0","files":[` + info + `]}`,
		"app starts with -":  `{"app":"-demo","version":"1.1.0","files":[` + info + `]}`,
		"app too long":       `{"app":"` + strings.Repeat("a", 65) + `","version":"1.1.0","files":[` + info + `]}`,
		"app not a string":   `{"app":1,"version":"1.1.0","files":[` + info + `]}`,
		"duplicate app":      `{"app":"a","app":"b","version":"1.1.0","files":[` + info + `]}`,
		"null files":         `{"version":"1.1.0","files":null}`,
		"no info.json":       doc(file("a")),
		"info.json is link":  doc(link("info.json", "a")),
		"unsorted":           doc(info + `,` + file("a")),
		"duplicate path":     doc(file("a") + `,` + file("a") + `,` + info),
		"dotdot":             doc(file("../a") + `,` + info),
		"inner dotdot":       doc(file("a/../b") + `,` + info),
		"dot":                doc(file("./a") + `,` + info),
		"absolute":           doc(file("/etc/passwd") + `,` + info),
		"trailing slash":     doc(file("a/") + `,` + info),
		"double slash":       doc(file("a//b") + `,` + info),
		"git dir":            doc(file(".git/config") + `,` + info),
		"nested git dir":     doc(file("a/.git/config") + `,` + info),
		"git dir case":       doc(file(".GIT/config") + `,` + info),
		"manifest itself":    doc(file("hoist-release.json") + `,` + info),
		"signature":          doc(file("hoist-release.json.minisig") + `,` + info),
		"control char":       doc(file(`a\nb`) + `,` + info),
		"short hash":         doc(`{"path":"a","sha256":"abc","mode":"0644"},` + info),
		"upper hash":         doc(`{"path":"a","sha256":"` + strings.ToUpper(hashA) + `","mode":"0644"},` + info),
		"non-hex hash":       doc(`{"path":"a","sha256":"` + strings.Repeat("g", 64) + `","mode":"0644"},` + info),
		"no hash":            doc(`{"path":"a","mode":"0644"},` + info),
		"bad mode":           doc(`{"path":"a","sha256":"` + hashA + `","mode":"0777"},` + info),
		"setuid mode":        doc(`{"path":"a","sha256":"` + hashA + `","mode":"4755"},` + info),
		"no mode":            doc(`{"path":"a","sha256":"` + hashA + `"},` + info),
		"link and hash":      doc(`{"path":"a","sha256":"` + hashA + `","link":"b"},` + info),
		"link and mode":      doc(`{"path":"a","mode":"0644","link":"b"},` + info),
		"absolute link":      doc(link("a", "/etc") + `,` + info),
		"link leaves":        doc(link("a", "..") + `,` + info),
		"link leaves deep":   doc(link("d/a", "../../x") + `,` + info),
		"link leaves via dd": doc(link("d/a", "e/../../../x") + `,` + info),
		"escape via link":    doc(info + `,` + link("l", "s/..") + `,` + link("s", ".")),
		"escape via chain":   doc(link("a", "b/..") + `,` + link("b", "c/..") + `,` + link("c", ".") + `,` + info),
		"link loop":          doc(link("a", "b/x") + `,` + link("b", "a/y") + `,` + info),
		"self loop":          doc(link("a", "a/x") + `,` + info),
		"below a file":       doc(file("a") + `,` + file("a/b") + `,` + info),
		"below a link":       doc(link("a", "d") + `,` + file("a/b") + `,` + file("d/c") + `,` + info),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse([]byte(in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalid", m, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := doc(info) + strings.Repeat(" ", MaxSize)
	if _, err := Parse([]byte(big)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestMarshalCanonical(t *testing.T) {
	in := " {\"files\":[" + file("a<b") + "," + link("c", "a<b") + "," + info + "],\n \"version\":\"1.1.0\"}"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"version\":\"1.1.0\",\"files\":[\n" +
		"  {\"path\":\"a\\u003cb\",\"sha256\":\"" + hashA + "\",\"mode\":\"0644\"},\n" +
		"  {\"path\":\"c\",\"link\":\"a\\u003cb\"},\n" +
		"  " + info + "\n" +
		"]}\n"
	if string(got) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
	again, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := again.Marshal(); !bytes.Equal(b, got) {
		t.Error("Marshal is not stable through Parse")
	}
	if e, ok := again.Lookup("c"); !ok || !e.IsLink() || e.Link != "a<b" {
		t.Errorf("Lookup(c) = %+v, %v", e, ok)
	}
	if _, ok := again.Lookup("b"); ok {
		t.Error("Lookup found an unlisted path")
	}
	if e, _ := again.Lookup("a<b"); e.Perm() != 0o644 {
		t.Errorf("Perm = %v", e.Perm())
	}
}

// TestMarshalApp checks that the app comes first in the canonical form and
// survives a round trip.
func TestMarshalApp(t *testing.T) {
	m := &Manifest{App: "demo-2", Version: "1.1.0", Files: []Entry{{Path: "info.json", SHA256: hashA, Mode: "0644"}}}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"app\":\"demo-2\",\"version\":\"1.1.0\",\"files\":[\n  " + info + "\n]}\n"
	if string(got) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
	again, err := Parse(got)
	if err != nil || again.App != "demo-2" {
		t.Fatalf("Parse = %+v, %v", again, err)
	}
	for _, id := range []string{"a", "0", "my-app", strings.Repeat("z", 64)} {
		if err := ValidApp(id); err != nil {
			t.Errorf("ValidApp(%q) = %v", id, err)
		}
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	m := &Manifest{Version: "1.0.0", Files: []Entry{{Path: "../x", SHA256: hashA, Mode: "0644"}}}
	if _, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

// seedDir is where the fuzz seeds and sample manifests live.
const seedDir = "../../testdata/manifest"

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(seedDir, "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in %s: %v", seedDir, err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed manifest does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, out)
		}
		if out2, _ := again.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("Marshal not stable:\n%s\n%s", out, out2)
		}
	})
}

func TestSeedsMatchExpectations(t *testing.T) {
	// Seeds named valid-* must parse; all others must not.
	seeds, _ := filepath.Glob(filepath.Join(seedDir, "*.json"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(data)
		if valid := strings.HasPrefix(filepath.Base(s), "valid-"); valid != (err == nil) {
			t.Errorf("%s: Parse error %v", filepath.Base(s), err)
		}
	}
}
