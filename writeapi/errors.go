package writeapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
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

// mapping is one row of the error table; see web.Mapping.
type mapping = web.Mapping

// mappings is the one place where the write API decides HTTP statuses, in
// order: the first row that matches answers. An error no row matches is a
// 500 whose detail is logged, not shown.
var mappings = []mapping{
	web.PlumbingMapping,
	{Match: web.As[*badRequest](), Status: http.StatusBadRequest, Slug: "malformed-request", Title: "Malformed request",
		Fill: func(err error, p *Problem) {
			var bad *badRequest
			errors.As(err, &bad)
			p.Detail, p.Errors = bad.detail, bad.fields
		}},
	{Match: web.As[*domain.ValidationError](), Status: http.StatusUnprocessableEntity, Slug: "validation", Title: "Invalid input",
		Fill: func(err error, p *Problem) {
			var inval *domain.ValidationError
			errors.As(err, &inval)
			p.Detail, p.Errors = inval.Error(), inval.Fields
		}},
	{Match: web.As[*RateLimitedError](), Status: http.StatusTooManyRequests, Slug: "rate-limited", Title: "Too many requests",
		Fill: func(err error, p *Problem) {
			var rl *RateLimitedError
			errors.As(err, &rl)
			p.Detail, p.RetryAfter = rl.Error(), rl.RetryAfter
		}},
	{Match: web.Is(commands.ErrOverloaded), Status: http.StatusServiceUnavailable, Slug: "overloaded", Title: "Server busy",
		Detail: "the server is busy checking passwords; retry shortly",
		Fill:   func(_ error, p *Problem) { p.RetryAfter = OverloadedRetryAfter }},
	{Match: web.Is(ErrUnauthenticated), Status: http.StatusUnauthorized, Slug: "unauthenticated", Title: "Authentication required",
		Detail: "this route needs a valid, unexpired bearer token"},
	{Match: web.Is(commands.ErrInvalidCredentials), Status: http.StatusUnauthorized, Slug: "invalid-credentials", Title: "Invalid credentials",
		Detail: "the email or the password is wrong"},
	{Match: web.Is(commands.ErrForbidden), Status: http.StatusForbidden, Slug: "forbidden", Title: "Forbidden",
		Detail: "this account may not do this", Fill: web.ForbiddenDetail},
	web.BadPathIDMapping, // issue 16: vocab
	// issue 16: vocab. If-Match names a version the show is no longer at.
	{Match: web.As[*commands.VersionMismatchError](), Status: http.StatusPreconditionFailed, Slug: "precondition-failed", Title: "Show changed",
		Fill: func(err error, p *Problem) {
			var vm *commands.VersionMismatchError
			errors.As(err, &vm)
			p.Detail = fmt.Sprintf("the show is at version %d (ETag %s), not the one If-Match names: GET /v1/shows/{id} again and retry",
				vm.Actual, web.ETag(vm.Actual))
		}},
	// issue 16: webhooks
	{Match: web.Is(webhooks.ErrForbidden), Status: http.StatusForbidden, Slug: "forbidden", Title: "Forbidden",
		Detail: "only organizers and admins may manage webhook endpoints"},
	web.NotFound(webhooks.ErrNotFound, "no such webhook endpoint or delivery"),
	{Match: web.Is(webhooks.ErrDisabled), Status: http.StatusConflict, Slug: "endpoint-disabled", Title: "Endpoint disabled",
		Detail: "the webhook endpoint is disabled; enable it (POST /v1/webhooks/endpoints/{id}/enable) first"},
	web.NotFound(domain.ErrShowNotFound, "no such show"),
	web.NotFound(domain.ErrOrderNotFound, "no such order"),
	web.NotFound(domain.ErrTicketNotFound, "no such ticket"),
	web.NotFound(ErrNotFound, "no such resource"),
	{Match: web.Is(ErrMethodNotAllowed), Status: http.StatusMethodNotAllowed, Slug: "method-not-allowed", Title: "Method not allowed",
		Detail: "this resource does not take that method"},
	{Match: web.Is(commands.ErrPaymentDeclined), Status: http.StatusPaymentRequired, Slug: "payment-declined", Title: "Payment declined",
		Detail: "the card was declined; see code for the reason",
		Fill: func(err error, p *Problem) {
			p.Code = DeclineGeneric
			var dc commands.DeclineCoder
			if errors.As(err, &dc) && dc.DeclineCode() != "" {
				p.Code = dc.DeclineCode()
			}
			p.DeclineCode = p.Code // issue 16: vocab
			p.Detail = "the card was declined (decline_code " + p.Code + "); " + declineAdvice(p.Code)
		}},
	{Match: web.Is(commands.ErrInvalidPaymentToken), Status: http.StatusUnprocessableEntity, Slug: "validation", Title: "Invalid input",
		Detail: "the payment token is unknown",
		Fill: func(_ error, p *Problem) {
			p.Errors = []domain.FieldError{{Field: "payment_token", Detail: "unknown payment token"}}
		}},
	{Match: web.Is(ErrIdempotencyMismatch), Status: http.StatusUnprocessableEntity, Slug: "idempotency-key-reused", Title: "Idempotency key reused",
		Detail: "this Idempotency-Key was used with a different request"},
	{Match: web.Is(ErrIdempotencyInProgress), Status: http.StatusConflict, Slug: "idempotency-in-progress", Title: "Request in progress",
		Detail: "a request with this Idempotency-Key is still running; retry when it is done"},
	{Match: web.Is(domain.ErrSoldOut), Status: http.StatusConflict, Slug: "sold-out", Title: "Sold out",
		Detail: "not enough units left"},
	// issue 14: waitlist
	{Match: web.Is(domain.ErrNotSoldOut), Status: http.StatusConflict, Slug: "buy-instead", Title: "Not sold out",
		Detail: "the section still has units: buy instead"},
	{Match: web.Is(domain.ErrAlreadyWaiting), Status: http.StatusConflict, Slug: "already-waiting", Title: "Already waiting",
		Detail: "already on the waiting list of this section, or holding its offer"},
	{Match: web.Is(domain.ErrWaitlistFull), Status: http.StatusConflict, Slug: "waitlist-full", Title: "Waiting list full",
		Detail: "the waiting list of this section is full"},
	web.NotFound(domain.ErrNotWaiting, "not on the waiting list of this section"),
	{Match: web.As[*domain.SeatTakenError](), Status: http.StatusConflict, Slug: "seat-taken", Title: "Seat taken",
		Fill: func(err error, p *Problem) {
			var taken *domain.SeatTakenError
			errors.As(err, &taken)
			p.Detail = taken.Error()
		}},
	{Match: web.As[*domain.BuyerLimitError](), Status: http.StatusConflict, Slug: "buyer-limit", Title: "Per-buyer limit reached",
		Fill: func(err error, p *Problem) {
			var bl *domain.BuyerLimitError
			errors.As(err, &bl)
			p.Detail = bl.Error()
		}},
	{Match: web.Is(domain.ErrBuyerLimit), Status: http.StatusConflict, Slug: "buyer-limit", Title: "Per-buyer limit reached",
		Detail: "the per-buyer limit of this show is reached"},
	// issue 14: rules
	web.NotFound(domain.ErrTicketTypeNotFound, "no such ticket type"),
	web.NotFound(domain.ErrVoucherNotFound, "no such voucher"),
	{Match: web.Is(domain.ErrTicketTypeExists), Status: http.StatusConflict, Slug: "ticket-type-exists", Title: "Ticket type exists",
		Detail: "the show has a ticket type with this code"},
	{Match: web.Is(domain.ErrVoucherExists), Status: http.StatusConflict, Slug: "voucher-exists", Title: "Voucher exists",
		Detail: "the show has a voucher with this code"},
	{Match: web.Is(domain.ErrQuotaExhausted), Status: http.StatusConflict, Slug: "quota-exhausted", Title: "Quota exhausted",
		Detail: "a quota of the show has too few units left", Fill: ownDetail},
	{Match: web.Is(domain.ErrVoucherUsedUp), Status: http.StatusConflict, Slug: "voucher-used-up", Title: "Voucher used up",
		Detail: "the voucher has no use left", Fill: ownDetail},
	{Match: web.Is(domain.ErrTicketTypeOffSale), Status: http.StatusConflict, Slug: "ticket-type-off-sale", Title: "Ticket type not on sale",
		Detail: "the ticket type is outside its sales window", Fill: ownDetail},
	{Match: web.Is(domain.ErrVoucherInvalid), Status: http.StatusUnprocessableEntity, Slug: "voucher-invalid", Title: "Voucher cannot be used",
		Detail: "the voucher cannot be used for this order", Fill: func(err error, p *Problem) {
			ownDetail(err, p)
			p.Errors = []domain.FieldError{{Field: "voucher", Detail: p.Detail}}
		}},
	{Match: web.Is(domain.ErrOrderLimit), Status: http.StatusUnprocessableEntity, Slug: "order-limit", Title: "Per-order limit",
		Detail: "the order has fewer or more units than the show allows", Fill: ownDetail},
	{Match: web.Is(domain.ErrShowQuota), Status: http.StatusConflict, Slug: "show-quota", Title: "Too many live shows",
		Detail: "too many live shows: cancel one or wait until one has started"},
	{Match: web.Is(domain.ErrShowStarted), Status: http.StatusConflict, Slug: "show-started", Title: "Show has started",
		Detail: "the show has started: it is no longer on sale"},
	{Match: web.Is(domain.ErrHoldExpired), Status: http.StatusConflict, Slug: "hold-expired", Title: "Hold expired",
		Detail: "the hold has expired"},
	// issue 14: door. A refusal at the door: its problem type by reason
	// (fillRefusal), before ErrAlreadyCheckedIn, which one of them matches.
	{Match: web.As[*domain.CheckInRefusedError](), Fill: fillRefusal},
	{Match: web.Is(domain.ErrTicketNotTransferable), Status: http.StatusConflict, Slug: "ticket-not-transferable", Title: "Ticket not transferable",
		Detail: "the ticket is void or was transferred too often"},
	{Match: web.Is(domain.ErrAlreadyCheckedIn), Status: http.StatusConflict, Slug: "already-checked-in", Title: "Already checked in",
		Detail: "the ticket was checked in already"},
	{Match: web.Is(commands.ErrEmailTaken), Status: http.StatusConflict, Slug: "email-taken", Title: "Email already registered",
		Detail: "an account with this email exists"},
	invalidState(domain.ErrNotOnSale, "the show is not on sale"),
	invalidState(domain.ErrShowCancelled, "the show is cancelled"),
	invalidState(domain.ErrOrderNotHeld, "the order is no longer held"),
	invalidState(domain.ErrInvalidState, "not allowed in the current state"),
	invalidState(domain.ErrOrderExists, "the order exists already"),
	invalidState(domain.ErrShowExists, "the show exists already"),
	invalidState(domain.ErrNoHold, "the order holds nothing"),
	// issue 14: asyncpay
	{Match: web.Is(ErrBadSignature), Status: http.StatusBadRequest, Slug: "bad-signature", Title: "Bad webhook signature",
		Detail: "the Ticketing-Signature header is missing or malformed, too old or too new, or matches no secret"},
	{Match: web.Is(domain.ErrUnknownIntent), Status: http.StatusUnprocessableEntity, Slug: "unknown-payment-intent", Title: "Unknown payment intent",
		Detail: "the order started no such payment intent"},
	invalidState(domain.ErrNoPaymentNeeded, "a free order needs no payment: confirm it with POST /v1/orders/{id}/pay"),
	// issue 14: money
	{Match: web.Is(domain.ErrNotRefundable), Status: http.StatusConflict, Slug: "not-refundable", Title: "Not refundable",
		Detail: "the order is not paid: there is nothing to refund"},
	{Match: web.Is(domain.ErrAlreadyRefunded), Status: http.StatusConflict, Slug: "already-refunded", Title: "Already refunded",
		Detail: "the order, or a ticket asked for, is refunded already"},
	{Match: web.Is(domain.ErrTicketVoided), Status: http.StatusConflict, Slug: "ticket-void", Title: "Ticket void",
		Detail: "the ticket was refunded: it admits nobody"},
	{Match: web.Is(commands.ErrConflict, commands.ErrTooContended), Status: http.StatusConflict, Slug: "conflict",
		Title: "Concurrent update, try again", Detail: "another request changed this at the same time; retry"},
}

// invalidState is the row of a 409 "invalid-state" problem for target,
// with detail.
func invalidState(target error, detail string) mapping {
	return mapping{Match: web.Is(target), Status: http.StatusConflict, Slug: "invalid-state",
		Title: "Not allowed in the current state", Detail: detail}
}

// ownDetail makes a domain error's own message the Detail: the rules'
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
	if p, ok := web.ProblemFor(mappings, err); ok {
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
