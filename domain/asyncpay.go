package domain

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Errors of asynchronous payments.
var (
	// ErrUnknownIntent: the payment intent was not started by this order.
	ErrUnknownIntent = errors.New("no such payment intent for this order")
	// ErrNoPaymentNeeded: a free order confirms without a payment.
	ErrNoPaymentNeeded = errors.New("a free order needs no payment")
)

// MaxPaymentFailures bounds the failed attempts an order records; later
// ones change nothing.
const MaxPaymentFailures = 20

// maxPaymentRef bounds the length of a provider's intent and charge ids.
const maxPaymentRef = 255

// Why a payment the order cannot take is refunded (OrderPaymentRefunded.Reason).
const (
	RefundHoldExpired    = "hold_expired"
	RefundOrderCancelled = "order_cancelled"
	RefundShowCancelled  = "show_cancelled"
	RefundAmountMismatch = "amount_mismatch"
	RefundAlreadyPaid    = "already_paid"
)

// OrderPaymentStarted: a payment intent was opened at the provider for the
// order's total; the provider confirms or fails it later, by webhook.
type OrderPaymentStarted struct {
	OrderID     uuid.UUID `json:"order_id"`
	ShowID      uuid.UUID `json:"show_id"`
	IntentID    string    `json:"intent_id"`
	AmountCents int64     `json:"amount_cents"`
	StartedAt   time.Time `json:"started_at"`
}

// OrderPaymentSucceeded: the provider took the order's total for its
// intent; the order's confirmation by that charge follows.
type OrderPaymentSucceeded struct {
	OrderID     uuid.UUID `json:"order_id"`
	ShowID      uuid.UUID `json:"show_id"`
	IntentID    string    `json:"intent_id"`
	ChargeID    string    `json:"charge_id"`
	AmountCents int64     `json:"amount_cents"`
	At          time.Time `json:"at"`
}

// OrderPaymentFailed: an attempt to pay the order's intent failed; the
// hold stays until it expires or another attempt succeeds.
type OrderPaymentFailed struct {
	OrderID  uuid.UUID `json:"order_id"`
	ShowID   uuid.UUID `json:"show_id"`
	IntentID string    `json:"intent_id"`
	ChargeID string    `json:"charge_id,omitempty"`
	Code     string    `json:"code,omitempty"`
	At       time.Time `json:"at"`
}

