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
	"github.com/ticketing/ticketing/webhooks"
)

// ProblemContentType is the media type of error responses (RFC 9457).
const ProblemContentType = web.ProblemContentType

// Problem is an RFC 9457 problem details body; see web.Problem.
type Problem = web.Problem

// mapping is one row of the error table; see web.Mapping.
type mapping = web.Mapping

// mappings is the one place where the read API decides HTTP statuses, in
// order: the first row that matches answers. An error no row matches is a
// 500 whose detail is logged, not shown.
var mappings = []mapping{
	web.PlumbingMapping, // the HTTP plumbing's refusals (query strings)
	{Match: web.As[*domain.ValidationError](), Status: http.StatusBadRequest, Slug: "invalid-request", Title: "Invalid request",
		Fill: func(err error, p *Problem) {
			var inval *domain.ValidationError
			errors.As(err, &inval)
			p.Detail, p.Errors = inval.Error(), inval.Fields
		}},
	{Match: web.Is(ErrUnauthenticated), Status: http.StatusUnauthorized, Slug: "unauthenticated", Title: "Authentication required",
		Detail: "this route needs a valid, unexpired bearer token"}, // web.WriteProblem adds the challenge
	{Match: web.Is(ErrForbidden), Status: http.StatusForbidden, Slug: "forbidden", Title: "Forbidden",
		Detail: "this account may not see this", Fill: web.ForbiddenDetail},
	web.BadPathIDMapping, // issue 16: vocab
	// issue 16: webhooks
	{Match: web.Is(webhooks.ErrForbidden), Status: http.StatusForbidden, Slug: "forbidden", Title: "Forbidden",
		Detail: "only organizers and admins may manage webhook endpoints"},
	web.NotFound(webhooks.ErrNotFound, "no such webhook endpoint or delivery"),
	web.NotFound(domain.ErrShowNotFound, "no such show"),
	web.NotFound(domain.ErrOrderNotFound, "no such order"),
	web.NotFound(domain.ErrTicketNotFound, "no such ticket"),
	web.NotFound(projections.ErrSectionNotFound, "the show has no seated section of that name"),
	web.NotFound(projections.ErrNotFound, "no such resource"),
	{Match: web.As[*projections.ParkedError](), Status: http.StatusServiceUnavailable, Slug: "stream-parked", Title: "Stream parked",
		Fill: func(err error, p *Problem) {
			// Waiting will not help: the stream waits for ops to retry it.
			var parked *projections.ParkedError
			errors.As(err, &parked)
			p.Detail = fmt.Sprintf("the read models cannot reflect position %s: projection %s parked stream %s at version %d, "+
				"an event it cannot apply, until it is retried", parked.Position, parked.Parked.Projection, parked.Parked.Stream, parked.Parked.Version)
		}},
	// issue 18: hotreads
	{Match: web.Is(ErrNotOnSale), Status: http.StatusConflict, Slug: "not-on-sale", Title: "Show not on sale",
		Fill: func(err error, p *Problem) { p.Detail = err.Error() }}, // says which show, and what it is
	{Match: web.Is(ErrNotCaughtUp), Status: http.StatusServiceUnavailable, Slug: "not-caught-up", Title: "Read models not caught up",
		Detail: "the read models have not reached X-Min-Position yet; retry shortly",
		Fill:   func(_ error, p *Problem) { p.RetryAfter = time.Second }},
}

// Error writes err as problem+json, through mappings and web.WriteProblem.
// An unknown error is logged and answered with a 500 whose detail says
// nothing about it.
func (a *API) Error(w http.ResponseWriter, r *http.Request, err error) {
	prob, found := web.ProblemFor(mappings, err)
	switch {
	case !found:
		prob = web.Internal
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
