package manager

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// web holds the page: plain HTML, CSS and JavaScript, no build step.
//
//go:embed web
var web embed.FS

func staticHandler() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	data, err := web.ReadFile("web/index.html")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err = w.Write(data)
	return err
}

func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if fi, err := fs.Stat(web, "web/"+name); err != nil || fi.IsDir() || name == "index.html" {
		return errNotFound
	}
	w.Header().Set("Cache-Control", "no-cache")
	s.static.ServeHTTP(w, r)
	return nil
}
