package web

import (
	"net/http"

	"github.com/rs/cors"
)

// CORS lets pages of the origins allowed call the APIs from a browser:
// it answers preflight requests (OPTIONS with Access-Control-Request-Method)
// itself and adds Access-Control-Allow-Origin and the exposed headers to
// the responses of an allowed origin; a request from another origin gets
// no CORS header, so the browser keeps its answer from the page. With no
// origin allowed it returns next as it is: CORS is off.
//
// It is github.com/rs/cors, the CORS handler most Go servers use, kept up
// and tested against the Fetch standard's corner cases (Vary, preflight
// caching, header lists, origin matching) that a hand-written one gets
// wrong. Credentials are not allowed: the APIs take bearer tokens, not
// cookies.
func CORS(allowed []string, next http.Handler) http.Handler {
	if len(allowed) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: allowed,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Min-Position", RequestIDHeader},
		ExposedHeaders: []string{RequestIDHeader, "Location", "Idempotent-Replayed", "Deprecation", "Link", "Retry-After"},
		MaxAge:         600,
	}).Handler(next)
}

// MaxCORSOrigins bounds the configured list of CORS origins.
const MaxCORSOrigins = 100
