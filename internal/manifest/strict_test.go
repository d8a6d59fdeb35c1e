package manifest

import (
	"encoding/json"
	"testing"
)

// scanCases are documents for the fast key scan, with whether it clears
// them; the token walk must agree with every one it clears.
var scanCases = []struct {
	doc   string
	clear bool
}{
	{`{"app":"a","version":"1.0.0","files":[{"path":"x","sha256":"ab","mode":"0644"},{"path":"l","link":"x"}]}`, true},
	{" \n{\"version\" : \"1\", \"files\" : [ ] }\n\t", true},
	{`{"version":"a\"b\\","files":[]}`, true},
	{`{"version":1.5e3,"files":[true,false,null,[{}],{"link":"x"}]}`, true},
	{`[]`, true},
	{`"top"`, true},
	{`{"version":"1","version":"2"}`, false},
	{`{"Version":"1"}`, false},
	{`{"vers\u0069on":"1"}`, false}, // an escaped key: the walk decides (and clears it)
	{`{"extra":1}`, false},
	{`{"files":[{"path":"a","path":"b"}]}`, false},
	{`{"version":"1"} {"version":"2"}`, false},
	{`{"version":"1"}x`, false},
	{`{"version":"1"`, false},
	{``, false},
	{`{"version":"1"]`, false},
}

func TestScanKeys(t *testing.T) {
	for _, tc := range scanCases {
		if got := scanKeys([]byte(tc.doc)); got != tc.clear {
			t.Errorf("scanKeys(%s) = %v, want %v", tc.doc, got, tc.clear)
		}
	}
}

// FuzzScanKeys: whatever valid JSON scanKeys clears, the token walk clears
// too, so Parse (which decodes, refusing invalid JSON, after checkKeys)
// accepts exactly what it accepted before the fast path.
func FuzzScanKeys(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if scanKeys(data) && json.Valid(data) {
			if err := walkKeys(data); err != nil {
				t.Fatalf("scanKeys clears %q, walkKeys says %v", data, err)
			}
		}
	})
}
