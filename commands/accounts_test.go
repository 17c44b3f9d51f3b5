package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// users is an in-memory commands.Users.
type users struct {
	mu sync.Mutex
	by map[string]commands.User
}

func (u *users) Create(_ context.Context, x commands.User) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.by[x.Email]; ok {
		return commands.ErrEmailTaken
	}
	u.by[x.Email] = x
	return nil
}

func (u *users) ByEmail(_ context.Context, email string) (commands.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.by[email]
	if !ok {
		return commands.User{}, commands.ErrUserNotFound
	}
	return x, nil
}

// busyHasher fails with ErrOverloaded while busy, and records the hashes
// Verify was given.
type busyHasher struct {
	mu       sync.Mutex
	busy     bool
	verified []string
}

func (h *busyHasher) Hash(pw string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy {
		return "", commands.ErrOverloaded
	}
	return "h$" + pw, nil
}

func (h *busyHasher) Verify(pw, hash string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy {
		return false, commands.ErrOverloaded
	}
	h.verified = append(h.verified, hash)
	return hash == "h$"+pw, nil
}

func (h *busyHasher) setBusy(b bool) { h.mu.Lock(); h.busy = b; h.mu.Unlock() }

func TestAccounts_SignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hasher := &busyHasher{}
	h := commands.NewAccounts(&users{by: map[string]commands.User{}}, hasher, time.Now, commands.NewID)
	if _, err := h.SignUp(ctx, "dora@example.com", "correct horse battery", domain.RoleBuyer); err != nil {
		t.Fatal(err)
	}

	// An overloaded hasher is said so, for a known and an unknown email
	// alike, even when the unknown email's dummy hash cannot be made.
	hasher.setBusy(true)
	for _, email := range []string{"dora@example.com", "nobody@example.com"} {
		if _, err := h.SignIn(ctx, email, "guess"); !errors.Is(err, commands.ErrOverloaded) {
			t.Errorf("%s while busy: got %v, want ErrOverloaded", email, err)
		}
	}
	// Once it has room, an unknown email costs a real hash check again:
	// the failed dummy hash was not kept.
	hasher.setBusy(false)
	if _, err := h.SignIn(ctx, "nobody@example.com", "guess"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("unknown email: got %v, want ErrInvalidCredentials", err)
	}
	if n := len(hasher.verified); n != 1 || hasher.verified[0] == "" {
		t.Errorf("Verify got %q, want one check against a real dummy hash", hasher.verified)
	}
	if got, err := h.SignIn(ctx, "Dora@example.com ", "correct horse battery"); err != nil || got.Role != domain.RoleBuyer {
		t.Errorf("known email: got %+v, %v", got, err)
	}
}
