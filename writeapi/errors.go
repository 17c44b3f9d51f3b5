package writeapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// Problem is an RFC 9457 problem details body; see web.Problem.
type Problem = web.Problem

// badRequest is input that is not the JSON the endpoint takes. Its detail
// is written for the client.
type badRequest struct {
	detail string
	fields []domain.FieldError
}

func (e *badRequest) Error() string { return e.detail }

// OverloadedRetryAfter is the Retry-After of a 503 for ErrOverloaded.
const OverloadedRetryAfter = time.Second

// DeclineGeneric is the code of a 402 whose provider gave no reason.
const DeclineGeneric = "generic_decline"

// mapping is one row of the error table: the errors it matches, the
// problem they are answered with, and, when set, fill completes the
// problem from the error (field errors, a typed error's own message).
type mapping struct {
	match  func(error) bool
	status int
	slug   string
	title  string
	detail string
	fill   func(err error, p *Problem)
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error]() func(error) bool {
	return func(err error) bool { var t T; return errors.As(err, &t) }
}

// mappings is the one place where the write API decides HTTP statuses, in
// order: the first row that matches answers. An error no row matches is a
// 500 whose detail is logged, not shown.
var mappings = []mapping{
	{match: as[*web.Error](), fill: func(err error, p *Problem) {
		// The HTTP plumbing's refusals (framing, sizes, strict JSON, query
		// strings) carry their own status and client-written detail.
		var plumb *web.Error
		errors.As(err, &plumb)
		*p = Problem{Type: plumb.Type(), Title: plumb.Title(), Status: plumb.Status, Detail: plumb.Detail, Errors: plumb.Fields}
	}},
	{match: as[*badRequest](), status: http.StatusBadRequest, slug: "malformed-request", title: "Malformed request",
		fill: func(err error, p *Problem) {
			var bad *badRequest
			errors.As(err, &bad)
			p.Detail, p.Errors = bad.detail, bad.fields
		}},
	{match: as[*domain.ValidationError](), status: http.StatusUnprocessableEntity, slug: "validation", title: "Invalid input",
		fill: func(err error, p *Problem) {
			var inval *domain.ValidationError
			errors.As(err, &inval)
			p.Detail, p.Errors = inval.Error(), inval.Fields
		}},
	{match: as[*RateLimitedError](), status: http.StatusTooManyRequests, slug: "rate-limited", title: "Too many requests",
		fill: func(err error, p *Problem) {
			var rl *RateLimitedError
			errors.As(err, &rl)
			p.Detail, p.RetryAfter = rl.Error(), rl.RetryAfter
		}},
	{match: is(commands.ErrOverloaded), status: http.StatusServiceUnavailable, slug: "overloaded", title: "Server busy",
		detail: "the server is busy checking passwords; retry shortly",
		fill:   func(_ error, p *Problem) { p.RetryAfter = OverloadedRetryAfter }},
	{match: is(ErrUnauthenticated), status: http.StatusUnauthorized, slug: "unauthenticated", title: "Authentication required",
		detail: "this route needs a valid, unexpired bearer token"},
	{match: is(commands.ErrInvalidCredentials), status: http.StatusUnauthorized, slug: "invalid-credentials", title: "Invalid credentials",
		detail: "the email or the password is wrong"},
	{match: is(commands.ErrForbidden), status: http.StatusForbidden, slug: "forbidden", title: "Forbidden",
		detail: "this account may not do this"},
	{match: is(domain.ErrShowNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such show"},
	{match: is(domain.ErrOrderNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such order"},
	{match: is(domain.ErrTicketNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such ticket"},
	{match: is(ErrNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such resource"},
	{match: is(ErrMethodNotAllowed), status: http.StatusMethodNotAllowed, slug: "method-not-allowed", title: "Method not allowed",
		detail: "this resource does not take that method"},
	{match: is(commands.ErrPaymentDeclined), status: http.StatusPaymentRequired, slug: "payment-declined", title: "Payment declined",
		detail: "the card was declined; see code for the reason",
		fill: func(err error, p *Problem) {
			p.Code = DeclineGeneric
			var dc commands.DeclineCoder
			if errors.As(err, &dc) && dc.DeclineCode() != "" {
				p.Code = dc.DeclineCode()
			}
		}},
	{match: is(commands.ErrInvalidPaymentToken), status: http.StatusUnprocessableEntity, slug: "validation", title: "Invalid input",
		detail: "the payment token is unknown",
		fill: func(_ error, p *Problem) {
			p.Errors = []domain.FieldError{{Field: "payment_token", Detail: "unknown payment token"}}
		}},
	{match: is(ErrIdempotencyMismatch), status: http.StatusUnprocessableEntity, slug: "idempotency-key-reused", title: "Idempotency key reused",
		detail: "this Idempotency-Key was used with a different request"},
	{match: is(ErrIdempotencyInProgress), status: http.StatusConflict, slug: "idempotency-in-progress", title: "Request in progress",
		detail: "a request with this Idempotency-Key is still running; retry when it is done"},
	{match: is(domain.ErrSoldOut), status: http.StatusConflict, slug: "sold-out", title: "Sold out",
		detail: "not enough units left"},
	// issue 14: waitlist
	{match: is(domain.ErrNotSoldOut), status: http.StatusConflict, slug: "buy-instead", title: "Not sold out",
		detail: "the section still has units: buy instead"},
	{match: is(domain.ErrAlreadyWaiting), status: http.StatusConflict, slug: "already-waiting", title: "Already waiting",
		detail: "already on the waiting list of this section, or holding its offer"},
	{match: is(domain.ErrWaitlistFull), status: http.StatusConflict, slug: "waitlist-full", title: "Waiting list full",
		detail: "the waiting list of this section is full"},
	{match: is(domain.ErrNotWaiting), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "not on the waiting list of this section"},
	{match: as[*domain.SeatTakenError](), status: http.StatusConflict, slug: "seat-taken", title: "Seat taken",
		fill: func(err error, p *Problem) {
			var taken *domain.SeatTakenError
			errors.As(err, &taken)
			p.Detail = taken.Error()
		}},
	{match: as[*domain.BuyerLimitError](), status: http.StatusConflict, slug: "buyer-limit", title: "Per-buyer limit reached",
		fill: func(err error, p *Problem) {
			var bl *domain.BuyerLimitError
			errors.As(err, &bl)
			p.Detail = bl.Error()
		}},
	{match: is(domain.ErrBuyerLimit), status: http.StatusConflict, slug: "buyer-limit", title: "Per-buyer limit reached",
		detail: "the per-buyer limit of this show is reached"},
	// issue 14: rules
	{match: is(domain.ErrTicketTypeNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such ticket type"},
	{match: is(domain.ErrVoucherNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: "no such voucher"},
	{match: is(domain.ErrTicketTypeExists), status: http.StatusConflict, slug: "ticket-type-exists", title: "Ticket type exists",
		detail: "the show has a ticket type with this code"},
	{match: is(domain.ErrVoucherExists), status: http.StatusConflict, slug: "voucher-exists", title: "Voucher exists",
		detail: "the show has a voucher with this code"},
	{match: is(domain.ErrQuotaExhausted), status: http.StatusConflict, slug: "quota-exhausted", title: "Quota exhausted",
		detail: "a quota of the show has too few units left", fill: ownDetail},
	{match: is(domain.ErrVoucherUsedUp), status: http.StatusConflict, slug: "voucher-used-up", title: "Voucher used up",
		detail: "the voucher has no use left", fill: ownDetail},
	{match: is(domain.ErrTicketTypeOffSale), status: http.StatusConflict, slug: "ticket-type-off-sale", title: "Ticket type not on sale",
		detail: "the ticket type is outside its sales window", fill: ownDetail},
	{match: is(domain.ErrVoucherInvalid), status: http.StatusUnprocessableEntity, slug: "voucher-invalid", title: "Voucher cannot be used",
		detail: "the voucher cannot be used for this order", fill: func(err error, p *Problem) {
			ownDetail(err, p)
			p.Errors = []domain.FieldError{{Field: "voucher", Detail: p.Detail}}
		}},
	{match: is(domain.ErrOrderLimit), status: http.StatusUnprocessableEntity, slug: "order-limit", title: "Per-order limit",
		detail: "the order has fewer or more units than the show allows", fill: ownDetail},
	{match: is(domain.ErrShowQuota), status: http.StatusConflict, slug: "show-quota", title: "Too many live shows",
		detail: "too many live shows: cancel one or wait until one has started"},
	{match: is(domain.ErrShowStarted), status: http.StatusConflict, slug: "show-started", title: "Show has started",
		detail: "the show has started: it is no longer on sale"},
	{match: is(domain.ErrHoldExpired), status: http.StatusConflict, slug: "hold-expired", title: "Hold expired",
		detail: "the hold has expired"},
	// issue 14: door. A refusal at the door: its problem type by reason
	// (fillRefusal), before ErrAlreadyCheckedIn, which one of them matches.
	{match: as[*domain.CheckInRefusedError](), fill: fillRefusal},
	{match: is(domain.ErrTicketNotTransferable), status: http.StatusConflict, slug: "ticket-not-transferable", title: "Ticket not transferable",
		detail: "the ticket is void or was transferred too often"},
	{match: is(domain.ErrAlreadyCheckedIn), status: http.StatusConflict, slug: "already-checked-in", title: "Already checked in",
		detail: "the ticket was checked in already"},
	{match: is(commands.ErrEmailTaken), status: http.StatusConflict, slug: "email-taken", title: "Email already registered",
		detail: "an account with this email exists"},
	{match: is(domain.ErrNotOnSale), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the show is not on sale"},
	{match: is(domain.ErrShowCancelled), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the show is cancelled"},
	{match: is(domain.ErrOrderNotHeld), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the order is no longer held"},
	{match: is(domain.ErrInvalidState), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "not allowed in the current state"},
	{match: is(domain.ErrOrderExists), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the order exists already"},
	{match: is(domain.ErrShowExists), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the show exists already"},
	{match: is(domain.ErrNoHold), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "the order holds nothing"},
	// issue 14: asyncpay
	{match: is(ErrBadSignature), status: http.StatusBadRequest, slug: "bad-signature", title: "Bad webhook signature",
		detail: "the Ticketing-Signature header is missing or malformed, too old or too new, or matches no secret"},
	{match: is(domain.ErrUnknownIntent), status: http.StatusUnprocessableEntity, slug: "unknown-payment-intent", title: "Unknown payment intent",
		detail: "the order started no such payment intent"},
	{match: is(domain.ErrNoPaymentNeeded), status: http.StatusConflict, slug: "invalid-state", title: "Not allowed in the current state",
		detail: "a free order needs no payment: confirm it with POST /v1/orders/{id}/pay"},
	// issue 14: money
	{match: is(domain.ErrNotRefundable), status: http.StatusConflict, slug: "not-refundable", title: "Not refundable",
		detail: "the order is not paid: there is nothing to refund"},
	{match: is(domain.ErrAlreadyRefunded), status: http.StatusConflict, slug: "already-refunded", title: "Already refunded",
		detail: "the order, or a ticket asked for, is refunded already"},
	{match: is(domain.ErrTicketVoided), status: http.StatusConflict, slug: "ticket-void", title: "Ticket void",
		detail: "the ticket was refunded: it admits nobody"},
	{match: is(commands.ErrConflict), status: http.StatusConflict, slug: "conflict", title: "Concurrent update, try again",
		detail: "another request changed this at the same time; retry"},
	{match: is(commands.ErrTooContended), status: http.StatusConflict, slug: "conflict", title: "Concurrent update, try again",
		detail: "another request changed this at the same time; retry"},
}

// ownDetail makes a domain error's own message the detail: the rules'
// typed errors are written for the client (issue 14: rules).
func ownDetail(err error, p *Problem) {
	var typed interface{ Is(error) bool }
	if errors.As(err, &typed) {
		p.Detail = typed.(error).Error()
	}
}

// internal is the answer to an error no mapping matches.
var internal = web.Internal

// problemFor maps an error to its problem, through mappings.
func problemFor(err error) Problem {
	for _, m := range mappings {
		if !m.match(err) {
			continue
		}
		p := Problem{Type: "urn:problem:ticketing:" + m.slug, Title: m.title, Status: m.status, Detail: m.detail}
		if m.fill != nil {
			m.fill(err, &p)
		}
		return p
	}
	return internal
}

// Error writes err as problem+json, through web.WriteProblem. Unknown
// errors are logged and answered with a generic 500; a 429 or 503 says when
// to retry in Retry-After.
func Error(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status == http.StatusInternalServerError {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	web.WriteProblem(w, p)
}
