package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hoist-dev/hoist/internal/clip"
)

// knownKeys are the only object keys a manifest may use, spelled exactly.
var knownKeys = map[string]bool{"app": true, "version": true, "files": true, "path": true, "sha256": true, "mode": true, "link": true}

// checkKeys walks the JSON tokens of data and refuses what encoding/json
// would quietly accept: a repeated key (the last one would win), a key in
// another case ("Path" would fill Path), and anything after the first value.
// Each signed manifest then has exactly one meaning.
func checkKeys(data []byte) error {
	type object struct {
		seen    map[string]bool
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*object // nil for an array
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].wantKey = true
		}
	}
	for values := 0; ; {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(stack) == 0 {
			if values++; values > 1 {
				return errors.New("data after the manifest object")
			}
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].wantKey && tok != json.Delim('}') {
			key, _ := tok.(string) // the decoder only yields strings here
			top := stack[n-1]
			if !knownKeys[key] {
				return fmt.Errorf("unknown key %q", clip.String(key))
			}
			if top.seen[key] {
				return fmt.Errorf("key %q given twice", key)
			}
			top.seen[key] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{seen: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
