package writeapi

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

	"github.com/ticketing/ticketing/domain"
)

// checker is a token checker that fails with err.
type checker struct{ err error }

func (c checker) Authenticate(context.Context, string) (domain.Actor, error) {
	return domain.Actor{}, c.err
}

// A token the checker refuses is a 401; a check that could not be made
// (a role lookup that failed) is a 500 whose detail says nothing of it,
// the error logged.
func TestAPI_Private(t *testing.T) {
	t.Parallel()
	down := errors.New("role lookup: dial tcp 127.0.0.1:5432: connection refused")
	for _, c := range []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"an expired token", fmt.Errorf("authenticate: %w: token is expired", ErrUnauthenticated), http.StatusUnauthorized,
			"this route needs a valid, unexpired bearer token"},
		{"a checker that fails otherwise", down, http.StatusInternalServerError, internal.Detail},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			a := New(nil, nil, checker{c.err}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
			h := a.private(func(http.ResponseWriter, *http.Request, domain.Actor) error {
				t.Error("the route ran")
				return nil
			})
			req := httptest.NewRequest(http.MethodPost, "/v1/shows", strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if rec.Code != c.status || p.Detail != c.detail {
				t.Errorf("got %d %+v, want %d %q", rec.Code, p, c.status, c.detail)
			}
			if got, want := strings.Contains(logs.String(), "connection refused"), c.status == http.StatusInternalServerError; got != want {
				t.Errorf("error logged: got %v, want %v: %q", got, want, logs.String())
			}
		})
	}
}
