package manager

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"

	"github.com/hoist-dev/hoist/internal/history"
)

// The run history the engine publishes in statuses/ (package history).

// history answers GET /v1/system/history: the runs, newest first.
func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	entries, err := history.Read(s.dirs.Statuses)
	if errors.Is(err, history.ErrMalformed) {
		// The engine's next run rewrites it from its own record.
		msg := "the history file is unreadable; the next update rewrites it"
		return &httpError{code: http.StatusInternalServerError, msg: msg, err: err}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, entries)
	return nil
}

// historyLog answers GET /v1/system/history/{id}/log: the script output
// of one of the last runs, as text.
func (s *Server) historyLog(w http.ResponseWriter, r *http.Request) error {
	f, err := history.OpenLog(s.dirs.Statuses, r.PathValue("id"))
	if errors.Is(err, fs.ErrNotExist) {
		return httpErrorf(http.StatusNotFound, "no log for this run")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return serveTail(w, f, history.MaxLog)
}

// serveTail answers with the last limit bytes of f as text: the end of a
// log says what failed last.
func serveTail(w http.ResponseWriter, f *os.File, limit int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > limit {
		if _, err := f.Seek(-limit, io.SeekEnd); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = io.Copy(w, io.LimitReader(f, limit))
	return err
}
