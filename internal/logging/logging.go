// Package logging builds the logrus logger every hoist binary uses.
package logging

import (
	"fmt"
	"io"

	"github.com/sirupsen/logrus"
)

// New returns a logger writing to w in format "text" or "json".
func New(w io.Writer, format string) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(w)
	switch format {
	case "", "text":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return l, nil
}
