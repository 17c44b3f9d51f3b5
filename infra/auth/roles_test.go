package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/writeapi"
)

// accounts is an auth.Accounts of fixed roles that counts its lookups.
type accounts struct {
	roles   map[uuid.UUID]domain.Role
	err     error
	lookups atomic.Int64
}

func (a *accounts) Role(_ context.Context, id uuid.UUID) (domain.Role, error) {
	a.lookups.Add(1)
	if a.err != nil {
		return "", a.err
	}
	r, ok := a.roles[id]
	if !ok {
		return "", fmt.Errorf("user role: %w", commands.ErrUserNotFound)
	}
	return r, nil
}

func TestCurrentRoles_Authenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := newTokens(t, secret, nil)
	issue := func(id uuid.UUID, role domain.Role) string {
		s, _, err := tok.Issue(domain.Actor{UserID: id, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	admin, demoted, gone, buyer, promoted := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	acc := &accounts{roles: map[uuid.UUID]domain.Role{
		admin: domain.RoleAdmin, demoted: domain.RoleBuyer, promoted: domain.RoleAdmin,
	}}
	c := auth.NewCurrentRoles(tok, acc)

	for _, tc := range []struct {
		name   string
		token  string
		want   domain.Actor
		wantFn func(error) bool
	}{
		{"admin still admin", issue(admin, domain.RoleAdmin), domain.Actor{UserID: admin, Role: domain.RoleAdmin}, nil},
		{"demoted admin", issue(demoted, domain.RoleAdmin), domain.Actor{UserID: demoted, Role: domain.RoleBuyer}, nil},
		{"organizer made admin", issue(promoted, domain.RoleOrganizer), domain.Actor{UserID: promoted, Role: domain.RoleAdmin}, nil},
		{"deleted admin", issue(gone, domain.RoleAdmin), domain.Actor{}, func(err error) bool { return errors.Is(err, writeapi.ErrUnauthenticated) }},
		{"deleted organizer", issue(gone, domain.RoleOrganizer), domain.Actor{}, func(err error) bool { return errors.Is(err, writeapi.ErrUnauthenticated) }},
		{"forged token", "not a token", domain.Actor{}, func(err error) bool { return errors.Is(err, writeapi.ErrUnauthenticated) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Authenticate(ctx, tc.token)
			if tc.wantFn == nil && err != nil || tc.wantFn != nil && !tc.wantFn(err) {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("buyer token needs no lookup", func(t *testing.T) {
		t.Parallel()
		b := &accounts{}
		got, err := auth.NewCurrentRoles(tok, b).Authenticate(ctx, issue(buyer, domain.RoleBuyer))
		if err != nil || got != (domain.Actor{UserID: buyer, Role: domain.RoleBuyer}) {
			t.Fatalf("got %+v, %v", got, err)
		}
		if n := b.lookups.Load(); n != 0 {
			t.Errorf("%d lookups for a buyer token, want 0", n)
		}
	})
	t.Run("failed lookup is not a bad token", func(t *testing.T) {
		t.Parallel()
		down := errors.New("connection refused")
		_, err := auth.NewCurrentRoles(tok, &accounts{err: down}).Authenticate(ctx, issue(admin, domain.RoleAdmin))
		if !errors.Is(err, down) || errors.Is(err, writeapi.ErrUnauthenticated) {
			t.Errorf("err = %v, want the store's error, not ErrUnauthenticated", err)
		}
	})
}
