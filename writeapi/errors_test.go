package writeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

func TestError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		slug   string
	}{
		{&badRequest{detail: "x"}, 400, "malformed-request"},
		{&domain.ValidationError{Fields: []domain.FieldError{{Field: "f", Detail: "d"}}}, 422, "validation"},
		{fmt.Errorf("%w: expired", ErrUnauthenticated), 401, "unauthenticated"},
		{commands.ErrInvalidCredentials, 401, "invalid-credentials"},
		{commands.ErrForbidden, 403, "forbidden"},
		{domain.ErrShowNotFound, 404, "not-found"},
		{domain.ErrOrderNotFound, 404, "not-found"},
		{domain.ErrTicketNotFound, 404, "not-found"},
		{ErrNotFound, 404, "not-found"},
		{ErrMethodNotAllowed, 405, "method-not-allowed"},
		{fmt.Errorf("card: %w", commands.ErrPaymentDeclined), 402, "payment-declined"},
		{commands.ErrInvalidPaymentToken, 422, "validation"},
		{ErrIdempotencyMismatch, 422, "idempotency-key-reused"},
		{ErrIdempotencyInProgress, 409, "idempotency-in-progress"},
		{fmt.Errorf("%w in section", domain.ErrSoldOut), 409, "sold-out"},
		{&domain.SeatTakenError{Seat: domain.SeatRef{Section: "a", Row: "b", Seat: 1}}, 409, "seat-taken"},
		{&domain.BuyerLimitError{Limit: 10, Have: 8, Asked: 3}, 409, "buyer-limit"},
		{domain.ErrShowStarted, 409, "show-started"},
		{domain.ErrShowQuota, 409, "show-quota"},
		{domain.ErrHoldExpired, 409, "hold-expired"},
		{domain.ErrAlreadyCheckedIn, 409, "already-checked-in"},
		{commands.ErrEmailTaken, 409, "email-taken"},
		{domain.ErrNotOnSale, 409, "invalid-state"},
		{domain.ErrShowCancelled, 409, "invalid-state"},
		{domain.ErrOrderNotHeld, 409, "invalid-state"},
		{domain.ErrInvalidState, 409, "invalid-state"},
		{domain.ErrOrderExists, 409, "invalid-state"},
		{domain.ErrShowExists, 409, "invalid-state"},
		{domain.ErrNoHold, 409, "invalid-state"},
		{&commands.ConflictError{Stream: "s", Expected: 1, Actual: 2}, 409, "conflict"},
		{fmt.Errorf("%w: %w", commands.ErrTooContended, commands.ErrConflict), 409, "conflict"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%T %v", c.err, c.err), func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			Error(slog.New(slog.NewTextHandler(io.Discard, nil)), w, httptest.NewRequest("POST", "/x", nil), c.err)
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d", w.Code, c.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type = %q", ct)
			}
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if got, want := p.Type, "urn:problem:ticketing:"+c.slug; got != want || p.Status != c.status || p.Title == "" {
				t.Fatalf("problem = %+v, want type %s", p, want)
			}
			if c.status == 500 && p.Detail == c.err.Error() {
				t.Fatalf("a 500 shows the internal error: %q", p.Detail)
			}
			if c.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}
