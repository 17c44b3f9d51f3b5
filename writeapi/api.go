package writeapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// IdempotencyStaleAfter is how long a claimed key whose request never
// finished blocks retries before a retry may take it over.
const IdempotencyStaleAfter = 30 * time.Second

// Routing errors, answered as problem+json like every other error.
var (
	// ErrNotFound: no such route or resource.
	ErrNotFound = errors.New("no such resource")
	// ErrMethodNotAllowed: the route exists, the method does not.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// API is the HTTP write API.
type API struct {
	accounts Accounts
	shows    Shows
	orders   Orders
	tokens   TokenIssuer
	auth     Authenticator
	idem     IdempotencyStore
	log      *slog.Logger
	limits   Limits
	rules    Rules // issue 14: rules
	door     Door  // issue 14: door
	// issue 14: asyncpay
	asyncpay *asyncPayAPI // nil: no routes of asynchronous payments
	refunds  Refunds      // issue 14: money
	head     LogHead      // issue 16: vocab; nil: no-op writes answer position "0"
	// issue 16: webhooks
	webhooks *webhooks.Service // nil: no webhook routes
}

// New returns the write API.
func New(cmd Commands, tokens TokenIssuer, auth Authenticator, idem IdempotencyStore, log *slog.Logger) *API {
	return &API{accounts: cmd, shows: cmd, orders: cmd, rules: cmd, door: cmd, refunds: cmd, tokens: tokens, auth: auth, idem: idem, log: log}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error

// Register adds the write routes to r.
func (a *API) Register(r *mux.Router) {
	r.Handle("/v1/users", a.public(a.signUp)).Methods(http.MethodPost)
	r.Handle("/v1/tokens", a.unstored(a.signIn)).Methods(http.MethodPost)
	r.Handle("/v1/shows", a.private(a.createShow)).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}", a.private(a.editShow)).Methods(http.MethodPatch)
	r.Handle("/v1/shows/{id}/publish", a.private(a.showLifecycle(a.shows.PublishShow))).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/cancel", a.private(a.showLifecycle(a.shows.CancelShow))).Methods(http.MethodPost)
	r.Handle("/v1/orders", a.private(throttled(func() Limiter { return a.limits.OrdersPerBuyer }, "holds for this account", a.placeOrder))).Methods(http.MethodPost)
	r.Handle("/v1/orders/{id}/pay", a.private(a.payOrder)).Methods(http.MethodPost)
	r.Handle("/v1/orders/{id}/cancel", a.private(a.cancelOrder)).Methods(http.MethodPost)
	r.Handle("/v1/tickets/{id}/check-in", a.private(deprecated("/v1/check-ins", a.checkIn))).Methods(http.MethodPost)
	// issue 14: door. The check-in by id above is kept for one release:
	// doors scan codes (POST /v1/check-ins).
	r.Handle("/v1/check-ins", a.private(a.checkInCode)).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/scans", a.private(a.recordScans)).Methods(http.MethodPost)
	r.Handle("/v1/tickets/{id}/transfer", a.private(a.transferTicket)).Methods(http.MethodPost)
	// issue 14: rules (writeapi/rules.go)
	a.registerRules(r)
	// issue 14: asyncpay
	a.registerAsyncPay(r)
	// issue 14: waitlist
	r.Handle("/v1/shows/{id}/waitlist", a.private(a.joinWaitlist)).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/waitlist", a.private(a.leaveWaitlist)).Methods(http.MethodDelete)
	r.Handle("/v1/shows/{id}/waitlist", a.private(a.waitlist)).Methods(http.MethodGet)
	// issue 14: money
	r.Handle("/v1/orders/{id}/refund", a.private(a.refundOrder)).Methods(http.MethodPost)
	// issue 16: webhooks (writeapi/webhooks.go)
	a.registerWebhooks(r)
}

// public serves a route that needs no token. Its Idempotency-Keys are
// scoped to the client's address, so that one client can neither replay
// nor see another's answer.
func (a *API) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, domain.Actor{}, "anonymous:"+clientAddr(r), h)
	})
}

// unstored serves a public route whose answers are never stored under an
// Idempotency-Key (sign-in: its answer is a token). The key is ignored; the
// request is safe to repeat.
func (a *API) unstored(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, domain.Actor{}, "", h)
	})
}

