package readapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// ProblemContentType is the media type of error responses (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

// Error writes err as problem+json. It is the one place where the read API
// decides HTTP statuses. An unknown error is logged and answered with a 500
// whose detail says nothing about it.
func (a *API) Error(w http.ResponseWriter, r *http.Request, err error) {
	p := func(status int, slug, title string) Problem {
		return Problem{Type: "urn:problem:ticketing:" + slug, Title: title, Status: status, Detail: err.Error()}
	}
	var (
		prob   Problem
		inval  *domain.ValidationError
		parked *projections.ParkedError
	)
	switch {
	case errors.As(err, &inval):
		prob = p(http.StatusBadRequest, "invalid-request", "Invalid request")
		prob.Errors = inval.Fields
	case errors.Is(err, ErrUnauthenticated):
		prob = p(http.StatusUnauthorized, "unauthenticated", "Authentication required")
		w.Header().Set("WWW-Authenticate", `Bearer realm="ticketing"`)
	case errors.Is(err, ErrForbidden):
		prob = p(http.StatusForbidden, "forbidden", "Forbidden")
	case errors.Is(err, projections.ErrNotFound), errors.Is(err, domain.ErrShowNotFound),
		errors.Is(err, domain.ErrOrderNotFound), errors.Is(err, domain.ErrTicketNotFound):
		prob = p(http.StatusNotFound, "not-found", "Not found")
	case errors.As(err, &parked):
		// Waiting will not help: the stream waits for ops to retry it.
		prob = p(http.StatusServiceUnavailable, "stream-parked", "Stream parked")
		prob.Detail = fmt.Sprintf("the read models cannot reflect position %s: projection %s parked stream %s at version %d, "+
			"an event it cannot apply, until it is retried", parked.Position, parked.Parked.Projection, parked.Parked.Stream, parked.Parked.Version)
		a.log.Warn("a read needs a parked stream", "path", r.URL.Path, "err", err)
	case errors.Is(err, ErrNotCaughtUp):
		prob = p(http.StatusServiceUnavailable, "not-caught-up", "Read models not caught up")
		w.Header().Set("Retry-After", "1")
		a.log.Warn("read models lag behind a read", "path", r.URL.Path, "err", err)
	default:
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelInfo // the client went away
		}
		a.log.Log(r.Context(), level, "read request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		prob = Problem{Type: "urn:problem:ticketing:internal", Title: "Internal error", Status: http.StatusInternalServerError,
			Detail: "the server failed; the request may be retried"}
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Del("Cache-Control")
	w.WriteHeader(prob.Status)
	_ = json.NewEncoder(w).Encode(prob)
}
