// Package idempotency is the port of the store that remembers requests by
// idempotency key: the write API uses it, infra/postgres implements it. It
// is its own package so that an adapter can implement it without importing
// an HTTP package, and imports only the standard library.
package idempotency

import (
	"context"
	"errors"
	"time"
)

// Idempotency errors.
var (
	// ErrMismatch: the key was used with a different request.
	ErrMismatch = errors.New("idempotency key reused with a different request")
	// ErrInProgress: a request with this key is still running.
	ErrInProgress = errors.New("a request with this idempotency key is in progress")
)

// StoredResponse is the response recorded for an idempotency key.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// Store records responses by idempotency key, durably.
type Store interface {
	// Begin claims key within scope (the user, or the client address for
	// anonymous requests) for a request with this fingerprint. It returns:
	// (nil, nil) when the claim is new and the request should run;
	// (resp, nil) when the key was completed with the same fingerprint, so
	// resp is to be replayed; ErrMismatch when the key was used with another
	// fingerprint; ErrInProgress when another request holds a claim younger
	// than staleAfter. A claim older than staleAfter (its request died) is
	// taken over. A key expires some time after its claim (the store's
	// TTL); it is then new again.
	Begin(ctx context.Context, scope, key, fingerprint string, staleAfter time.Duration) (*StoredResponse, error)
	// Complete stores the response of a claimed key.
	Complete(ctx context.Context, scope, key string, resp StoredResponse) error
	// Release drops an uncompleted claim, so that the request may be retried.
	Release(ctx context.Context, scope, key string) error
}
