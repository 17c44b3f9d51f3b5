package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// IntentResult is a payment intent opened for an order.
type IntentResult struct {
	OrderID      uuid.UUID
	IntentID     string
	ClientSecret string
	AmountCents  int64
	Position     domain.Position
}

// PaymentOutcome is what a provider's report of a payment did.
type PaymentOutcome struct {
	OrderID uuid.UUID
	// Outcome is "confirmed", "refunded", "recorded" (a failure) or
	// "ignored" (a failure that changes nothing).
	Outcome string
	// Reason says why a payment was refunded: domain.Refund*.
	Reason   string
	Tickets  []domain.Ticket
	Position domain.Position
}

// Outcomes of a provider's report.
const (
	OutcomeConfirmed = "confirmed"
	OutcomeRefunded  = "refunded"
	OutcomeRecorded  = "recorded"
	OutcomeIgnored   = "ignored"
)

// asyncPay starts payment intents and applies the provider's reports of
// them, through the confirmation and settling of payOrder.
type asyncPay struct {
	pay     *payOrder
	intents PaymentIntents
}

func newAsyncPay(pay *payOrder, intents PaymentIntents) *asyncPay {
	mustHave("newAsyncPay", pay, intents)
	return &asyncPay{pay: pay, intents: intents}
}

// intentKey is the provider's idempotency key of an order's intent: one
// intent per order.
func intentKey(id uuid.UUID) string { return "order-" + id.String() + "/intent" }

// start opens the payment intent of a held order of the buyer actor, or
// returns the one it opened before.
func (h *asyncPay) start(ctx context.Context, actor domain.Actor, id uuid.UUID) (IntentResult, error) {
	stream := domain.OrderStream(id)
	defer h.pay.locks.lock(stream)()
	var out IntentResult
	err := retry(ctx, h.pay.retries, func() error {
		o, err := h.pay.payable(ctx, actor, id)
		if err != nil {
			return err
		}
		if o.Free() {
			return domain.ErrNoPaymentNeeded
		}
		in, err := h.intents.StartIntent(ctx, intentKey(id), id, o.TotalCents)
		if err != nil {
			return err
		}
		if err := o.StartPayment(in.ID, o.TotalCents, h.pay.now()); err != nil {
			return err
		}
		res, err := h.pay.events.save(ctx, stream, o.Version(), o.Changes())
		if err != nil {
			return err
		}
		out = IntentResult{OrderID: id, IntentID: in.ID, ClientSecret: in.ClientSecret, AmountCents: o.TotalCents, Position: res.Position}
		return nil
	})
	return out, err
}

// succeeded applies the provider's report that payment p of order id's
// intent succeeded: it confirms the order through payOrder's confirmation
// and settling, or refunds p in full when the order cannot take it. A
// duplicate report is a replay.
func (h *asyncPay) succeeded(ctx context.Context, id uuid.UUID, p domain.PaymentReport) (PaymentOutcome, error) {
	defer h.pay.locks.lock(domain.OrderStream(id))()
	verdict, reason, show, err := h.decide(ctx, id, p)
	if err != nil {
		return PaymentOutcome{}, err
	}
	out := PaymentOutcome{OrderID: id, Outcome: OutcomeRefunded, Reason: reason}
	switch verdict {
	case domain.PaymentDone:
		return out, nil
	case domain.PaymentRefund:
		out.Position, err = h.refund(ctx, id, show, p, reason)
		return out, err
	}
	res, confirmed, err := h.pay.confirm(ctx, nil, id, p.ChargeID)
	if errors.Is(err, domain.ErrHoldExpired) || errors.Is(err, domain.ErrOrderNotHeld) {
		out.Reason = domain.RefundHoldExpired
		out.Position, err = h.refund(ctx, id, show, p, out.Reason)
		return out, err
	}
	if err != nil {
		return PaymentOutcome{}, err
	}
	out = PaymentOutcome{OrderID: id, Outcome: OutcomeConfirmed, Tickets: res.Tickets, Position: res.Position}
	if pos, err := h.pay.settle.batched(ctx, show, id, confirmed); err != nil {
		h.pay.log.Warn("settling an order paid by intent failed", "order", id, "err", err)
	} else if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// decide records payment p of order id, when the order is to be confirmed
// by it, and returns the verdict and the order's show.
func (h *asyncPay) decide(ctx context.Context, id uuid.UUID, p domain.PaymentReport) (domain.PaymentVerdict, string, uuid.UUID, error) {
	var verdict domain.PaymentVerdict
	var reason string
	var show uuid.UUID
	err := retry(ctx, h.pay.retries, func() error {
		o, err := h.pay.events.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		cancelled := false
		if o.Status == domain.OrderStatusHeld {
			status, err := h.pay.showStatus(ctx, o.ShowID)
			if err != nil {
				return err
			}
			cancelled = status == domain.ShowStatusCancelled
		}
		if verdict, reason, err = o.SucceedPayment(p, cancelled, h.pay.now()); err != nil {
			return err
		}
		show = o.ShowID
		_, err = h.pay.events.save(ctx, domain.OrderStream(id), o.Version(), o.Changes())
		return err
	})
	return verdict, reason, show, unknownOrder(err)
}

// refund refunds payment p of order id in full, records it on the order's
// stream, and settles the show, whose hold the order may have lost.
func (h *asyncPay) refund(ctx context.Context, id, show uuid.UUID, p domain.PaymentReport, reason string) (domain.Position, error) {
	refundID, err := h.pay.payments.Refund(ctx, "intent-refund/"+p.ChargeID, p.ChargeID, p.AmountCents)
	if err != nil {
		return domain.Position{}, err
	}
	var pos domain.Position
	err = retry(ctx, h.pay.retries, func() error {
		o, err := h.pay.events.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		if err := o.RefundPayment(p, refundID, reason, h.pay.now()); err != nil {
			return err
		}
		res, err := h.pay.events.save(ctx, domain.OrderStream(id), o.Version(), o.Changes())
		pos = res.Position
		return err
	})
	if err != nil {
		return domain.Position{}, err
	}
	h.pay.settle.quietly(ctx, show, id)
	return pos, nil
}

// failed records the provider's report that an attempt p to pay order
// id's intent failed; the hold stays.
func (h *asyncPay) failed(ctx context.Context, id uuid.UUID, p domain.PaymentReport) (PaymentOutcome, error) {
	defer h.pay.locks.lock(domain.OrderStream(id))()
	out := PaymentOutcome{OrderID: id, Outcome: OutcomeIgnored}
	err := retry(ctx, h.pay.retries, func() error {
		o, err := h.pay.events.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		if err := o.FailPayment(p, h.pay.now()); err != nil || len(o.Changes()) == 0 {
			return err
		}
		res, err := h.pay.events.save(ctx, domain.OrderStream(id), o.Version(), o.Changes())
		out.Outcome, out.Position = OutcomeRecorded, res.Position
		return err
	})
	return out, unknownOrder(err)
}

// unknownOrder makes a report about an order that does not exist one
// about an unknown intent: the provider gets the same answer either way.
func unknownOrder(err error) error {
	if errors.Is(err, domain.ErrOrderNotFound) {
		return domain.ErrUnknownIntent
	}
	return err
}
