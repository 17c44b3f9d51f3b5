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
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

// declined is a provider's decline, as infra/simpay makes them.
type declined struct{ code string }

func (d *declined) Error() string       { return "simpay charge: payment declined: " + d.code }
func (d *declined) DeclineCode() string { return d.code }
func (d *declined) Unwrap() error       { return commands.ErrPaymentDeclined }

func TestError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		slug   string
		detail string // what the client reads
		code   string
	}{
		{&badRequest{detail: "x"}, 400, "malformed-request", "x", ""},
		{&web.Error{Status: 400, Detail: "x"}, 400, "malformed-request", "x", ""},
		{fmt.Errorf("body: %w", &web.Error{Status: 413, Detail: "x"}), 413, "body-too-large", "x", ""},
		{&web.Error{Status: 411, Detail: "x"}, 411, "length-required", "x", ""},
		{&web.Error{Status: 431, Detail: "x"}, 431, "headers-too-large", "x", ""},
		{fmt.Errorf("create show: %w", &domain.ValidationError{Fields: []domain.FieldError{{Field: "f", Detail: "d"}}}), 422, "validation", "invalid input: f: d", ""},
		{fmt.Errorf("%w: authenticate: %w: token is expired", ErrUnauthenticated, ErrUnauthenticated), 401, "unauthenticated", "this route needs a valid, unexpired bearer token", ""},
		{&RateLimitedError{What: "sign-in attempts for this account", RetryAfter: 2500 * time.Millisecond}, 429, "rate-limited", "too many sign-in attempts for this account; retry in 3 s", ""},
		{fmt.Errorf("sign in: verify password: %w", commands.ErrOverloaded), 503, "overloaded", "the server is busy checking passwords; retry shortly", ""},
		{commands.ErrInvalidCredentials, 401, "invalid-credentials", "the email or the password is wrong", ""},
		{commands.ErrForbidden, 403, "forbidden", "this account may not do this", ""},
		{fmt.Errorf("edit: %w", web.Forbidden(commands.ErrForbidden, "only organizers create shows: this token belongs to a buyer")), 403, "forbidden",
			"only organizers create shows: this token belongs to a buyer", ""},
		{&web.BadPathID{What: "show", Value: "x", NotFound: ErrNotFound}, 404, "not-found",
			`the show id in the path, "x", is not a UUID such as 3f2c1a9e-7b4d-4e8a-9c1f-0a2b3c4d5e6f`, ""},
		{fmt.Errorf("edit: %w", &commands.VersionMismatchError{Expected: []int64{3}, Actual: 5}), 412, "precondition-failed",
			`the show is at version 5 (ETag "5"), not the one If-Match names: GET /v1/shows/{id} again and retry`, ""},
		{fmt.Errorf("load: %w", domain.ErrShowNotFound), 404, "not-found", "no such show", ""},
		{domain.ErrOrderNotFound, 404, "not-found", "no such order", ""},
		{domain.ErrTicketNotFound, 404, "not-found", "no such ticket", ""},
		{fmt.Errorf("%w: /v1/nothing", ErrNotFound), 404, "not-found", "no such resource", ""},
		{ErrMethodNotAllowed, 405, "method-not-allowed", "this resource does not take that method", ""},
		{fmt.Errorf("card: %w", commands.ErrPaymentDeclined), 402, "payment-declined",
			"the card was declined (decline_code generic_decline); the bank gave no reason; pay with another card or ask the bank", "generic_decline"},
		{fmt.Errorf("pay: %w", &declined{code: "insufficient_funds"}), 402, "payment-declined",
			"the card was declined (decline_code insufficient_funds); the card has too little money; use another card", "insufficient_funds"},
		{fmt.Errorf("simpay charge: token %q: %w", "tok_x", commands.ErrInvalidPaymentToken), 422, "validation", "the payment token is unknown", ""},
		{fmt.Errorf("idempotency begin %q: %w", "k", ErrIdempotencyMismatch), 422, "idempotency-key-reused", "this Idempotency-Key was used with a different request", ""},
		{ErrIdempotencyInProgress, 409, "idempotency-in-progress", "a request with this Idempotency-Key is still running; retry when it is done", ""},
		{fmt.Errorf("%w in section", domain.ErrSoldOut), 409, "sold-out", "not enough units left", ""},
		// issue 14: waitlist
		{fmt.Errorf("join: %w", domain.ErrNotSoldOut), 409, "buy-instead", "the section still has units: buy instead", ""},
		{domain.ErrAlreadyWaiting, 409, "already-waiting", "already on the waiting list of this section, or holding its offer", ""},
		{domain.ErrWaitlistFull, 409, "waitlist-full", "the waiting list of this section is full", ""},
		{domain.ErrNotWaiting, 404, "not-found", "not on the waiting list of this section", ""},
		{fmt.Errorf("hold: %w", &domain.SeatTakenError{Seat: domain.SeatRef{Section: "a", Row: "b", Seat: 1}}), 409, "seat-taken", (&domain.SeatTakenError{Seat: domain.SeatRef{Section: "a", Row: "b", Seat: 1}}).Error(), ""},
		{fmt.Errorf("hold: %w", &domain.BuyerLimitError{Limit: 10, Have: 8, Asked: 3}), 409, "buyer-limit", (&domain.BuyerLimitError{Limit: 10, Have: 8, Asked: 3}).Error(), ""},
		{domain.ErrBuyerLimit, 409, "buyer-limit", "the per-buyer limit of this show is reached", ""},
		{domain.ErrShowStarted, 409, "show-started", "the show has started: it is no longer on sale", ""},
		{fmt.Errorf("create: %w", domain.ErrShowQuota), 409, "show-quota", "too many live shows: cancel one or wait until one has started", ""},
		{domain.ErrHoldExpired, 409, "hold-expired", "the hold has expired", ""},
		// issue 14: door
		{&domain.CheckInRefusedError{Reason: domain.RefusedTransferred}, 409, "ticket-transferred", "the ticket was transferred: this code is no longer valid", "transferred"},
		{&domain.CheckInRefusedError{Reason: domain.RefusedVoided}, 409, "ticket-voided", "the ticket is void", "voided"},
		{&domain.CheckInRefusedError{Reason: domain.RefusedWrongShow}, 409, "wrong-show", "the ticket is for another show", "wrong_show"},
		{&domain.CheckInRefusedError{Reason: domain.RefusedUnknownCode}, 404, "unknown-code", "no ticket has this code", "unknown_code"},
		{fmt.Errorf("transfer: %w", domain.ErrTicketNotTransferable), 409, "ticket-not-transferable", "the ticket is void or was transferred too often", ""},
		{domain.ErrAlreadyCheckedIn, 409, "already-checked-in", "the ticket was checked in already", ""},
		{fmt.Errorf("create user: %w", commands.ErrEmailTaken), 409, "email-taken", "an account with this email exists", ""},
		{domain.ErrNotOnSale, 409, "invalid-state", "the show is not on sale", ""},
		{domain.ErrShowCancelled, 409, "invalid-state", "the show is cancelled", ""},
		{domain.ErrOrderNotHeld, 409, "invalid-state", "the order is no longer held", ""},
		{domain.ErrInvalidState, 409, "invalid-state", "not allowed in the current state", ""},
		{domain.ErrOrderExists, 409, "invalid-state", "the order exists already", ""},
		{domain.ErrShowExists, 409, "invalid-state", "the show exists already", ""},
		{domain.ErrNoHold, 409, "invalid-state", "the order holds nothing", ""},
		// issue 14: asyncpay
		{fmt.Errorf("%w: %w", ErrBadSignature, errors.New("no match")), 400, "bad-signature", "the Ticketing-Signature header is missing or malformed, too old or too new, or matches no secret", ""},
		{domain.ErrUnknownIntent, 422, "unknown-payment-intent", "the order started no such payment intent", ""},
		{domain.ErrNoPaymentNeeded, 409, "invalid-state", "a free order needs no payment: confirm it with POST /v1/orders/{id}/pay", ""},
		// issue 14: money
		{fmt.Errorf("refund: %w", domain.ErrNotRefundable), 409, "not-refundable", "the order is not paid: there is nothing to refund", ""},
		{fmt.Errorf("%w: a ticket asked for", domain.ErrAlreadyRefunded), 409, "already-refunded", "the order, or a ticket asked for, is refunded already", ""},
		{domain.ErrTicketVoided, 409, "ticket-void", "the ticket was refunded: it admits nobody", ""},
		{&commands.ConflictError{Stream: "s", Expected: 1, Actual: 2}, 409, "conflict", "another request changed this at the same time; retry", ""},
		{commands.ErrTooContended, 409, "conflict", "another request changed this at the same time; retry", ""},
		// issue 14: rules
		{fmt.Errorf("change: %w", domain.ErrTicketTypeNotFound), 404, "not-found", "no such ticket type", ""},
		{domain.ErrVoucherNotFound, 404, "not-found", "no such voucher", ""},
		{domain.ErrTicketTypeExists, 409, "ticket-type-exists", "the show has a ticket type with this code", ""},
		{domain.ErrVoucherExists, 409, "voucher-exists", "the show has a voucher with this code", ""},
		{fmt.Errorf("hold: %w", &domain.QuotaError{Quota: "Q", Units: 2, Taken: 2, Asked: 1}), 409, "quota-exhausted", (&domain.QuotaError{Quota: "Q", Units: 2, Taken: 2, Asked: 1}).Error(), ""},
		{&domain.VoucherUsedUpError{Code: "V", MaxUses: 1}, 409, "voucher-used-up", (&domain.VoucherUsedUpError{Code: "V", MaxUses: 1}).Error(), ""},
		{&domain.TicketTypeOffSaleError{Code: "t"}, 409, "ticket-type-off-sale", (&domain.TicketTypeOffSaleError{Code: "t"}).Error(), ""},
		{&domain.VoucherError{Code: "V", Reason: "has expired"}, 422, "voucher-invalid", `voucher "V" has expired`, ""},
		{&domain.OrderLimitError{Min: 2, Max: 4, Asked: 1}, 422, "order-limit", (&domain.OrderLimitError{Min: 2, Max: 4, Asked: 1}).Error(), ""},
		// issue 16: webhooks
		{webhooks.ErrForbidden, 403, "forbidden", "only organizers and admins may manage webhook endpoints", ""},
		{webhooks.ErrNotFound, 404, "not-found", "no such webhook endpoint or delivery", ""},
		{webhooks.ErrDisabled, 409, "endpoint-disabled", "the webhook endpoint is disabled; enable it (POST /v1/webhooks/endpoints/{id}/enable) first", ""},
		{errors.New("disk on fire"), 500, "internal", "the server failed; the request may be retried", ""},
	}
	hit := make([]bool, len(mappings))
	for _, c := range cases {
		for i, m := range mappings {
			if m.Match(c.err) {
				hit[i] = true
				break
			}
		}
	}
	for i, h := range hit {
		if !h {
			t.Errorf("no case reaches mapping %d (%s, %d)", i, mappings[i].Slug, mappings[i].Status)
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%T %v", c.err, c.err), func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			w := httptest.NewRecorder()
			Error(slog.New(slog.NewTextHandler(&logs, nil)), w, httptest.NewRequest("POST", "/x", nil), c.err)
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
			if got, want := p.Detail, c.detail; got != want {
				t.Errorf("detail = %q, want %q", got, want)
			}
			if got, want := p.Code, c.code; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if c.status == http.StatusPaymentRequired && p.DeclineCode != c.code {
				t.Errorf("decline_code = %q, want %q", p.DeclineCode, c.code)
			}
			if c.status == 500 && p.Detail == c.err.Error() {
				t.Fatalf("a 500 shows the internal error: %q", p.Detail)
			}
			retryAfter := map[int]string{429: "3", 503: "1"}[c.status]
			if got := w.Header().Get("Retry-After"); got != retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, retryAfter)
			}
			if logged, want := strings.Contains(logs.String(), c.err.Error()), c.status == 500; logged != want {
				t.Errorf("logged = %v, want %v: %s", logged, want, logs.String())
			}
			if c.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestError_CapsFieldErrors(t *testing.T) {
	t.Parallel()
	fields := make([]domain.FieldError, 1000)
	for i := range fields {
		fields[i] = domain.FieldError{Field: fmt.Sprint("seats[", i, "]"), Detail: "is taken"}
	}
	for _, err := range []error{&domain.ValidationError{Fields: fields}, &web.Error{Status: 400, Detail: "x", Fields: fields}} {
		w := httptest.NewRecorder()
		Error(slog.New(slog.DiscardHandler), w, httptest.NewRequest("POST", "/x", nil), err)
		var p Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Errors) != web.MaxFieldErrors || p.ErrorsOmitted != 1000-web.MaxFieldErrors || p.Errors[0].Field != "seats[0]" {
			t.Errorf("%T: got %d errors and %d omitted, want %d and %d", err, len(p.Errors), p.ErrorsOmitted, web.MaxFieldErrors, 1000-web.MaxFieldErrors)
		}
	}
}

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
