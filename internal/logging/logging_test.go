package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestRedacted logs a URL with credentials in the message, a field and an
// error, in both formats: none of them reaches the output.
func TestRedacted(t *testing.T) {
	const u = "https://ghp_UserToken@host/r?ref=v1&access_token=QuerySecret"
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := New(&buf, format)
		if err != nil {
			t.Fatal(err)
		}
		log.WithField("repo", u).WithError(errors.New(`Get "` + u + `": refused`)).Error("clone from " + u)
		out := buf.String()
		if strings.Contains(out, "ghp_UserToken") || strings.Contains(out, "QuerySecret") || strings.Count(out, "https://host/r?ref=v1") != 3 {
			t.Errorf("%s: %s", format, out)
		}
	}
}
