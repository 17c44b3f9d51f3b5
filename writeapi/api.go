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
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
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
	cmd    *commands.Handler
	tokens TokenIssuer
	auth   Authenticator
	idem   IdempotencyStore
	log    *slog.Logger
	limits Limits
}

// New returns the write API.
func New(cmd *commands.Handler, tokens TokenIssuer, auth Authenticator, idem IdempotencyStore, log *slog.Logger) *API {
	return &API{cmd: cmd, tokens: tokens, auth: auth, idem: idem, log: log}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error

// Register adds the write routes to r.
func (a *API) Register(r *mux.Router) {
	r.Handle("/v1/users", a.public(a.signUp)).Methods(http.MethodPost)
	r.Handle("/v1/tokens", a.unstored(a.signIn)).Methods(http.MethodPost)
	r.Handle("/v1/shows", a.private(a.createShow)).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}", a.private(a.editShow)).Methods(http.MethodPatch)
	r.Handle("/v1/shows/{id}/publish", a.private(a.showLifecycle(a.cmd.PublishShow))).Methods(http.MethodPost)
	r.Handle("/v1/shows/{id}/cancel", a.private(a.showLifecycle(a.cmd.CancelShow))).Methods(http.MethodPost)
	r.Handle("/v1/orders", a.private(throttled(func() Limiter { return a.limits.OrdersPerBuyer }, "holds for this account", a.placeOrder))).Methods(http.MethodPost)
	r.Handle("/v1/orders/{id}/pay", a.private(a.payOrder)).Methods(http.MethodPost)
	r.Handle("/v1/orders/{id}/cancel", a.private(a.cancelOrder)).Methods(http.MethodPost)
	r.Handle("/v1/tickets/{id}/check-in", a.private(a.checkIn)).Methods(http.MethodPost)
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			Error(a.log, w, r, ErrUnauthenticated)
			return
		}
		actor, err := a.auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			Error(a.log, w, r, fmt.Errorf("%w: %w", ErrUnauthenticated, err))
			return
		}
		a.serve(w, r, actor, "user:"+actor.UserID.String(), h)
	})
}

// serve reads the bounded body, applies the Idempotency-Key protocol within
// scope (none when scope is empty) and runs h.
func (a *API) serve(w http.ResponseWriter, r *http.Request, actor domain.Actor, scope string, h handlerFunc) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		Error(a.log, w, r, &badRequest{detail: fmt.Sprintf("request body unreadable or larger than %d bytes", MaxBodyBytes)})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctx := commands.WithMetadata(r.Context(), domain.Metadata{
		CorrelationID: r.Header.Get("X-Request-ID"), UserID: uuidOrEmpty(actor.UserID),
	})
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
	sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
	stored, err := a.idem.Begin(ctx, scope, key, hex.EncodeToString(sum[:]), IdempotencyStaleAfter)
	if err != nil {
		Error(a.log, w, r, err)
		return
	}
	if stored != nil {
		w.Header().Set("Content-Type", stored.ContentType)
		w.Header().Set("Idempotent-Replayed", "true")
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

// decode reads the JSON body into v: unknown fields and trailing data are
// rejected.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			return &badRequest{detail: "a field has the wrong type", fields: []domain.FieldError{{Field: typeErr.Field, Detail: "must be " + jsonKind(typeErr.Type)}}}
		case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
			return &badRequest{detail: "malformed JSON: " + err.Error()}
		case errors.Is(err, io.EOF):
			return &badRequest{detail: "request body is empty"}
		// encoding/json has no typed error for unknown fields; its message
		// is the only way to tell.
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &badRequest{detail: "unknown field", fields: []domain.FieldError{{Field: field, Detail: "unknown field"}}}
		}
		return &badRequest{detail: "malformed JSON: " + err.Error()}
	}
	if dec.More() {
		return &badRequest{detail: "malformed JSON: data after the object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &badRequest{detail: "malformed JSON: data after the object"}
	}
	return nil
}

// jsonKind names what JSON a Go type takes, for error messages.
func jsonKind(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[uuid.UUID]():
		return "a UUID string"
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(mux.Vars(r)["id"])
	if err != nil {
		return uuid.Nil, ErrNotFound
	}
	return id, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
