// Package readapi is the HTTP read API: it answers from the read models
// (projections.Queries), never from the event store, enforces who may see
// what and maps errors to problem+json.
//
// Read-your-writes: the write API answers every write with the position of
// its last event; a read that sends it back in the X-Min-Position header
// waits (up to MinPositionWait) until the projections the route reads have
// applied it. A position that is not one (beyond a bigint) or is beyond the
// end of the log is refused at once with a 400 naming the header. When a
// projection the route reads parked the stream the route reads (the show of
// /v1/shows/{id}..., the order of /v1/orders/{id}) at or before the
// position, the read is answered at once with a 503 "stream-parked"
// problem naming the stream: waiting would not help until ops retry it.
// Routes that list (/v1/shows, /v1/me/...) read no one stream: they wait for
// their projections only, and a parked stream does not hold them back.
package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

// MinPositionHeader names the position a read must reflect.
const MinPositionHeader = "X-Min-Position"

// MinPositionWait is how long a read waits for the projections to reach its
// X-Min-Position before it fails with ErrNotCaughtUp.
const MinPositionWait = 2 * time.Second

// LogHead tells where the global log ends. The event store satisfies it.
type LogHead interface {
	// Head returns the position of the last event of the log, or
	// domain.Start when it is empty.
	Head(ctx context.Context) (domain.Position, error)
}

// Authenticator checks bearer tokens; see web.Authenticator, which the
// write API shares.
type Authenticator = web.Authenticator

// Errors of the read API; Error maps them to HTTP.
var (
	// ErrUnauthenticated: the route needs a valid bearer token, or the
	// request carries an invalid one. It is domain.ErrUnauthenticated,
	// which the write API and the Authenticator share.
	ErrUnauthenticated = domain.ErrUnauthenticated
	// ErrForbidden: the actor may not see this resource.
	ErrForbidden = errors.New("forbidden")
	// ErrNotCaughtUp: the read models did not reach the X-Min-Position of
	// the request in time.
	ErrNotCaughtUp = errors.New("read models have not caught up yet")
)

// API is the HTTP read API.
type API struct {
	q    *projections.Queries
	auth Authenticator
	log  *slog.Logger
	head LogHead
	// codes makes the codes of tickets (issue 14: door); nil: none.
	codes *domain.TicketCodes
	// versions tells the ETag of a show (issue 16: vocab); nil: none.
	versions ShowVersions
	// signals receives the waits for X-Min-Position (issue 16: ops); nil:
	// none.
	signals Signals
	// issue 16: webhooks
	webhooks *webhooks.Service // nil: no webhook routes
	// issue 17: hotreads (readapi/hot.go, live.go): the in-memory views
	// and the limits of the live streams; nil: none.
	hot     *projections.Hot
	streams *liveLimits
}

// New returns the read API over q. log receives the errors answered with a
// 500; nil discards them.
func New(q *projections.Queries, auth Authenticator, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{q: q, auth: auth, log: log}
}

// WithLogHead has the API refuse, with a 400, an X-Min-Position beyond the
// head of the log, rather than wait MinPositionWait for it; it returns a.
func (a *API) WithLogHead(h LogHead) *API {
	a.head = h
	return a
}

// access says who may call a route.
type access int

const (
	// anyone: a token is optional, but must be valid when given.
	anyone access = iota
	// signedIn: a valid token is required.
	signedIn
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error

// reads is what a route reads: the projections whose tables it queries
// and, for a route of one show or order, the stream of the id in its path.
type reads struct {
	projections []string
	stream      func(id uuid.UUID) string
}

var (
	// readsLog: the route reads the event log, which holds every position
	// the write API returned.
	readsLog       = reads{}
	readsShows     = reads{projections: []string{projections.NameShows, projections.NameWaitlist}}
	readsShow      = reads{projections: []string{projections.NameShows, projections.NameWaitlist}, stream: domain.ShowStream}
	readsSales     = reads{projections: []string{projections.NameShows, projections.NameSales}, stream: domain.ShowStream}
	readsAnalytics = reads{projections: []string{projections.NameShows, projections.NameAnalytics}, stream: domain.ShowStream}
	readsOrders    = reads{projections: []string{projections.NameOrders}}
	readsOrder     = reads{projections: []string{projections.NameOrders}, stream: domain.OrderStream}
)

// Register adds the read routes to r.
func (a *API) Register(r *mux.Router) {
	r.Handle("/v1/shows", a.route(anyone, readsShows, a.listShows, pageParams)).Methods(http.MethodGet)
	a.RegisterHot(r) // issue 17: hotreads: answered from memory when they can (readapi/hot.go)
	r.Handle("/v1/shows/{id}/live", a.route(anyone, readsShow, a.live)).Methods(http.MethodGet)
	r.Handle("/v1/shows/{id}/sales", a.route(signedIn, readsSales, a.sales)).Methods(http.MethodGet)
	r.Handle("/v1/shows/{id}/analytics", a.route(signedIn, readsAnalytics, a.analytics)).Methods(http.MethodGet)
	r.Handle("/v1/me/shows", a.route(signedIn, readsShows, a.myShows, pageParams)).Methods(http.MethodGet)
	r.Handle("/v1/me/orders", a.route(signedIn, readsOrders, a.myOrders, pageParams)).Methods(http.MethodGet)
	r.Handle("/v1/me/tickets", a.route(signedIn, readsOrders, a.myTickets, pageParams)).Methods(http.MethodGet)
	// issue 14: waitlist
	r.Handle("/v1/me/waitlist", a.route(signedIn, readsWaitlist, a.myWaitlist)).Methods(http.MethodGet)
	r.Handle("/v1/orders/{id}", a.route(signedIn, readsOrder, a.order)).Methods(http.MethodGet)
	// issue 14: rules (readapi/rules.go)
	r.Handle("/v1/shows/{id}/rules", a.route(signedIn, readsShow, a.showRules)).Methods(http.MethodGet)
	// issue 14: door
	r.Handle("/v1/shows/{id}/attendees", a.route(signedIn, readsShowOrders, a.attendees, pageParams)).Methods(http.MethodGet)
	r.Handle("/v1/shows/{id}/orders", a.route(signedIn, readsShowOrders, a.showOrders, pageParams)).Methods(http.MethodGet)
	// issue 16: webhooks (readapi/webhooks.go)
	a.registerWebhooks(r)
}

// pageParams are the query parameters of a paged list.
var pageParams = web.Params{"limit": 1, "cursor": 1}

// route authenticates the request, refuses a query string other than the
// parameters the route takes (none when query is omitted), waits for its
// X-Min-Position in what the route reads and runs h. The actor of an
// anonymous request has a nil UserID.
func (a *API) route(who access, needs reads, h handlerFunc, query ...web.Params) http.Handler {
	takes := web.Params{}
	for _, q := range query {
		maps.Copy(takes, q)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := a.actor(r)
		if err == nil && who == signedIn && actor.UserID == uuid.Nil {
			err = fmt.Errorf("%w: this route needs a bearer token", ErrUnauthenticated)
		}
		if err == nil {
			_, err = web.Query(r, takes)
		}
		if err == nil {
			err = a.waitForMinPosition(r, needs)
		}
		if err == nil {
			err = h(w, r, actor)
		}
		if err != nil {
			a.Error(w, r, err)
		}
	})
}

