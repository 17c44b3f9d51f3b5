package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

func newUser(email string) commands.User {
	return commands.User{
		ID:           uuid.New(),
		Email:        email,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5",
		Role:         domain.RoleOrganizer,
		// PostgreSQL keeps microseconds.
		CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC),
	}
}

func TestUsers_Create(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stores the email lower-cased", func(t *testing.T) {
		t.Parallel()
		users := postgres.NewUsers(pgtest.NewPool(t))
		u := newUser("Alice@Example.COM")
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := users.ByEmail(ctx, "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if want := "alice@example.com"; got.Email != want {
			t.Errorf("Email = %q, want %q", got.Email, want)
		}
	})
	t.Run("email taken in any case", func(t *testing.T) {
		t.Parallel()
		users := postgres.NewUsers(pgtest.NewPool(t))
		if err := users.Create(ctx, newUser("bob@example.com")); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"bob@example.com", "BOB@example.com", "Bob@Example.Com"} {
			if err := users.Create(ctx, newUser(email)); !errors.Is(err, commands.ErrEmailTaken) {
				t.Errorf("%s: got %v, want ErrEmailTaken", email, err)
			}
		}
	})
	t.Run("duplicate id is not a taken email", func(t *testing.T) {
		t.Parallel()
		users := postgres.NewUsers(pgtest.NewPool(t))
		u := newUser("carol@example.com")
		if err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		u.Email = "dave@example.com"
		err := users.Create(ctx, u)
		if err == nil || errors.Is(err, commands.ErrEmailTaken) {
			t.Errorf("got %v, want an error other than ErrEmailTaken", err)
		}
	})
	t.Run("concurrent sign-ups with one email", func(t *testing.T) {
		t.Parallel()
		users := postgres.NewUsers(pgtest.NewPool(t))
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = users.Create(ctx, newUser("Erin@example.com")) })
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, commands.ErrEmailTaken):
				t.Errorf("got %v, want nil or ErrEmailTaken", err)
			}
		}
		if created != 1 {
			t.Errorf("created %d users, want 1", created)
		}
	})
}

func TestUsers_ByEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users := postgres.NewUsers(pgtest.NewPool(t))
	want := newUser("frank@example.com")
	if err := users.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := users.Create(ctx, newUser("grace@example.com")); err != nil {
		t.Fatal(err)
	}

	for _, email := range []string{"frank@example.com", "FRANK@EXAMPLE.COM", "Frank@example.com"} {
		t.Run("found as "+email, func(t *testing.T) {
			t.Parallel()
			got, err := users.ByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != want.ID || got.Email != want.Email || got.PasswordHash != want.PasswordHash ||
				got.Role != want.Role || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	for _, email := range []string{"nobody@example.com", "", "frank@example", "frank@example.com "} {
		t.Run("not found: "+email, func(t *testing.T) {
			t.Parallel()
			if got, err := users.ByEmail(ctx, email); !errors.Is(err, commands.ErrUserNotFound) {
				t.Errorf("got (%+v, %v), want ErrUserNotFound", got, err)
			}
		})
	}
}

func TestUsers_Role(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	users := postgres.NewUsers(pool)
	u := newUser("henry@example.com")
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := users.Role(ctx, u.ID); err != nil || got != domain.RoleOrganizer {
		t.Fatalf("Role = %q, %v; want organizer", got, err)
	}
	if _, err := pool.Exec(ctx, `update users set role = 'buyer' where id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := users.Role(ctx, u.ID); err != nil || got != domain.RoleBuyer {
		t.Fatalf("Role after demotion = %q, %v; want buyer", got, err)
	}
	if got, err := users.Role(ctx, uuid.New()); !errors.Is(err, commands.ErrUserNotFound) {
		t.Errorf("unknown user: got (%q, %v), want ErrUserNotFound", got, err)
	}
}
