package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hoist-dev/hoist/internal/clip"
)

// knownKeys are the only object keys a manifest may use, spelled exactly.
var knownKeys = map[string]bool{"app": true, "version": true, "files": true, "path": true, "sha256": true, "mode": true, "link": true}

// checkKeys refuses what encoding/json would quietly accept: a repeated
// key (the last one would win), a key in another case ("Path" would fill
// Path), and anything after the first value. Each signed manifest then has
// exactly one meaning. A manifest that scanKeys clears is fine; anything
// else goes through the token walk, which says what is wrong.
func checkKeys(data []byte) error {
	if scanKeys(data) {
		return nil
	}
	return walkKeys(data)
}

// walkKeys is checkKeys by encoding/json's tokens: exact, and slow (a
// token is an allocation; 90 % of parsing a 2,000-file manifest).
func walkKeys(data []byte) error {
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

// keyBit is the bit of a known key in a scanned object's seen set, 0 for
// any other key.
func keyBit(key []byte) uint8 {
	switch string(key) {
	case "app":
		return 1 << 0
	case "version":
		return 1 << 1
	case "files":
		return 1 << 2
	case "path":
		return 1 << 3
	case "sha256":
		return 1 << 4
	case "mode":
		return 1 << 5
	case "link":
		return 1 << 6
	}
	return 0
}

// scanKeys reports whether data, if it is valid JSON (Parse decodes it
// after), uses known keys only, each once per object, and holds nothing
// after its first value. It reads the bytes in place and answers false,
// leaving the verdict to walkKeys, at anything it does not expect,
// including a key with an escape, which only decoding can compare.
func scanKeys(data []byte) bool {
	type frame struct {
		object, wantKey bool
		seen            uint8
	}
	var stack []frame
	done := false // the first value is complete
	valueDone := func() {
		if n := len(stack); n == 0 {
			done = true
		} else if stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for i := skipSpace(data, 0); i < len(data); i = skipSpace(data, i) {
		if done {
			return false // data after the first value
		}
		c := data[i]
		if n := len(stack); n > 0 && stack[n-1].wantKey && c != '}' && c != ',' {
			end, ok := stringEnd(data, i, false)
			if !ok {
				return false
			}
			bit := keyBit(data[i+1 : end-1])
			if bit == 0 || stack[n-1].seen&bit != 0 {
				return false
			}
			stack[n-1].seen |= bit
			stack[n-1].wantKey = false
			if i = skipSpace(data, end); i == len(data) || data[i] != ':' {
				return false
			}
			i++
			continue
		}
		switch c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', wantKey: c == '{'})
			i++
		case '}', ']':
			n := len(stack)
			if n == 0 || stack[n-1].object != (c == '}') {
				return false
			}
			stack = stack[:n-1]
			i++
			valueDone()
		case ',':
			i++
		case '"':
			end, ok := stringEnd(data, i, true)
			if !ok {
				return false
			}
			i = end
			valueDone()
		default: // a number, true, false or null
			j := i
			for j < len(data) && strings.IndexByte(" \t\r\n,:[]{}\"", data[j]) < 0 {
				j++
			}
			if j == i {
				return false
			}
			i = j
			valueDone()
		}
	}
	return done
}

// stringEnd returns the index just after the JSON string starting at
// data[i] (a quote). With escapes false, a backslash is not expected.
func stringEnd(data []byte, i int, escapes bool) (int, bool) {
	if data[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' && escapes:
			j++ // the escaped byte cannot end the string
		case c == '\\' || c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}
