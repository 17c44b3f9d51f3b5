// Package writeapi is the HTTP write API: it decodes requests, authenticates
// them, runs commands and maps their errors to problem+json.
package writeapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
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

// Accounts signs users up and in.
type Accounts interface {
	// SignUp registers a buyer or an organizer. It fails with a
	// *domain.ValidationError for a bad email, password or role,
	// commands.ErrEmailTaken or commands.ErrOverloaded.
	SignUp(ctx context.Context, email, password string, role domain.Role) (commands.User, error)
	// SignIn returns the actor whose credentials these are, or fails with
	// commands.ErrInvalidCredentials or commands.ErrOverloaded.
	SignIn(ctx context.Context, email, password string) (domain.Actor, error)
}

// Shows runs the commands on shows. Each fails with commands.ErrForbidden
// when actor may not, with the domain's errors when the show refuses, and
// with commands.ErrTooContended when other writers kept winning.
type Shows interface {
	// CreateShow creates a draft show owned by the organizer actor.
	CreateShow(ctx context.Context, actor domain.Actor, c domain.CreateShow) (commands.Result, error)
	// EditShow changes a show's details, prices and per-buyer limit.
	EditShow(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.EditShow) (commands.Result, error)
	// PublishShow puts a show on sale.
	PublishShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (commands.Result, error)
	// CancelShow stops a show's sales.
	CancelShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (commands.Result, error)
}

// Orders runs the commands on orders and tickets. Their errors are the
// domain's, commands.ErrForbidden, the payment errors of commands and
// commands.ErrTooContended.
type Orders interface {
	// PlaceOrder holds seats or units of a show for the buyer actor.
	PlaceOrder(ctx context.Context, actor domain.Actor, c commands.PlaceOrder) (commands.OrderResult, error)
	// PayOrder charges the buyer and confirms a held order.
	PayOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, token string) (commands.PayResult, error)
	// CancelOrder ends a held order at its buyer's request.
	CancelOrder(ctx context.Context, actor domain.Actor, id uuid.UUID) (commands.Result, error)
	// CheckIn admits a ticket at the door, once.
	CheckIn(ctx context.Context, actor domain.Actor, ticket uuid.UUID) (commands.Result, error)
}

// Commands is every command the write API runs.
type Commands interface {
	Accounts
	Shows
	Orders
	Rules   // issue 14: rules (writeapi/rules.go)
	Door    // issue 14: door
	Refunds // issue 14: money
}

// Refunds runs the refunds (issue 14: money). Its errors are the domain's
// (ErrNotRefundable, ErrAlreadyRefunded, ...), commands.ErrForbidden and
// commands.ErrTooContended.
type Refunds interface {
	// RefundOrder refunds tickets of a confirmed order, all that are left
	// when none are named; only the show's organizer or an admin may.
	RefundOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, r domain.RefundRequest) (commands.RefundResult, error)
}
