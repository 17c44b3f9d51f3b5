package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// insertUser stores an account of the role with id, as sign-up would (no
// one signs in with it), so that its tokens pass the current-role check.
func insertUser(pool *pgxpool.Pool, id uuid.UUID, role domain.Role) error {
	_, err := pool.Exec(context.Background(), `
		insert into users (id, email, password_hash, role, created_at)
		values ($1, $2, 'no password', $3, now()) on conflict do nothing`,
		id, id.String()+"@example.test", string(role))
	return err
}

func registerUser(t testing.TB, pool *pgxpool.Pool, id uuid.UUID, role domain.Role) {
	t.Helper()
	if err := insertUser(pool, id, role); err != nil {
		t.Fatal(err)
	}
}

// setRole changes an account's role, or deletes the account when role is
// empty, as an operator would in the database.
func setRole(t *testing.T, s *server, id string, role domain.Role) {
	t.Helper()
	q, args := `update users set role = $2 where id = $1`, []any{id, string(role)}
	if role == "" {
		q, args = `delete from users where id = $1`, []any{id}
	}
	tag, err := s.e.pool.Exec(context.Background(), q, args...)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("set role of %s: %v, %d rows", id, err, tag.RowsAffected())
	}
}

// An admin or organizer who is demoted or deleted loses the role's rights
// at once, in both APIs, although the token is still valid for an hour.
func TestServe_CurrentRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	adminID, orgID := uuid.New(), uuid.New()
	registerUser(t, s.e.pool, adminID, domain.RoleAdmin)
	registerUser(t, s.e.pool, orgID, domain.RoleOrganizer)
	admin := s.tokenFor(adminID, domain.RoleAdmin)
	org := s.tokenFor(orgID, domain.RoleOrganizer)
	show, pos := s.publishedShow(org, 5)
	buyer := s.token("buyer")
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))

	// As admin: the event history and anyone's order.
	s.must(200, s.call("GET", "/v1/admin/events?limit=1", admin, nil))
	s.must(200, s.call("GET", "/v1/orders/"+held.str("id"), admin, nil, "X-Min-Position", held.str("position")))
	s.must(200, s.call("GET", "/v1/shows/"+show+"/sales", org, nil, "X-Min-Position", pos))

	setRole(t, s, adminID.String(), domain.RoleBuyer)
	problemOf(t, s.call("GET", "/v1/admin/events?limit=1", admin, nil), 403, "forbidden")
	problemOf(t, s.call("GET", "/v1/orders/"+held.str("id"), admin, nil), 404, "not-found")

	setRole(t, s, adminID.String(), "")
	problemOf(t, s.call("GET", "/v1/admin/events?limit=1", admin, nil), 401, "unauthenticated")

	// A demoted organizer may no longer create, edit or cancel shows, or
	// see their sales; deleted, the token authenticates nothing.
	setRole(t, s, orgID.String(), domain.RoleBuyer)
	problemOf(t, s.call("POST", "/v1/shows", org, gaShow(3)), 403, "forbidden")
	problemOf(t, s.call("GET", "/v1/me/shows", org, nil), 403, "forbidden")
	setRole(t, s, orgID.String(), "")
	problemOf(t, s.call("POST", "/v1/shows/"+show+"/cancel", org, nil), 401, "unauthenticated")
	problemOf(t, s.call("GET", "/v1/shows/"+show+"/sales", org, nil), 401, "unauthenticated")
	// The show was not cancelled.
	v := s.read("/v1/shows/"+show, "", pos)
	if v.str("status") == "cancelled" {
		t.Errorf("show status = %q, want it not cancelled", v.str("status"))
	}
}

// tokenFor mints a token for the account id with the role it claims.
func (s *server) tokenFor(id uuid.UUID, role domain.Role) string {
	s.t.Helper()
	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		s.t.Fatal(err)
	}
	tok, _, err := tokens.Issue(domain.Actor{UserID: id, Role: role})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}
