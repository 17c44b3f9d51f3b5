package commands

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// ErrInvalidCredentials: SignIn found no user with that email and
// password.
var ErrInvalidCredentials = errors.New("invalid email or password")

// Password rules, after OWASP's authentication cheat sheet.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// Accounts signs users up and in. Accounts live in the user store, not in
// the event log: Accounts stands apart from the event-sourced commands.
type Accounts struct {
	users     Users
	passwords PasswordHasher
	now       func() time.Time
	newID     func() uuid.UUID

	dummyLock sync.Mutex
	dummy     string
}

// NewAccounts returns the accounts kept in users, with passwords hashed by
// passwords, the clock now and ids from newID. It panics on a nil
// dependency.
func NewAccounts(users Users, passwords PasswordHasher, now func() time.Time, newID func() uuid.UUID) *Accounts {
	if users == nil || passwords == nil || now == nil || newID == nil {
		panic("commands.NewAccounts: nil dependency")
	}
	return &Accounts{users: users, passwords: passwords, now: now, newID: newID}
}

// SignUp registers a buyer or an organizer. Admins are not self-service.
func (a *Accounts) SignUp(ctx context.Context, email, password string, role domain.Role) (User, error) {
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
	hash, err := a.passwords.Hash(password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: a.newID(), Email: email, PasswordHash: hash, Role: role, CreatedAt: a.now().UTC()}
	if err := a.users.Create(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// SignIn checks credentials. An unknown email and a wrong password fail
// alike, with ErrInvalidCredentials, after the same hashing work.
func (a *Accounts) SignIn(ctx context.Context, email, password string) (domain.Actor, error) {
	u, err := a.users.ByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, ErrUserNotFound) {
		dummy, err := a.dummyHash()
		if err != nil {
			return domain.Actor{}, err
		}
		// The answer is the same whatever Verify says, unless the hasher
		// is overloaded: then a known email would get a 503 too.
		if _, err := a.passwords.Verify(password, dummy); errors.Is(err, ErrOverloaded) {
			return domain.Actor{}, err
		}
		return domain.Actor{}, ErrInvalidCredentials
	}
	if err != nil {
		return domain.Actor{}, err
	}
	ok, err := a.passwords.Verify(password, u.PasswordHash)
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
func (a *Accounts) dummyHash() (string, error) {
	a.dummyLock.Lock()
	d := a.dummy
	a.dummyLock.Unlock()
	if d != "" {
		return d, nil
	}
	d, err := a.passwords.Hash("not a password of anyone")
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	a.dummyLock.Lock()
	defer a.dummyLock.Unlock()
	if a.dummy == "" {
		a.dummy = d
	}
	return a.dummy, nil
}