// private serves a route that needs a valid bearer token.
func (a *API) private(h handlerFunc) http.Handler {
	h = explained(h) // issue 16: vocab; wrapped once, not per request
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			Error(a.log, w, r, ErrUnauthenticated)
			return
		}
		// Only ErrUnauthenticated is the client's: a lookup that failed
		// is a 500.
		actor, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			Error(a.log, w, r, fmt.Errorf("bearer token: %w", err))
			return
		}
		// The scope is only read with an Idempotency-Key: without one
		// (most holds) it is not built.
		scope := ""
		if r.Header.Get("Idempotency-Key") != "" {
			scope = "user:" + actor.UserID.String()
		}
		a.serve(w, r, actor, scope, h)
	})
}

// serve refuses a query string (no write route takes one) and a body over
// MaxBodyBytes (413), reads the body, applies the Idempotency-Key protocol
// within scope (none when scope is empty) and runs h.
func (a *API) serve(w http.ResponseWriter, r *http.Request, actor domain.Actor, scope string, h handlerFunc) {
	if r.URL.RawQuery != "" { // without one there is nothing to refuse
		if _, err := web.Query(r, nil); err != nil {
			Error(a.log, w, r, err)
			return
		}
	}
	if r.ContentLength > MaxBodyBytes {
		Error(a.log, w, r, errTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		Error(a.log, w, r, errTooLarge)
		return
	}
	if err != nil {
		Error(a.log, w, r, &badRequest{detail: "request body unreadable"})
		return
	}
	r.Body = &readBody{Reader: bytes.NewReader(body), data: body}
	// The request id is web.RequestID's, never the raw header: it is kept
	// in every event's metadata.
	ctx := commands.WithMetadata(r.Context(), domain.Metadata{
		CorrelationID: web.RequestIDFrom(r.Context()), UserID: uuidOrEmpty(actor.UserID),
	})
	ctx = context.WithValue(ctx, headKey{}, a.head) // issue 16: vocab
	r = r.WithContext(ctx)
	key := r.Header.Get("Idempotency-Key")
	if key == "" || scope == "" {
		if err := h(w, r, actor); err != nil {
			Error(a.log, w, r, err)
		}
		return
	}
	if len(key) > 255 {
		Error(a.log, w, r, &badRequest{detail: "Idempotency-Key is longer than 255 characters"})
		return
	}
	// The key is stored as text: a byte PostgreSQL's UTF-8 refuses (net/http
	// passes bytes over 0x7F through) was a 500. An HTTP structured string
	// (RFC 8941), which the Idempotency-Key draft makes it, is printable
	// ASCII.
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		Error(a.log, w, r, &badRequest{detail: "Idempotency-Key must be printable ASCII"})
		return
	}
	sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
	stored, err := a.idem.Begin(ctx, scope, key, hex.EncodeToString(sum[:]), IdempotencyStaleAfter)
	if err != nil {
		Error(a.log, w, r, err)
		return
	}
	if stored != nil {
		w.Header().Set("Content-Type", stored.ContentType)
		w.Header().Set("Idempotent-Replayed", "true")
		if loc := replayLocation(r, stored); loc != "" { // issue 16: vocab
			w.Header().Set("Location", loc)
		}
		w.WriteHeader(stored.Status)
		_, _ = w.Write(stored.Body)
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	if err := h(rec, r, actor); err != nil {
		Error(a.log, rec, r, err)
	}
	// Storing must not depend on the client still listening. A 5xx or a
	// 429 is not an answer to the request: the key stays free for a retry.
	sctx := context.WithoutCancel(ctx)
	if rec.status >= 500 || rec.status == http.StatusTooManyRequests {
		if err := a.idem.Release(sctx, scope, key); err != nil {
			a.log.Warn("idempotency release failed", "err", err)
		}
	} else if err := a.idem.Complete(sctx, scope, key, StoredResponse{Status: rec.status, ContentType: rec.header.Get("Content-Type"), Body: rec.body.Bytes()}); err != nil {
		a.log.Error("idempotency complete failed", "err", err)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

func uuidOrEmpty(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// recorder captures a response so that it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// decode reads the JSON body into v strictly (web.DecodeJSON): duplicate
// or case-variant keys, unknown fields and trailing data are refused.
func decode(r *http.Request, v any) error {
	if b, ok := r.Body.(*readBody); ok {
		return web.DecodeJSONBytes(b.data, v)
	}
	return web.DecodeJSON(r.Body, v)
}

// readBody is a request body serve has read whole, kept as its bytes too
// so that decode does not copy it again.
type readBody struct {
	*bytes.Reader
	data []byte
}

func (*readBody) Close() error { return nil }

// errTooLarge answers a body over MaxBodyBytes; made once, not per request.
var errTooLarge = &web.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
