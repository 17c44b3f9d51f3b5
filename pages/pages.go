// Package pages is the engine's web pages: a storefront (the catalog, a
// live seat map, holding, paying, tickets with QR codes), an organizer's
// dashboard and an ops view. They are plain HTML, CSS and JavaScript
// modules embedded in the binary (no build step) that talk to the engine
// through its public HTTP API only, from the same origin; they load nothing
// from elsewhere (the QR encoder is vendored under static/vendor).
package pages

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"

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

// document is one page: the shell (static/shell.html) with its title, its
// script and its place in the navigation.
type document struct {
	Path, Title, Script string
}

// documents are the pages, in the order of the navigation.
var documents = []document{
	{Path: "/", Title: "Tickets", Script: "store.js"},
	{Path: "/#/tickets", Title: "My tickets"}, // a view of the storefront
	{Path: "/organizer", Title: "Organizer · Tickets", Script: "organizer.js"},
	{Path: "/ops", Title: "Ops · Tickets", Script: "ops.js"},
}

// navLabels name the documents in the navigation.
var navLabels = map[string]string{"/": "Shows", "/#/tickets": "My tickets", "/organizer": "Organizer", "/ops": "Ops"}

type navLink struct {
	Href, Label string
	Current     bool
}

// render fills the shell for d.
func render(shell *template.Template, d document) []byte {
	var nav []navLink
	for _, o := range documents {
		href := o.Path
		if href == "/" {
			href = "/#/"
		}
		nav = append(nav, navLink{Href: href, Label: navLabels[o.Path], Current: o.Path == d.Path})
	}
	var b bytes.Buffer
	if err := shell.Execute(&b, struct {
		document
		Nav []navLink
	}{d, nav}); err != nil {
		panic(err) // the shell and its data are fixed: a test would fail first
	}
	return b.Bytes()
}

// policy is the Content-Security-Policy of every answer: this origin only,
// no inline script or style; QR codes are drawn as data: images.
const policy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Register adds the pages to r: GET of /, /organizer and /ops, and of the
// files under /static/. Every other path stays the router's (its 404s are
// still problem+json, and so is a folder under /static/).
func Register(r *mux.Router) {
	files := Files()
	shell := template.Must(template.ParseFS(files, "shell.html"))
	for _, d := range documents {
		if d.Script == "" {
			continue
		}
		page := render(shell, d)
		r.Handle(d.Path, secured(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(page))
		}))).Methods(http.MethodGet, http.MethodHead)
	}
	// The files sit one folder deep (css, js, vendor): the route is
	// /static/{dir}/{file}, as the OpenAPI document says, and a file that
	// is not there answers as the router does, a problem.
	fileServer := http.StripPrefix("/static/", http.FileServerFS(files))
	r.Handle("/static/{dir}/{file}", secured(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v := mux.Vars(req)
		if st, err := fs.Stat(files, v["dir"]+"/"+v["file"]); err != nil || st.IsDir() {
			notFound(r, w, req)
			return
		}
		fileServer.ServeHTTP(w, req)
	}))).Methods(http.MethodGet, http.MethodHead)
}

// notFound answers as the router does for a path it does not have.
func notFound(r *mux.Router, w http.ResponseWriter, req *http.Request) {
	if r.NotFoundHandler != nil {
		r.NotFoundHandler.ServeHTTP(w, req)
		return
	}
	http.NotFound(w, req)
}

// secured sets the headers of every page and file: the policy, no
// sniffing, no referrer, and revalidation on each load (the files change
// with the binary, and the embedded files have no dates).
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
