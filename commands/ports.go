// Package commands holds one handler per command and the ports they need:
// the event store, the payment provider, the user store and the clock.
// Every port is declared here, with its contract.
package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// ErrConflict is the class of every optimistic-concurrency failure.
var ErrConflict = errors.New("wrong expected version")

// ConflictError says that an append expected a stream version that was not
// the stream's version. It matches ErrConflict.
type ConflictError struct {
	Stream   string
	Expected int64
	Actual   int64 // -1 when the adapter cannot tell
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s: expected version %d, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// StoreError wraps an adapter failure with the operation and stream.
type StoreError struct {
	Op      string
	Stream  string
	Version int64
	Err     error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("eventstore %s %s@%d: %v", e.Op, e.Stream, e.Version, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// AppendResult tells where an append landed.
type AppendResult struct {
	// Version is the stream's version after the append.
	Version int64
	// Position is the global position of the last appended event.
	Position domain.Position
}

// EventStore is the event store port.
type EventStore interface {
	// Append adds events to the end of a stream if the stream is at expected
	// (domain.NoStream for a new stream, domain.AnyVersion to skip the check).
	// It returns a *ConflictError (errors.Is ErrConflict) and writes nothing
	// when the stream is elsewhere. It is idempotent by event id: when every
	// event id was already appended to the stream in the same order, it
	// stores nothing and returns the original result, whatever expected is.
	// Events of one append are written atomically.
	Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (AppendResult, error)

	// ReadStream returns the events of a stream with version >= from, in
	// order. A stream that does not exist has no events, and no error.
	ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error)

	// ReadAll returns up to limit events of the global log after position
	// after, in log order. It never skips a committed event: an event that
	// becomes visible later always has a later position than every event
	// already returned.
	ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error)

	// Follow calls handle with every event after position after, in log
	// order and in batches, as they are committed, until ctx ends (it then
	// returns ctx.Err()) or handle fails (it then returns that error).
	Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error
}

// StreamAppend is one stream's part of a multi-stream append.
type StreamAppend struct {
	Stream   string
	Expected int64
	Events   []domain.EventData
}

// MultiAppender is an event store that can append to several streams in one
// atomic write. A hold batch uses it to write the show's holds and the new
// orders together: one write per batch, and no window in which a hold has no
// order. Stores without it get the holds and the orders in two writes.
type MultiAppender interface {
	// AppendMulti appends every part to its stream, all or none. Each part
	// is decided as Append decides it; when one conflicts, nothing is
	// written and the *ConflictError names that part's stream. When every
	// event of every part was already appended the same way, it writes
	// nothing and returns the original results. It returns one result per
	// part, in order.
	AppendMulti(ctx context.Context, parts []StreamAppend) ([]AppendResult, error)
}

// SnapshotStore keeps snapshots of aggregates, so that loading one costs the
// events after its latest snapshot, not its whole history.
type SnapshotStore interface {
	// Load returns the latest snapshot of a stream and the stream version
	// it was taken at; ok is false when there is none.
	Load(ctx context.Context, stream string) (version int64, data []byte, ok bool, err error)
	// Save stores a snapshot of a stream taken at version; an older one
	// does not replace a newer one.
	Save(ctx context.Context, stream string, version int64, data []byte) error
}

// LiveShows counts an organizer's live shows, for the show quota.
type LiveShows interface {
	// LiveShows returns how many shows of organizer are neither cancelled
	// nor started at now, as far as it knows: a read model may lag.
	LiveShows(ctx context.Context, organizer uuid.UUID, now time.Time) (int, error)
}

// TicketLocator finds the order a ticket belongs to.
type TicketLocator interface {
	// TicketOrder returns the order and show of a ticket, or
	// domain.ErrTicketNotFound.
	TicketOrder(ctx context.Context, ticket uuid.UUID) (order, show uuid.UUID, err error)
}

// HoldRef names an open hold.
type HoldRef struct {
	ShowID  uuid.UUID
	OrderID uuid.UUID
}

// HoldIndex finds holds whose time ran out.
type HoldIndex interface {
	// DueHolds returns up to limit open holds that expire at or before now,
	// earliest first.
	DueHolds(ctx context.Context, now time.Time, limit int) ([]HoldRef, error)
}

// HoldSettler settles the holds of orders of one show: what the Expirer
// needs of a Handler.
type HoldSettler interface {
	// SettleMany settles orders of the show showID as Handler.SettleMany
	// does, and returns how many it settled or found settled.
	SettleMany(ctx context.Context, showID uuid.UUID, orders []uuid.UUID) (int, error)
}

// Errors of the account ports.
var (
	// ErrEmailTaken: Users.Create found the email registered already.
	ErrEmailTaken = errors.New("email already registered")
	// ErrUserNotFound: Users.ByEmail knows no such email.
	ErrUserNotFound = errors.New("user not found")
	// ErrOverloaded: the password hasher has no capacity left now; the
	// request may be retried shortly.
	ErrOverloaded = errors.New("too many password hashes in flight")
)

// User is an account that signs in with email and password.
type User struct {
	ID           uuid.UUID
	Email        string // stored lower-cased
	PasswordHash string
	Role         domain.Role
	CreatedAt    time.Time
}

// Users stores accounts.
type Users interface {
	// Create stores a new user. It fails with ErrEmailTaken when a user with
	// the same email (compared case-insensitively) exists.
	Create(ctx context.Context, u User) error
	// ByEmail returns the user with that email (case-insensitive), or
	// ErrUserNotFound.
	ByEmail(ctx context.Context, email string) (User, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	// Hash returns a self-describing hash of password (algorithm, parameters
	// and salt included). It fails with ErrOverloaded when the hasher has
	// no capacity left.
	Hash(password string) (string, error)
	// Verify reports whether password matches hash; an error means the hash
	// is malformed, or ErrOverloaded that the hasher has no capacity left.
	Verify(password, hash string) (bool, error)
}

// Payment errors.
var (
	ErrPaymentDeclined     = errors.New("payment declined")
	ErrInvalidPaymentToken = errors.New("invalid payment token")
	// ErrRefundExceedsCharge: the refunds of a charge would pass its amount.
	ErrRefundExceedsCharge = errors.New("refund exceeds the charge")
)

// DeclineCoder is implemented by the ErrPaymentDeclined errors of a
// provider that says why a card was refused.
type DeclineCoder interface {
	// DeclineCode is the provider's machine-readable reason, such as
	// "insufficient_funds".
	DeclineCode() string
}

// PaymentProvider charges buyers.
type PaymentProvider interface {
	// Charge takes amountCents from the card behind token and returns the
	// charge id. key makes it idempotent: a second call with the same key
	// returns the first charge's id (or error) and moves no money. It fails
	// with ErrPaymentDeclined (the card was refused; the error implements
	// DeclineCoder when the provider gave a reason) or
	// ErrInvalidPaymentToken (no such token).
	Charge(ctx context.Context, key string, amountCents int64, token string) (chargeID string, err error)
	// Refund returns amountCents of a charge and the refund's id. key makes
	// it idempotent: a second call with the same key returns the first
	// call's id (or error) and moves no money. Partial refunds are allowed;
	// the refunds of a charge never add up to more than it: past that it
	// fails with ErrRefundExceedsCharge.
	Refund(ctx context.Context, key, chargeID string, amountCents int64) (refundID string, err error)
}

// issue 14: money.

// RefundRef names a decided refund: an order.refunded of an order.
type RefundRef struct {
	OrderID  uuid.UUID
	RefundID string
}

// RefundWork is the refund process's view of the log (a projection).
type RefundWork interface {
	// OrdersToRefund returns up to limit confirmed orders of cancelled
	// shows that still have tickets to refund.
	OrdersToRefund(ctx context.Context, limit int) ([]uuid.UUID, error)
	// UnsettledRefunds returns up to limit decided refunds recorded before
	// before whose settling was not recorded, oldest first.
	UnsettledRefunds(ctx context.Context, before time.Time, limit int) ([]RefundRef, error)
	// SettleRefund records that a refund was settled (failure nil) or that
	// an attempt failed.
	SettleRefund(ctx context.Context, refundID string, failure error) error
	// HoldsToRelease returns up to limit orders with open holds on
	// cancelled shows.
	HoldsToRelease(ctx context.Context, limit int) ([]uuid.UUID, error)
}

// issue 14: asyncpay

// Intent is a payment intent opened at a provider.
type Intent struct {
	ID string
	// ClientSecret lets the buyer's browser complete the payment with the
	// provider, as Stripe's client_secret does. It is never stored in an
	// event.
	ClientSecret string
}

// PaymentIntents opens payment intents, which the provider confirms or
// fails later by a signed webhook.
type PaymentIntents interface {
	// StartIntent opens an intent to take amountCents for order and
	// returns it. key makes it idempotent: a second call with the same key
	// returns the first intent (or error) and opens none. A non-positive
	// amount or an empty key fails.
	StartIntent(ctx context.Context, key string, order uuid.UUID, amountCents int64) (Intent, error)
}
