package commands

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Account errors.
var (
	ErrEmailTaken         = errors.New("email already registered")
	ErrUserNotFound       = errors.New("user not found")
	ErrInvalidCredentials = errors.New("invalid email or password")
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
	// Refund returns the money of a charge. Refunding twice is a no-op.
	Refund(ctx context.Context, chargeID string) error
}

// Password rules, after OWASP's authentication cheat sheet.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// SignUp registers a buyer or an organizer. Admins are not self-service.
func (h *Handler) SignUp(ctx context.Context, email, password string, role domain.Role) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var fields []domain.FieldError
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		fields = append(fields, domain.FieldError{Field: "email", Detail: "must be a valid email address"})
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		fields = append(fields, domain.FieldError{Field: "password", Detail: fmt.Sprintf("must be %d to %d characters", MinPasswordLen, MaxPasswordLen)})
	}
	if role != domain.RoleBuyer && role != domain.RoleOrganizer {
		fields = append(fields, domain.FieldError{Field: "role", Detail: `must be "buyer" or "organizer"`})
	}
	if len(fields) > 0 {
		return User{}, &domain.ValidationError{Fields: fields}
	}
	hash, err := h.Passwords.Hash(password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: h.NewID(), Email: email, PasswordHash: hash, Role: role, CreatedAt: h.Now().UTC()}
	if err := h.Users.Create(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// SignIn checks credentials. An unknown email and a wrong password fail
// alike, with ErrInvalidCredentials, after the same hashing work.
func (h *Handler) SignIn(ctx context.Context, email, password string) (domain.Actor, error) {
	u, err := h.Users.ByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, ErrUserNotFound) {
		dummy, err := h.dummyHash()
		if err != nil {
			return domain.Actor{}, err
		}
		// The answer is the same whatever Verify says, unless the hasher
		// is overloaded: then a known email would get a 503 too.
		if _, err := h.Passwords.Verify(password, dummy); errors.Is(err, ErrOverloaded) {
			return domain.Actor{}, err
		}
		return domain.Actor{}, ErrInvalidCredentials
	}
	if err != nil {
		return domain.Actor{}, err
	}
	ok, err := h.Passwords.Verify(password, u.PasswordHash)
	if err != nil {
		return domain.Actor{}, err
	}
	if !ok {
		return domain.Actor{}, ErrInvalidCredentials
	}
	return domain.Actor{UserID: u.ID, Role: u.Role}, nil
}

// dummyHash is the hash an unknown email is checked against, so that it
// costs the same work as a known one. It is made on first use; a failure
// (an overloaded hasher) is returned and the next call tries again. The
// lock is not held while hashing, so that callers queue in the hasher's
// bounded queue, not behind each other's waits.
func (h *Handler) dummyHash() (string, error) {
	h.dummyLock.Lock()
	d := h.dummy
	h.dummyLock.Unlock()
	if d != "" {
		return d, nil
	}
	d, err := h.Passwords.Hash("not a password of anyone")
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	h.dummyLock.Lock()
	defer h.dummyLock.Unlock()
	if h.dummy == "" {
		h.dummy = d
	}
	return h.dummy, nil
}
