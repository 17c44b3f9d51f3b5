package readapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/web"
)

// ProblemContentType is the media type of error responses (RFC 9457).
const ProblemContentType = web.ProblemContentType

// Problem is an RFC 9457 problem details body; see web.Problem.
type Problem = web.Problem

// mapping is one row of the error table: the errors it matches and the
// problem they are answered with; fill, when set, completes the problem
// from the error.
type mapping struct {
	match  func(error) bool
	status int
	slug   string
	title  string
	detail string
	fill   func(err error, p *Problem)
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// mappings is the one place where the read API decides HTTP statuses, in
// order: the first row that matches answers. An error no row matches is a
// 500 whose detail is logged, not shown.
var mappings = []mapping{
	// The HTTP plumbing's refusals (query strings) carry their own status
	// and client-written detail.
	{match: func(err error) bool { var e *web.Error; return errors.As(err, &e) },
		fill: func(err error, p *Problem) {
			var plumb *web.Error
			errors.As(err, &plumb)
			*p = Problem{Type: plumb.Type(), Title: plumb.Title(), Status: plumb.Status, Detail: plumb.Detail, Errors: plumb.Fields}
		}},
	{match: func(err error) bool { var v *domain.ValidationError; return errors.As(err, &v) },
		status: http.StatusBadRequest, slug: "invalid-request", title: "Invalid request",
		fill: func(err error, p *Problem) {
			var inval *domain.ValidationError
			errors.As(err, &inval)
			p.Detail, p.Errors = inval.Error(), inval.Fields
		}},
	{match: is(ErrUnauthenticated), status: http.StatusUnauthorized, slug: "unauthenticated", title: "Authentication required",
		detail: "this route needs a valid, unexpired bearer token"}, // web.WriteProblem adds the challenge
	{match: is(ErrForbidden), status: http.StatusForbidden, slug: "forbidden", title: "Forbidden",
		detail: "this account may not see this"},
	{match: is(domain.ErrShowNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such show"},
	{match: is(domain.ErrOrderNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such order"},
	{match: is(domain.ErrTicketNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such ticket"},
	{match: is(projections.ErrSectionNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "the show has no seated section of that name"},
	{match: is(projections.ErrNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such resource"},
	{match: func(err error) bool { var p *projections.ParkedError; return errors.As(err, &p) },
		status: http.StatusServiceUnavailable, slug: "stream-parked", title: "Stream parked",
		fill: func(err error, p *Problem) {
			// Waiting will not help: the stream waits for ops to retry it.
			var parked *projections.ParkedError
			errors.As(err, &parked)
			p.Detail = fmt.Sprintf("the read models cannot reflect position %s: projection %s parked stream %s at version %d, "+
				"an event it cannot apply, until it is retried", parked.Position, parked.Parked.Projection, parked.Parked.Stream, parked.Parked.Version)
		}},
	{match: is(ErrNotCaughtUp), status: http.StatusServiceUnavailable, slug: "not-caught-up", title: "Read models not caught up",
		detail: "the read models have not reached X-Min-Position yet; retry shortly",
		fill:   func(_ error, p *Problem) { p.RetryAfter = time.Second }},
}

// Error writes err as problem+json, through mappings and web.WriteProblem.
// An unknown error is logged and answered with a 500 whose detail says
// nothing about it.
func (a *API) Error(w http.ResponseWriter, r *http.Request, err error) {
	prob := web.Internal
	found := false
	for _, m := range mappings {
		if !m.match(err) {
			continue
		}
		found = true
		prob = Problem{Type: "urn:problem:ticketing:" + m.slug, Title: m.title, Status: m.status, Detail: m.detail}
		if m.fill != nil {
			m.fill(err, &prob)
		}
		break
	}
	switch {
	case !found:
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelInfo // the client went away
		}
		a.log.Log(r.Context(), level, "read request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, ErrNotCaughtUp):
		a.log.Warn("read models lag behind a read", "path", r.URL.Path, "err", err)
	case prob.Type == "urn:problem:ticketing:stream-parked":
		a.log.Warn("a read needs a parked stream", "path", r.URL.Path, "err", err)
	}
	web.WriteProblem(w, prob)
}
