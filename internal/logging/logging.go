// Package logging builds the logrus logger every hoist binary uses.
//
// It stays apart from internal/cli, which holds what only a binary's main
// does: the supervisor library names EnvFormat in the environment of its
// triggers, and manager tests build their logger with New, so folding this
// into cli would make library code depend on the mains' helpers.
package logging

import (
	"fmt"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/redact"
)

// EnvFormat, when set, is the default log format of the engine commands.
// The supervisor sets it to json for its triggers, so that the engine's
// lines reach its log as entries without the triggers passing --log-format.
const EnvFormat = "HOIST_LOG_FORMAT"

// New returns a logger writing to w in format "text" or "json". Every line
// is redacted (package redact): logs are shipped and shared, and an error
// may quote a repository URL with its credentials.
func New(w io.Writer, format string) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(w)
	switch format {
	case "", "text":
		l.SetFormatter(redacting{&logrus.TextFormatter{FullTimestamp: true, DisableColors: true}})
	case "json":
		// No HTML escaping: "&" written as \u0026 would hide the query
		// parameters that follow it from the redaction.
		l.SetFormatter(redacting{&logrus.JSONFormatter{DisableHTMLEscape: true}})
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return l, nil
}

// redacting redacts the lines its formatter writes.
type redacting struct{ logrus.Formatter }

func (r redacting) Format(e *logrus.Entry) ([]byte, error) {
	b, err := r.Formatter.Format(e)
	if err != nil {
		return nil, err
	}
	return []byte(redact.String(string(b))), nil
}