// actor authenticates the bearer token of r, if any.
func (a *API) actor(r *http.Request) (domain.Actor, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return domain.Actor{}, nil
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return domain.Actor{}, fmt.Errorf("%w: the Authorization header is not a bearer token", ErrUnauthenticated)
	}
	// Only ErrUnauthenticated is the client's: a lookup that failed is
	// a 500.
	actor, err := a.auth.Authenticate(r.Context(), token)
	if err != nil {
		return domain.Actor{}, fmt.Errorf("bearer token: %w", err)
	}
	if actor.UserID == uuid.Nil {
		return domain.Actor{}, fmt.Errorf("%w: the token names no user", ErrUnauthenticated)
	}
	return actor, nil
}

// waitForMinPosition waits until the projections the route reads reflect
// the request's X-Min-Position. A position that cannot be one, or is
// beyond the head of the log, is refused at once; so is a read of a stream
// that is parked before the position (a *projections.ParkedError).
func (a *API) waitForMinPosition(r *http.Request, needs reads) error {
	h := r.Header.Get(MinPositionHeader)
	if h == "" {
		return nil
	}
	invalid := func(detail string) error {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: MinPositionHeader, Detail: detail}}}
	}
	pos, err := domain.ParsePosition(h)
	if err != nil || pos.Commit > math.MaxInt64 || pos.Prepare > math.MaxInt64 {
		return invalid("is not a position returned by the write API")
	}
	if len(needs.projections) == 0 {
		return nil
	}
	var streams []string
	if needs.stream != nil {
		if id, err := uuid.Parse(mux.Vars(r)["id"]); err == nil {
			streams = []string{needs.stream(id)}
		}
	}
	// One look first: a position reached, or a stream parked, is answered
	// without asking for the head.
	ok, err := a.q.WaitFor(r.Context(), pos, needs.projections, streams, 0)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if a.head != nil {
		head, err := a.head.Head(r.Context())
		if err != nil {
			return fmt.Errorf("read the head of the log: %w", err)
		}
		if head.Less(pos) {
			return invalid(fmt.Sprintf("is beyond the end of the log (position %s)", head))
		}
	}
	start := time.Now() // issue 16: ops
	ok, err = a.q.WaitFor(r.Context(), pos, needs.projections, streams, MinPositionWait)
	a.observeWait(start, ok, err) // issue 16: ops
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: position %s", ErrNotCaughtUp, pos)
	}
	return nil
}

// pathID returns the id in the path; a malformed id names nothing, so it is
// not found.
func pathID(r *http.Request) (uuid.UUID, error) {
	s := mux.Vars(r)["id"]
	id, err := uuid.Parse(s)
	if err != nil { // issue 16: vocab, the detail names the path's id
		return uuid.Nil, &web.BadPathID{What: web.PathWhat(r.URL.Path), Value: s, NotFound: projections.ErrNotFound}
	}
	return id, nil
}

// page reads the limit (at most max) and cursor query parameters
// (pageParams), which route has checked.
func page(r *http.Request, max int) (projections.Page, error) {
	q := r.URL.Query()
	p := projections.Page{Cursor: q.Get("cursor")}
	if s := q.Get("limit"); q.Has("limit") { // issue 16: openapi: limit= is not the default
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, &domain.ValidationError{Fields: []domain.FieldError{{Field: "limit", Detail: fmt.Sprintf("must be an integer between 1 and %d", max)}}}
		}
		if n == 0 {
			n = -1 // an explicit zero is not the default
		}
		p.Limit = n
	}
	return p, nil
}

// writeJSON answers v as JSON with status 200; answers to a signed-in actor
// are not to be cached.
func writeJSON(w http.ResponseWriter, actor domain.Actor, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	if actor.UserID != uuid.Nil {
		w.Header().Set("Cache-Control", "private, no-store")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
