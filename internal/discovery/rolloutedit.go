package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SetRollout returns info.json data with its "rollout" replaced by r (added
// at the end when there is none), for `hoist release rollout`. The other
// fields keep their order and values; the result is indented with two
// spaces. It fails on data that is not a valid info.json and on an invalid
// r, so what it returns is what Finder.Next will accept.
func SetRollout(data []byte, r Rollout) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if _, err := ParseInfo(data); err != nil {
		return nil, err
	}
	fields, err := objectFields(data)
	if err != nil {
		return nil, err
	}
	value, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	compact.WriteByte('{')
	set := false
	for _, f := range fields {
		if f.key == "rollout" {
			if set {
				continue // a duplicate: the first one was replaced
			}
			f.value, set = value, true
		}
		writeField(&compact, f.key, f.value)
	}
	if !set {
		writeField(&compact, "rollout", value)
	}
	compact.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

type field struct {
	key   string
	value json.RawMessage
}

// objectFields returns the fields of the JSON object data, in order.
func objectFields(data []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadInfo)
	}
	var fields []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInfo, err)
		}
		var f field
		f.key, _ = t.(string) // object keys are strings
		if err := dec.Decode(&f.value); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInfo, err)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

func writeField(b *bytes.Buffer, key string, value json.RawMessage) {
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	k, _ := json.Marshal(key) // a string always encodes
	b.Write(k)
	b.WriteByte(':')
	b.Write(value)
}
