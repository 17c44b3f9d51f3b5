package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

// BenchmarkMiddleware measures what the ops middleware adds to a request
// of a route that does nothing: bare is the router with its HTTP metrics
// (as before issue 16), chain adds the access log at info into a JSON
// handler and the request id, chain+cors adds CORS and an allowed
// origin's request. Compare each one's ns/op and allocs/op with bare's.
func BenchmarkMiddleware(b *testing.B) {
	m := newMetrics(nil, nil, nil, quiet)
	router := mux.NewRouter()
	router.HandleFunc("/v1/shows/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) })
	router.Use(m.instrument)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, c := range []struct {
		name    string
		h       http.Handler
		origins []string
	}{
		{"bare", router, nil},
		{"chain", middleware(log, slog.LevelInfo, nil, router), nil},
		{"chain+cors", middleware(log, slog.LevelInfo, []string{"https://shop.example"}, router), []string{"https://shop.example"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v1/shows/0193a9c2-7a3b-7cc0-9f3e-1d2a3b4c5d6e", nil)
			if c.origins != nil {
				req.Header.Set("Origin", c.origins[0])
			}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
