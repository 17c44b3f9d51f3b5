package readapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
)

func TestAPI_Error(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		err        error
		status     int
		typ        string
		header     string // a header the answer must carry, "Name: value"
		fields     []string
		showDetail bool
	}{
		"validation": {
			err:    &domain.ValidationError{Fields: []domain.FieldError{{Field: "limit", Detail: "must be between 1 and 200"}, {Field: "cursor", Detail: "bad"}}},
			status: http.StatusBadRequest, typ: "urn:problem:ticketing:invalid-request", fields: []string{"limit", "cursor"}, showDetail: true,
		},
		"unauthenticated": {
			err:    fmt.Errorf("%w: token expired", readapi.ErrUnauthenticated),
			status: http.StatusUnauthorized, typ: "urn:problem:ticketing:unauthenticated", header: `WWW-Authenticate: Bearer realm="ticketing"`, showDetail: true,
		},
		"forbidden": {
			err:    fmt.Errorf("%w: not yours", readapi.ErrForbidden),
			status: http.StatusForbidden, typ: "urn:problem:ticketing:forbidden", showDetail: true,
		},
		"read model row not found": {
			err:    fmt.Errorf("query: %w", projections.ErrNotFound),
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", showDetail: true,
		},
		"show not found": {
			err:    fmt.Errorf("%w: %s", domain.ErrShowNotFound, uuid.New()),
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", showDetail: true,
		},
		"order not found": {
			err:    domain.ErrOrderNotFound,
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", showDetail: true,
		},
		"ticket not found": {
			err:    domain.ErrTicketNotFound,
			status: http.StatusNotFound, typ: "urn:problem:ticketing:not-found", showDetail: true,
		},
		"not caught up": {
			err:    fmt.Errorf("%w: position 9", readapi.ErrNotCaughtUp),
			status: http.StatusServiceUnavailable, typ: "urn:problem:ticketing:not-caught-up", header: "Retry-After: 1", showDetail: true,
		},
		"stream parked": {
			err: &projections.ParkedError{Position: domain.PositionAt(9), Parked: projections.ParkedStream{Projection: "shows", Stream: "show-1",
				Version: 2, Position: domain.PositionAt(7), Type: "show.created", Error: "ERROR: invalid byte sequence (SQLSTATE 22021)"}},
			status: http.StatusServiceUnavailable, typ: "urn:problem:ticketing:stream-parked",
		},
		"unknown": {
			err:    errors.New("pq: connection to 10.0.0.7 refused"),
			status: http.StatusInternalServerError, typ: "urn:problem:ticketing:internal",
		},
	} {
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
			if got := strings.Contains(p.Detail, c.err.Error()); got != c.showDetail {
				t.Errorf("detail %q shows the error: got %v, want %v", p.Detail, got, c.showDetail)
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
