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
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

func TestAPI_Error(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err    error
		status int
		typ    string
		header string // a header the answer must carry, "Name: value"
		fields []string
		detail string // what the client reads
	}{
		"validation": {
			err:    &domain.ValidationError{Fields: []domain.FieldError{{Field: "limit", Detail: "must be between 1 and 200"}, {Field: "cursor", Detail: "bad"}}},
			status: http.StatusBadRequest, typ: "urn:problem:ticketing:invalid-request", fields: []string{"limit", "cursor"},
			detail: "invalid input: limit: must be between 1 and 200; cursor: bad",
		},
		"refused by the HTTP plumbing": {
			err:    &web.Error{Status: http.StatusBadRequest, Detail: "bad query parameter", Fields: []domain.FieldError{{Field: "limit", Detail: "is given more than once"}}},
			status: http.StatusBadRequest, typ: "urn:problem:ticketing:malformed-request", fields: []string{"limit"}, detail: "bad query parameter",
		},
		"headers too large": {
			err:    &web.Error{Status: http.StatusRequestHeaderFieldsTooLarge, Detail: "headers too large"},
			status: http.StatusRequestHeaderFieldsTooLarge, typ: "urn:problem:ticketing:headers-too-large", detail: "headers too large",
		},
		"unauthenticated": {
			err:    fmt.Errorf("%w: authenticate: %w: token is expired", readapi.ErrUnauthenticated, errors.New("unauthenticated")),
			status: http.StatusUnauthorized, typ: "urn:problem:ticketing:unauthenticated", header: `WWW-Authenticate: Bearer realm="ticketing"`,
			detail: "this route needs a valid, unexpired bearer token",
		},
		"forbidden": {
			err:    fmt.Errorf("%w: not yours", readapi.ErrForbidden),
			status: http.StatusForbidden, typ: "urn:problem:ticketing:forbidden", detail: "this account may not see this",
		},
		"forbidden, saying why": {
			err:    fmt.Errorf("sales: %w", web.Forbidden(readapi.ErrForbidden, "the sales of a show are for its organizer and admins")),
			status: http.StatusForbidden, typ: "urn:problem:ticketing:forbidden", detail: "the sales of a show are for its organizer and admins",
		},
		"an id in the path that is not one": {
			err:    &web.BadPathID{What: "order", Value: "42", NotFound: projections.ErrNotFound},
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", fields: []string{"{id}"},
			detail: `the order id in the path, "42", is not a UUID such as 3f2c1a9e-7b4d-4e8a-9c1f-0a2b3c4d5e6f`,
		},
		"read model row not found": {
			err:    fmt.Errorf("query: %w", projections.ErrNotFound),
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "no such resource",
		},
		"section not found": {
			err:    fmt.Errorf("%w: show %s has no seated section %q: %w", projections.ErrSectionNotFound, uuid.New(), "Balcony", projections.ErrNotFound),
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "the show has no seated section of that name",
		},
		"show not found": {
			err:    fmt.Errorf("%w: %s", domain.ErrShowNotFound, uuid.New()),
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "no such show",
		},
		"order not found": {
			err:    domain.ErrOrderNotFound,
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "no such order",
		},
		"ticket not found": {
			err:    domain.ErrTicketNotFound,
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "no such ticket",
		},
		"a show that is not on sale watched live": {
			err:    fmt.Errorf("%w: show 1 is cancelled", readapi.ErrNotOnSale),
			status: http.StatusConflict, typ: "urn:problem:ticketing:not-on-sale",
			detail: "only a show on sale has live availability: show 1 is cancelled",
		},
		"not caught up": {
			err:    fmt.Errorf("%w: position 9", readapi.ErrNotCaughtUp),
			status: http.StatusServiceUnavailable, typ: "urn:problem:ticketing:not-caught-up", header: "Retry-After: 1",
			detail: "the read models have not reached X-Min-Position yet; retry shortly",
		},
		"stream parked": {
			err: &projections.ParkedError{Position: domain.PositionAt(9), Parked: projections.ParkedStream{Projection: "shows", Stream: "show-1",
				Version: 2, Position: domain.PositionAt(7), Type: "show.created", Error: "ERROR: invalid byte sequence (SQLSTATE 22021)"}},
			status: http.StatusServiceUnavailable, typ: "urn:problem:ticketing:stream-parked",
			detail: "the read models cannot reflect position 9: projection shows parked stream show-1 at version 2, an event it cannot apply, until it is retried",
		},
		// issue 16: webhooks
		"webhooks forbidden": {
			err:    webhooks.ErrForbidden,
			status: http.StatusForbidden, typ: "urn:problem:ticketing:forbidden", detail: "only organizers and admins may manage webhook endpoints",
		},
		"webhook not found": {
			err:    webhooks.ErrNotFound,
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", detail: "no such webhook endpoint or delivery",
		},
		"unknown": {
			err:    errors.New("pq: connection to 10.0.0.7 refused"),
			status: http.StatusInternalServerError, typ: "urn:problem:ticketing:internal",
			detail: "the server failed; the request may be retried",
		},
	}
	hit := make([]bool, readapi.NumMappings())
	for _, c := range cases {
		if i := readapi.MappingOf(c.err); i >= 0 {
			hit[i] = true
		}
	}
	for i, h := range hit {
		if !h {
			t.Errorf("no case reaches error mapping %d", i)
		}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			api := readapi.New(nil, nil, slog.New(slog.NewTextHandler(logs, nil)))
			rec := httptest.NewRecorder()
			api.Error(rec, httptest.NewRequest(http.MethodGet, "/v1/shows", nil), c.err)

			r := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			p := r.problem(t, c.status)
			if p.Type != c.typ {
				t.Errorf("type: got %q, want %q", p.Type, c.typ)
			}
			if c.header != "" {
				name, value, _ := strings.Cut(c.header, ": ")
				if got := rec.Header().Get(name); got != value {
					t.Errorf("%s: got %q, want %q", name, got, value)
				}
			}
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
				t.Errorf("errors: got %v, want %v", fields, c.fields)
			}
			if p.Detail != c.detail {
				t.Errorf("detail: got %q, want %q", p.Detail, c.detail)
			}
			logged := strings.Contains(logs.String(), c.err.Error())
			if want := c.status >= 500; logged != want {
				t.Errorf("logged: got %v, want %v: %s", logged, want, logs.String())
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"type", "title", "status", "detail"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("problem lacks %q: %s", k, rec.Body)
				}
			}
		})
	}
}

func TestAPI_Error_CapsFieldErrors(t *testing.T) {
	t.Parallel()
	fields := make([]domain.FieldError, 500)
	for i := range fields {
		fields[i] = domain.FieldError{Field: fmt.Sprint("f", i), Detail: "bad"}
	}
	rec := httptest.NewRecorder()
	readapi.New(nil, nil, nil).Error(rec, httptest.NewRequest(http.MethodGet, "/v1/shows", nil), &domain.ValidationError{Fields: fields})
	var p readapi.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != web.MaxFieldErrors || p.ErrorsOmitted != 500-web.MaxFieldErrors {
		t.Errorf("got %d errors and %d omitted, want %d and %d", len(p.Errors), p.ErrorsOmitted, web.MaxFieldErrors, 500-web.MaxFieldErrors)
	}
}

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
