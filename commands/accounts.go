package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Account errors.
var (
	ErrEmailTaken         = errors.New("email already registered")
	ErrUserNotFound       = errors.New("user not found")
	ErrInvalidCredentials = errors.New("invalid email or password")
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
	// and salt included).
	Hash(password string) (string, error)
	// Verify reports whether password matches hash; an error means the hash
	// is malformed.
	Verify(password, hash string) (bool, error)
}

// Payment errors.
var (
	ErrPaymentDeclined     = errors.New("payment declined")
	ErrInvalidPaymentToken = errors.New("invalid payment token")
)

// PaymentProvider charges buyers.
type PaymentProvider interface {
	// Charge takes amountCents from the card behind token and returns the
	// charge id. key makes it idempotent: a second call with the same key
	// returns the first charge's id (or error) and moves no money. It fails
	// with ErrPaymentDeclined (the card was refused) or
	// ErrInvalidPaymentToken (no such token).
	Charge(ctx context.Context, key string, amountCents int64, token string) (chargeID string, err error)
	// Refund returns the money of a charge. Refunding twice is a no-op.
	Refund(ctx context.Context, chargeID string) error
}
