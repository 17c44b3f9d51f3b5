package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

func TestWriteProblem(t *testing.T) {
	fields := make([]domain.FieldError, web.MaxFieldErrors+3)
	for i := range fields {
		fields[i] = domain.FieldError{Field: fmt.Sprintf("f%d", i), Detail: "bad"}
	}
	cases := []struct {
		name                    string
		p                       web.Problem
		challenge, retryAfter   string
		wantErrors, wantOmitted int
	}{
		{name: "a 401 challenges", p: web.Problem{Status: http.StatusUnauthorized, Detail: "d"}, challenge: `Bearer realm="ticketing"`},
		{name: "a 403 does not", p: web.Problem{Status: http.StatusForbidden, Detail: "d"}},
		{name: "retry after rounds up", p: web.Problem{Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond}, retryAfter: "2"},
		{name: "retry after is at least a second", p: web.Problem{Status: http.StatusServiceUnavailable, RetryAfter: time.Millisecond}, retryAfter: "1"},
		{name: "field errors are capped", p: web.Problem{Status: http.StatusBadRequest, Errors: fields},
			wantErrors: web.MaxFieldErrors, wantOmitted: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Cache-Control", "private, no-store")
			web.WriteProblem(rec, c.p)
			if rec.Code != c.p.Status {
				t.Errorf("got status %d, want %d", rec.Code, c.p.Status)
			}
			for name, want := range map[string]string{
				"Content-Type": "application/problem+json", "WWW-Authenticate": c.challenge,
				"Retry-After": c.retryAfter, "Cache-Control": "",
			} {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("got %s %q, want %q", name, got, want)
				}
			}
			var got web.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if len(got.Errors) != c.wantErrors || got.ErrorsOmitted != c.wantOmitted {
				t.Errorf("got %d errors, %d omitted, want %d, %d", len(got.Errors), got.ErrorsOmitted, c.wantErrors, c.wantOmitted)
			}
			if got.Detail != c.p.Detail || got.Status != c.p.Status {
				t.Errorf("got %+v, want %+v", got, c.p)
			}
		})
	}
}
