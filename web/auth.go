package web

import (
	"context"

	"github.com/ticketing/ticketing/domain"
)

// Authenticator checks bearer tokens, for both APIs.
type Authenticator interface {
	// Authenticate returns the actor a valid token was issued to. Any
	// invalid, expired or forged token fails with domain.ErrUnauthenticated;
	// any other error (a lookup that failed) is the server's: a 500.
	Authenticate(ctx context.Context, token string) (domain.Actor, error)
}
