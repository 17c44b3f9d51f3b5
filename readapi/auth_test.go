package readapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/readapi"
)

// checker is a token checker that fails with err.
type checker struct{ err error }

func (c checker) Authenticate(context.Context, string) (domain.Actor, error) {
	return domain.Actor{}, c.err
}

// roles is an auth.Accounts whose lookups fail with err, or find no user.
type roles struct{ err error }

func (r roles) Role(context.Context, uuid.UUID) (domain.Role, error) {
	if r.err != nil {
		return "", r.err
	}
	return "", fmt.Errorf("user role: %w", commands.ErrUserNotFound)
}

// A token the checker refuses is the client's fault, a 401; a check that
// could not be made (the role lookup of an organizer's or admin's token
// failed) is the server's: a 500 whose detail says nothing of it, the
// error logged. No route is reached either way, so there are no queries.
func TestAPI_Authenticate(t *testing.T) {
	t.Parallel()
	down := errors.New("role lookup: dial tcp 127.0.0.1:5432: connection refused")
	tokens, err := auth.NewTokens(bytes.Repeat([]byte("k"), auth.MinSecretLen), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(role domain.Role) string {
		s, _, err := tokens.Issue(domain.Actor{UserID: uuid.New(), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const generic = "the server failed; the request may be retried"
	for _, c := range []struct {
		name   string
		auth   readapi.Authenticator
		token  string
		status int
		slug   string
		detail string
		logged bool
	}{
		{"an expired token", checker{fmt.Errorf("authenticate: %w: token is expired", readapi.ErrUnauthenticated)}, "t",
			http.StatusUnauthorized, "unauthenticated", "this route needs a valid, unexpired bearer token", false},
		{"a checker that fails otherwise", checker{down}, "t", http.StatusInternalServerError, "internal", generic, true},
		{"an admin whose role lookup fails", auth.NewCurrentRoles(tokens, roles{down}), issue(domain.RoleAdmin),
			http.StatusInternalServerError, "internal", generic, true},
		{"an organizer whose role lookup fails", auth.NewCurrentRoles(tokens, roles{down}), issue(domain.RoleOrganizer),
			http.StatusInternalServerError, "internal", generic, true},
		{"an admin whose account is gone", auth.NewCurrentRoles(tokens, roles{}), issue(domain.RoleAdmin),
			http.StatusUnauthorized, "unauthenticated", "this route needs a valid, unexpired bearer token", false},
		{"a forged token", auth.NewCurrentRoles(tokens, roles{down}), "not a token",
			http.StatusUnauthorized, "unauthenticated", "this route needs a valid, unexpired bearer token", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/v1/me/orders", "/v1/shows"} { // a token required, a token optional
				logs := &syncBuffer{}
				router := mux.NewRouter()
				readapi.New(nil, c.auth, slog.New(slog.NewTextHandler(logs, nil))).Register(router)
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				rec := httptest.NewRecorder()
				router.ServeHTTP(rec, req)

				var p readapi.Problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatalf("%s: %v: %s", path, err, rec.Body)
				}
				if rec.Code != c.status || p.Status != c.status || p.Type != "urn:problem:ticketing:"+c.slug || p.Detail != c.detail {
					t.Errorf("%s: got %d %+v, want %d %s %q", path, rec.Code, p, c.status, c.slug, c.detail)
				}
				if got, want := rec.Header().Get("WWW-Authenticate") != "", c.status == http.StatusUnauthorized; got != want {
					t.Errorf("%s: WWW-Authenticate %q: got it %v, want %v", path, rec.Header().Get("WWW-Authenticate"), got, want)
				}
				if strings.Contains(rec.Body.String(), "connection refused") {
					t.Errorf("%s: the body shows the internal error: %s", path, rec.Body)
				}
				if got := strings.Contains(logs.String(), "connection refused"); got != c.logged {
					t.Errorf("%s: error logged: got %v, want %v: %q", path, got, c.logged, logs.String())
				}
			}
		})
	}
}