// OrderPaymentRefunded: a payment of the order's intent that the order could
// not take (its hold expired, it was cancelled or paid otherwise, the
// amount was wrong) was refunded in full.
type OrderPaymentRefunded struct {
	OrderID     uuid.UUID `json:"order_id"`
	ShowID      uuid.UUID `json:"show_id"`
	IntentID    string    `json:"intent_id"`
	ChargeID    string    `json:"charge_id"`
	AmountCents int64     `json:"amount_cents"`
	RefundID    string    `json:"refund_id"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
}

// EventType implementations: stable names, never renamed.
func (OrderPaymentStarted) EventType() string   { return "order.payment_started" }
func (OrderPaymentSucceeded) EventType() string { return "order.payment_succeeded" }
func (OrderPaymentFailed) EventType() string    { return "order.payment_failed" }
func (OrderPaymentRefunded) EventType() string  { return "order.payment_refunded" }

// PaymentIntent is the provider payment intent an order started.
type PaymentIntent struct {
	ID          string
	AmountCents int64
	// ChargeID is the succeeded payment recorded for the intent, if any.
	ChargeID string
	// Failures counts the failed attempts recorded.
	Failures int
	failed   map[string]bool   // charge ids of the failures recorded
	refunded map[string]string // charge ids refunded, and why
}

// Refunded reports whether the charge of the intent was refunded.
func (p *PaymentIntent) Refunded(chargeID string) bool { _, ok := p.refunded[chargeID]; return ok }

// PaymentReport is what a provider reports of an attempt to pay an intent.
type PaymentReport struct {
	IntentID    string
	ChargeID    string
	AmountCents int64
	Code        string // why it failed, if it did
}

// PaymentVerdict is what a succeeded payment does to its order.
type PaymentVerdict int

// Payment verdicts.
const (
	// PaymentConfirm: confirm the order paid by the charge.
	PaymentConfirm PaymentVerdict = iota + 1
	// PaymentRefund: refund the charge in full; the order cannot take it.
	PaymentRefund
	// PaymentDone: the charge was refunded already; nothing is left to do.
	PaymentDone
)

// StartPayment records the payment intent intentID of amountCents opened
// for the order at now. The order must be payable (CanPay), not free, and
// the amount its total; an order that started intentID already raises
// nothing, one that started another intent fails with ErrInvalidState.
func (o *Order) StartPayment(intentID string, amountCents int64, now time.Time) error {
	if err := o.CanPay(now); err != nil {
		return err
	}
	var v validator
	v.check(intentID != "" && len(intentID) <= maxPaymentRef, "intent_id", "must have 1 to %d bytes", maxPaymentRef)
	if err := v.err(); err != nil {
		return err
	}
	switch {
	case o.Free():
		return ErrNoPaymentNeeded
	case o.Intent != nil && o.Intent.ID == intentID:
		return nil
	case o.Intent != nil, amountCents != o.TotalCents:
		return ErrInvalidState
	}
	o.raise(OrderPaymentStarted{OrderID: o.ID, ShowID: o.ShowID, IntentID: intentID, AmountCents: amountCents, StartedAt: now.UTC()})
	return nil
}

// intentOf returns the order's intent p is about, or fails with
// ErrOrderNotFound, ErrUnknownIntent or a *ValidationError.
func (o *Order) intentOf(p PaymentReport) (*PaymentIntent, error) {
	var v validator
	v.check(len(p.ChargeID) <= maxPaymentRef, "charge_id", "must have at most %d bytes", maxPaymentRef)
	v.check(len(p.Code) <= maxPaymentRef, "code", "must have at most %d bytes", maxPaymentRef)
	if err := v.err(); err != nil {
		return nil, err
	}
	switch {
	case !o.Exists() || o.Status == OrderStatusExpired && o.BuyerID == uuid.Nil:
		return nil, ErrOrderNotFound
	case o.Intent == nil || o.Intent.ID != p.IntentID:
		return nil, ErrUnknownIntent
	}
	return o.Intent, nil
}

// SucceedPayment decides what the succeeded payment p does to the order at
// now, showCancelled telling whether its show is cancelled. It raises
// OrderPaymentSucceeded when the order is to be confirmed by it for the
// first time. A refund verdict comes with its reason, and so does
// PaymentDone, with the reason of the refund made. A replay of a
// payment already recorded gives the same verdict and raises nothing.
func (o *Order) SucceedPayment(p PaymentReport, showCancelled bool, now time.Time) (PaymentVerdict, string, error) {
	in, err := o.intentOf(p)
	if err != nil {
		return 0, "", err
	}
	if p.ChargeID == "" {
		return 0, "", &ValidationError{Fields: []FieldError{{Field: "charge_id", Detail: "is required"}}}
	}
	if reason, done := in.refunded[p.ChargeID]; done {
		return PaymentDone, reason, nil
	}
	switch {
	case o.Status == OrderStatusConfirmed && o.PaymentID == p.ChargeID:
		return PaymentConfirm, "", nil
	case p.AmountCents != o.TotalCents:
		return PaymentRefund, RefundAmountMismatch, nil
	case o.Status == OrderStatusConfirmed, in.ChargeID != "" && in.ChargeID != p.ChargeID:
		return PaymentRefund, RefundAlreadyPaid, nil
	}
	if reason := o.lateReason(showCancelled, now); reason != "" {
		return PaymentRefund, reason, nil
	}
	if in.ChargeID == "" {
		o.raise(OrderPaymentSucceeded{OrderID: o.ID, ShowID: o.ShowID, IntentID: p.IntentID, ChargeID: p.ChargeID,
			AmountCents: p.AmountCents, At: now.UTC()})
	}
	return PaymentConfirm, "", nil
}

// lateReason says why a held order can no longer be paid at now, or "".
func (o *Order) lateReason(showCancelled bool, now time.Time) string {
	switch {
	case o.Status == OrderStatusCancelled:
		return RefundOrderCancelled
	case showCancelled:
		return RefundShowCancelled
	case o.CanPay(now) != nil:
		return RefundHoldExpired
	}
	return ""
}

// FailPayment records the failed attempt p. It raises nothing when the
// order is no longer held, a payment of its intent succeeded, the attempt
// (by charge id) was recorded already or MaxPaymentFailures were.
func (o *Order) FailPayment(p PaymentReport, now time.Time) error {
	in, err := o.intentOf(p)
	if err != nil {
		return err
	}
	if o.Status != OrderStatusHeld || in.ChargeID != "" || in.failed[p.ChargeID] || in.Failures >= MaxPaymentFailures {
		return nil
	}
	o.raise(OrderPaymentFailed{OrderID: o.ID, ShowID: o.ShowID, IntentID: p.IntentID, ChargeID: p.ChargeID, Code: p.Code, At: now.UTC()})
	return nil
}

// RefundPayment records the full refund refundID of the payment p for
// reason. A charge refunded already raises nothing; the charge that
// confirmed the order is not refunded here (ErrInvalidState).
func (o *Order) RefundPayment(p PaymentReport, refundID, reason string, now time.Time) error {
	in, err := o.intentOf(p)
	if err != nil {
		return err
	}
	switch {
	case p.ChargeID == "" || p.AmountCents <= 0:
		return ErrInvalidState
	case in.Refunded(p.ChargeID):
		return nil
	case o.Status == OrderStatusConfirmed && o.PaymentID == p.ChargeID:
		return ErrInvalidState
	}
	o.raise(OrderPaymentRefunded{OrderID: o.ID, ShowID: o.ShowID, IntentID: p.IntentID, ChargeID: p.ChargeID,
		AmountCents: p.AmountCents, RefundID: refundID, Reason: reason, At: now.UTC()})
	return nil
}

// applyPayment applies the events of asynchronous payments.
func (o *Order) applyPayment(e Event) {
	if s, ok := e.(OrderPaymentStarted); ok {
		o.Intent = &PaymentIntent{ID: s.IntentID, AmountCents: s.AmountCents}
		return
	}
	if o.Intent == nil {
		o.Intent = &PaymentIntent{}
	}
	in := o.Intent
	switch e := e.(type) {
	case OrderPaymentSucceeded:
		in.ChargeID = e.ChargeID
	case OrderPaymentFailed:
		if in.failed == nil {
			in.failed = map[string]bool{}
		}
		in.Failures++
		in.failed[e.ChargeID] = true
	case OrderPaymentRefunded:
		if in.refunded == nil {
			in.refunded = map[string]string{}
		}
		in.refunded[e.ChargeID] = e.Reason
	}
}
