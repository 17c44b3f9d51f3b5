// Package pages is the engine's web pages: a storefront (the catalog, a
// live seat map, holding, paying, tickets with QR codes), an organizer's
// dashboard and an ops view. They are plain HTML, CSS and JavaScript
// modules embedded in the binary (no build step) that talk to the engine
// through its public HTTP API only, from the same origin; they load nothing
// from elsewhere (the QR encoder is vendored under static/vendor).
package pages

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

//go:embed static
var static embed.FS

// Files returns the embedded files, rooted at the static folder.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the folder is embedded above: cannot happen
	}
	return sub
}

// documents are the pages, by the path they are served at.
var documents = map[string]string{
	"/":          "index.html",
	"/organizer": "organizer.html",
	"/ops":       "ops.html",
}

// policy is the Content-Security-Policy of every answer: this origin only,
// no inline script; QR codes are drawn as data: images.
const policy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Register adds the pages to r: GET of /, /organizer and /ops, and of the
// files under /static/. Every other path stays the router's (its 404s are
// still problem+json).
func Register(r *mux.Router) {
	files := Files()
	for path, name := range documents {
		r.Handle(path, secured(serveFile(files, name))).Methods(http.MethodGet, http.MethodHead)
	}
	fileServer := http.StripPrefix("/static/", http.FileServerFS(files))
	r.PathPrefix("/static/").Handler(secured(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/") && r.NotFoundHandler != nil { // no folder listings
			r.NotFoundHandler.ServeHTTP(w, req)
			return
		}
		fileServer.ServeHTTP(w, req)
	}))).Methods(http.MethodGet, http.MethodHead)
}

// serveFile serves the one file name of files.
func serveFile(files fs.FS, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, name)
	})
}

// secured sets the headers of every page and file: the policy, no
// sniffing, no framing, no referrer, and revalidation on each load (the
// files change with the binary, which the embedded FS gives no date).
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
