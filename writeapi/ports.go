// Package writeapi is the HTTP write API: it decodes requests, authenticates
// them, runs commands and maps their errors to problem+json.
package writeapi

import (
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/idempotency"
	"github.com/ticketing/ticketing/web"
)

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// Issue returns a signed token for actor and when it expires.
	Issue(actor domain.Actor) (token string, expiresAt time.Time, err error)
}

// Authenticator checks bearer tokens; see web.Authenticator, which the
// read API shares.
type Authenticator = web.Authenticator

// ErrUnauthenticated means the request carries no valid credentials. It is
// domain.ErrUnauthenticated, which the read API shares.
var ErrUnauthenticated = domain.ErrUnauthenticated

// Idempotency errors, those of the idempotency port.
var (
	// ErrIdempotencyMismatch: the key was used with a different request.
	ErrIdempotencyMismatch = idempotency.ErrMismatch
	// ErrIdempotencyInProgress: a request with this key is still running.
	ErrIdempotencyInProgress = idempotency.ErrInProgress
)

// StoredResponse is the response recorded for an idempotency key.
type StoredResponse = idempotency.StoredResponse

// IdempotencyStore records responses by idempotency key, durably; see
// idempotency.Store.
type IdempotencyStore = idempotency.Store

// Limiter throttles requests by key.
type Limiter interface {
	// Allow takes one request from key's allowance. When none is left it
	// takes nothing and returns false and how long until one is.
	Allow(key string) (ok bool, retryAfter time.Duration)
}
