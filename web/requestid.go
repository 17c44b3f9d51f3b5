package web

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// RequestIDHeader carries the id of a request, given by the client or made
// by the server, and is echoed in every response.
const RequestIDHeader = "X-Request-ID"

// MaxRequestIDLen bounds a client's request id: it is copied into the
// metadata of every event the request writes, which is kept forever.
const MaxRequestIDLen = 64

type requestIDKey struct{}

// RequestID gives every request an id: the client's X-Request-ID when it is
// 1 to MaxRequestIDLen characters of [A-Za-z0-9._-], otherwise a new UUID.
// The id replaces the header in the request, is in its context
// (RequestIDFrom) and is echoed in the X-Request-ID of the response.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) || len(r.Header.Values(RequestIDHeader)) > 1 {
			id = uuid.NewString()
		}
		r.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestIDFrom returns the id RequestID gave the request of ctx, or "" when
// RequestID did not run.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
