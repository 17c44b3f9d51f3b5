package writeapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []domain.FieldError `json:"errors,omitempty"`
}

// badRequest is input that is not the JSON the endpoint takes.
type badRequest struct {
	detail string
	fields []domain.FieldError
}

func (e *badRequest) Error() string { return e.detail }

// problemFor maps an error to its problem. It is the one place where the
// write API decides HTTP statuses.
func problemFor(err error) Problem {
	var (
		bad   *badRequest
		inval *domain.ValidationError
		taken *domain.SeatTakenError
	)
	p := func(status int, slug, title string) Problem {
		return Problem{Type: "urn:problem:ticketing:" + slug, Title: title, Status: status, Detail: err.Error()}
	}
	switch {
	case errors.As(err, &bad):
		pr := p(http.StatusBadRequest, "malformed-request", "Malformed request")
		pr.Errors = bad.fields
		return pr
	case errors.As(err, &inval):
		pr := p(http.StatusUnprocessableEntity, "validation", "Invalid input")
		pr.Errors = inval.Fields
		return pr
	case errors.Is(err, ErrUnauthenticated):
		return p(http.StatusUnauthorized, "unauthenticated", "Authentication required")
	case errors.Is(err, commands.ErrInvalidCredentials):
		return p(http.StatusUnauthorized, "invalid-credentials", "Invalid credentials")
	case errors.Is(err, commands.ErrForbidden):
		return p(http.StatusForbidden, "forbidden", "Forbidden")
	case errors.Is(err, domain.ErrShowNotFound), errors.Is(err, domain.ErrOrderNotFound),
		errors.Is(err, domain.ErrTicketNotFound), errors.Is(err, ErrNotFound):
		return p(http.StatusNotFound, "not-found", "Not found")
	case errors.Is(err, ErrMethodNotAllowed):
		return p(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed")
	case errors.Is(err, commands.ErrPaymentDeclined):
		return p(http.StatusPaymentRequired, "payment-declined", "Payment declined")
	case errors.Is(err, commands.ErrInvalidPaymentToken):
		pr := p(http.StatusUnprocessableEntity, "validation", "Invalid input")
		pr.Errors = []domain.FieldError{{Field: "payment_token", Detail: "unknown payment token"}}
		return pr
	case errors.Is(err, ErrIdempotencyMismatch):
		return p(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused")
	case errors.Is(err, ErrIdempotencyInProgress):
		return p(http.StatusConflict, "idempotency-in-progress", "Request in progress")
	case errors.Is(err, domain.ErrSoldOut):
		return p(http.StatusConflict, "sold-out", "Sold out")
	case errors.As(err, &taken):
		return p(http.StatusConflict, "seat-taken", "Seat taken")
	case errors.Is(err, domain.ErrBuyerLimit):
		return p(http.StatusConflict, "buyer-limit", "Per-buyer limit reached")
	case errors.Is(err, domain.ErrShowQuota):
		return p(http.StatusConflict, "show-quota", "Too many live shows")
	case errors.Is(err, domain.ErrShowStarted):
		return p(http.StatusConflict, "show-started", "Show has started")
	case errors.Is(err, domain.ErrHoldExpired):
		return p(http.StatusConflict, "hold-expired", "Hold expired")
	case errors.Is(err, domain.ErrAlreadyCheckedIn):
		return p(http.StatusConflict, "already-checked-in", "Already checked in")
	case errors.Is(err, commands.ErrEmailTaken):
		return p(http.StatusConflict, "email-taken", "Email already registered")
	case errors.Is(err, domain.ErrNotOnSale), errors.Is(err, domain.ErrShowCancelled),
		errors.Is(err, domain.ErrOrderNotHeld), errors.Is(err, domain.ErrInvalidState),
		errors.Is(err, domain.ErrOrderExists), errors.Is(err, domain.ErrShowExists), errors.Is(err, domain.ErrNoHold):
		return p(http.StatusConflict, "invalid-state", "Not allowed in the current state")
	case errors.Is(err, commands.ErrConflict), errors.Is(err, commands.ErrTooContended):
		return p(http.StatusConflict, "conflict", "Concurrent update, try again")
	}
	return Problem{Type: "urn:problem:ticketing:internal", Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the server failed; the request may be retried"}
}

// Error writes err as problem+json. Unknown errors are logged and answered
// with a generic 500.
func Error(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ticketing"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
