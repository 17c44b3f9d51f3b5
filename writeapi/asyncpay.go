package writeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/paysig"
	"github.com/ticketing/ticketing/web"
)

// MaxWebhookBytes bounds a webhook's body: a provider's event is a few
// kilobytes.
const MaxWebhookBytes = 64 << 10

// ErrBadSignature: a webhook whose Ticketing-Signature does not verify.
var ErrBadSignature = errors.New("bad webhook signature")

// Payments runs the commands of asynchronous payments: their errors are
// the domain's (domain.ErrUnknownIntent for a report of an intent the
// order never started), commands.ErrTooContended and the store's.
type Payments interface {
	// StartPayment opens, or returns, the payment intent of a held order
	// of the buyer actor.
	StartPayment(ctx context.Context, actor domain.Actor, id uuid.UUID) (commands.IntentResult, error)
	// PaymentSucceeded confirms the order paid by p, or refunds p.
	PaymentSucceeded(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (commands.PaymentOutcome, error)
	// PaymentFailed records a failed attempt p.
	PaymentFailed(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (commands.PaymentOutcome, error)
}

// asyncPayAPI is what the routes of asynchronous payments need.
type asyncPayAPI struct {
	payments Payments
	secrets  [][]byte
	now      func() time.Time
}

// WithPayments adds the routes of asynchronous payments, their webhooks
// verified against secrets (the current one first; more during a
// rotation). Without it, or with no secret, those routes do not exist.
func (a *API) WithPayments(p Payments, secrets [][]byte) *API {
	if p != nil && len(secrets) > 0 {
		a.asyncpay = &asyncPayAPI{payments: p, secrets: secrets, now: time.Now}
	}
	return a
}

// registerAsyncPay adds the routes of asynchronous payments to r.
func (a *API) registerAsyncPay(r *mux.Router) {
	if a.asyncpay == nil {
		return
	}
	r.Handle("/v1/orders/{id}/payment-intents", a.private(a.startPayment)).Methods(http.MethodPost)
	// Signed, not authenticated; never stored under an Idempotency-Key:
	// a redelivery is a replay by itself.
	r.Handle("/v1/webhooks/payments", a.unstored(a.paymentWebhook)).Methods(http.MethodPost)
}

func (a *API) startPayment(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathIDBody(r, nil)
	if err != nil {
		return err
	}
	res, err := a.asyncpay.payments.StartPayment(r.Context(), actor, id)
	if err != nil {
		return err
	}
	status := http.StatusOK // the open intent, again
	if !res.Position.IsZero() {
		status = http.StatusCreated
	}
	return writeJSON(w, status, map[string]any{
		"id": res.IntentID, "object": "payment_intent", "order_id": res.OrderID, "amount_cents": res.AmountCents,
		"client_secret": res.ClientSecret, "status": "requires_payment_method", "position": position(r.Context(), res.Position),
	})
}

// paymentWebhook verifies a provider's signed event and applies it; it
// answers 2xx only once the event's effect is durable, so that the
// provider retries anything else.
func (a *API) paymentWebhook(w http.ResponseWriter, r *http.Request, _ domain.Actor) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBytes+1))
	if err != nil {
		return &badRequest{detail: "request body unreadable"}
	}
	if len(body) > MaxWebhookBytes {
		return &web.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("a webhook body is at most %d bytes", MaxWebhookBytes)}
	}
	if err := paysig.Verify(r.Header.Get(paysig.Header), body, a.asyncpay.secrets, a.asyncpay.now(), paysig.DefaultTolerance); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	var e paysig.Event
	if err := web.DecodeJSONNullAsAbsent(body, &e); err != nil {
		return err
	}
	if e.Type != paysig.IntentSucceeded && e.Type != paysig.IntentFailed {
		// Other events are acknowledged, as a provider expects.
		return writeJSON(w, http.StatusOK, map[string]any{"received": true, "outcome": commands.OutcomeIgnored})
	}
	order, p, err := paymentReport(e)
	if err != nil {
		return err
	}
	var out commands.PaymentOutcome
	if e.Type == paysig.IntentSucceeded {
		out, err = a.asyncpay.payments.PaymentSucceeded(r.Context(), order, p)
	} else {
		out, err = a.asyncpay.payments.PaymentFailed(r.Context(), order, p)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"received": true, "order_id": out.OrderID, "outcome": out.Outcome, "reason": out.Reason, "position": position(r.Context(), out.Position),
	})
}

// paymentReport checks the intent of event e and returns its order and
// what it reports.
func paymentReport(e paysig.Event) (uuid.UUID, domain.PaymentReport, error) {
	in := e.Data.Object
	var fields []domain.FieldError
	check := func(ok bool, field, detail string) {
		if !ok {
			fields = append(fields, domain.FieldError{Field: field, Detail: detail})
		}
	}
	order, err := uuid.Parse(in.Metadata.OrderID)
	check(err == nil, "data.object.metadata.order_id", "must be the order's id")
	check(providerID(in.ID), "data.object.id", "must be a provider id: 1 to 255 letters, digits and _")
	succeeded := e.Type == paysig.IntentSucceeded
	check(!succeeded || in.Amount > 0, "data.object.amount", "must be positive")
	check(!succeeded && in.LatestCharge == "" || providerID(in.LatestCharge), "data.object.latest_charge", "must be a provider id: 1 to 255 letters, digits and _")
	p := domain.PaymentReport{IntentID: in.ID, ChargeID: in.LatestCharge, AmountCents: in.Amount}
	if pe := in.LastPaymentError; pe != nil && !succeeded {
		p.Code = pe.Code
		if pe.DeclineCode != "" {
			p.Code = pe.DeclineCode
		}
		check(p.Code == "" || providerID(p.Code), "data.object.last_payment_error", "codes must be letters, digits and _")
	}
	if len(fields) > 0 {
		return uuid.Nil, domain.PaymentReport{}, &domain.ValidationError{Fields: fields}
	}
	return order, p, nil
}

// providerID reports whether s looks like a provider's id or code.
func providerID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
