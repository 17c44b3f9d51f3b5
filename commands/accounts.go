package commands

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

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
