package manager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/tag"
)

// httpError is an error with the status code and the message a client sees;
// err, if any, is the detail for the log.
type httpError struct {
	code int
	msg  string
	err  error
}

func (e *httpError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *httpError) Unwrap() error { return e.err }

func httpErrorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = httpErrorf(http.StatusUnauthorized, "missing or wrong bearer token")
	errNotFound     = httpErrorf(http.StatusNotFound, "not found")
	errNoBackup     = httpErrorf(http.StatusConflict, "no backup to roll back to")
)

// answer maps an error to a status code and the message a client may see.
func answer(err error) (int, string) {
	var he *httpError
	var fe *discovery.FetchError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit)
	case errors.Is(err, request.ErrInProgress):
		return http.StatusConflict, "an update is already in progress"
	case errors.As(err, &fe):
		return http.StatusBadGateway, fe.Reason
	case errors.Is(err, discovery.ErrUpToDate):
		return http.StatusBadRequest, "nothing to update to: already up to date"
	case errors.Is(err, tag.ErrInvalid), errors.Is(err, discovery.ErrNotNewer),
		errors.Is(err, discovery.ErrIncompatible), errors.Is(err, discovery.ErrNoSuchRelease):
		// These messages are built from the client's input and public
		// release data only.
		return http.StatusBadRequest, err.Error()
	default:
		return http.StatusInternalServerError, "internal error (see the manager's log)"
	}
}

// writeError is the one place where an error becomes an HTTP answer.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := answer(err)
	fields := logrus.Fields{"method": r.Method, "path": r.URL.Path, "code": code}
	if code >= 500 {
		s.log.WithFields(fields).WithError(err).Error("request failed")
	} else {
		s.log.WithFields(fields).WithError(err).Info("request refused")
	}
	writeJSON(w, code, map[string]string{"error": redact.String(msg)})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := encodeJSON(v)
	if err != nil { // only our own types are written; this is a bug
		code = http.StatusInternalServerError
		body = []byte(`{"error":"internal error"}` + "\n")
	}
	writeBody(w, code, body)
}

// encodeJSON encodes v as the answers carry it. HTML escaping is off: the
// answer is served as application/json, and constraints such as ">=1.0.0"
// should read as written.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeBody answers body, which is JSON.
func writeBody(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}
