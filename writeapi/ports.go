// Package writeapi is the HTTP write API: it decodes requests, authenticates
// them, runs commands and maps their errors to problem+json.
package writeapi

import (
	"context"
	"errors"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// Issue returns a signed token for actor and when it expires.
	Issue(actor domain.Actor) (token string, expiresAt time.Time, err error)
}

// Authenticator checks bearer tokens.
type Authenticator interface {
	// Authenticate returns the actor a valid token was issued to. Any
	// invalid, expired or forged token fails with ErrUnauthenticated; any
	// other error (a lookup that failed) is the server's: a 500.
	Authenticate(ctx context.Context, token string) (domain.Actor, error)
}

// ErrUnauthenticated means the request carries no valid credentials. It is
// domain.ErrUnauthenticated, which the read API shares.
var ErrUnauthenticated = domain.ErrUnauthenticated

// Idempotency errors.
var (
	// ErrIdempotencyMismatch: the key was used with a different request.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrIdempotencyInProgress: a request with this key is still running.
	ErrIdempotencyInProgress = errors.New("a request with this idempotency key is in progress")
)

// StoredResponse is the response recorded for an idempotency key.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// IdempotencyStore records responses by idempotency key, durably.
type IdempotencyStore interface {
	// Begin claims key within scope (the user, or the client address for
	// anonymous requests) for a request with this fingerprint. It returns:
	// (nil, nil) when the claim is new and the request should run;
	// (resp, nil) when the key was completed with the same fingerprint, so
	// resp is to be replayed; ErrIdempotencyMismatch when the key was used
	// with another fingerprint; ErrIdempotencyInProgress when another
	// request holds a claim younger than staleAfter. A claim older than
	// staleAfter (its request died) is taken over. A key expires some time
	// after its claim (the store's TTL); it is then new again.
	Begin(ctx context.Context, scope, key, fingerprint string, staleAfter time.Duration) (*StoredResponse, error)
	// Complete stores the response of a claimed key.
	Complete(ctx context.Context, scope, key string, resp StoredResponse) error
	// Release drops an uncompleted claim, so that the request may be retried.
	Release(ctx context.Context, scope, key string) error
}

// Limiter throttles requests by key.
type Limiter interface {
	// Allow takes one request from key's allowance. When none is left it
	// takes nothing and returns false and how long until one is.
	Allow(key string) (ok bool, retryAfter time.Duration)
}
