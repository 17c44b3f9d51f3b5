package domain

import (
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// auditAsyncPay is what the auditor remembers of asynchronous payments.
type auditAsyncPay struct {
	intents  map[string]*auditIntent
	payments map[string]*auditIntentPayment // by charge id
}

type auditIntent struct {
	order  uuid.UUID
	amount int64
	ref    EventRef
}

// auditIntentPayment is a succeeded payment of an intent, recorded by
// order.payment_succeeded or refunded by order.payment_refunded.
type auditIntentPayment struct {
	order     uuid.UUID
	ref       EventRef
	confirmed bool
	refunded  bool
}

// async returns the auditor's asynchronous payments, making them first.
func (a *Auditor) async() *auditAsyncPay {
	if a.asyncpay == nil {
		a.asyncpay = &auditAsyncPay{intents: map[string]*auditIntent{}, payments: map[string]*auditIntentPayment{}}
	}
	return a.asyncpay
}

// asyncPayment audits the events of asynchronous payments: an intent is
// started by one order for its total, a payment recorded for an intent is
// the order's total and of the order's own intent, a refund is of a
// payment not confirming the order.
func (a *Auditor) asyncPayment(ref EventRef, e Event) {
	switch e := e.(type) {
	case OrderPaymentStarted:
		a.paymentStarted(ref, e)
	case OrderPaymentSucceeded:
		o := a.orderEvent(ref, e.OrderID, e.ShowID)
		a.checked[cPayments]++
		a.ownIntent(ref, e.OrderID, e.IntentID)
		if o.status != OrderStatusHeld {
			a.violate(cPayments, "payment "+strconv.Quote(e.ChargeID)+" recorded while the order is "+statusOf(o), lastOf(o, ref)...)
		}
		if e.AmountCents != o.total {
			a.violate(cPayments, fmt.Sprintf("payment of %d recorded, the order's total is %d", e.AmountCents, o.total), ref)
		}
		if p := a.async().payments[e.ChargeID]; p != nil {
			a.violate(cPayments, "payment "+strconv.Quote(e.ChargeID)+" recorded twice", p.ref, ref)
			return
		}
		a.async().payments[e.ChargeID] = &auditIntentPayment{order: e.OrderID, ref: ref}
	case OrderPaymentFailed:
		a.orderEvent(ref, e.OrderID, e.ShowID)
		a.ownIntent(ref, e.OrderID, e.IntentID)
	case OrderPaymentRefunded:
		a.paymentRefunded(ref, e)
	}
}

func (a *Auditor) paymentStarted(ref EventRef, e OrderPaymentStarted) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.checked[cPayments]++
	if o.status != OrderStatusHeld {
		a.violate(cPayments, "payment intent "+strconv.Quote(e.IntentID)+" started while the order is "+statusOf(o), lastOf(o, ref)...)
	}
	if e.AmountCents != o.total {
		a.violate(cPayments, fmt.Sprintf("payment intent of %d, the order's total is %d", e.AmountCents, o.total), ref)
	}
	if in := a.async().intents[e.IntentID]; in != nil {
		a.violate(cPayments, "payment intent "+strconv.Quote(e.IntentID)+" already started by order "+in.order.String(), in.ref, ref)
		return
	}
	a.async().intents[e.IntentID] = &auditIntent{order: e.OrderID, amount: e.AmountCents, ref: ref}
}

// ownIntent checks that intent was started by order.
func (a *Auditor) ownIntent(ref EventRef, order uuid.UUID, intent string) {
	in := a.async().intents[intent]
	switch {
	case in == nil:
		a.violate(cPayments, "payment intent "+strconv.Quote(intent)+" was never started", ref)
	case in.order != order:
		a.violate(cPayments, "payment intent "+strconv.Quote(intent)+" was started by order "+in.order.String(), in.ref, ref)
	}
}

func (a *Auditor) paymentRefunded(ref EventRef, e OrderPaymentRefunded) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.refunds++
	a.checked[cRefunds]++
	a.ownIntent(ref, e.OrderID, e.IntentID)
	p := a.async().payments[e.ChargeID]
	switch {
	case e.AmountCents <= 0:
		a.violate(cRefunds, fmt.Sprintf("refund of %d", e.AmountCents), ref)
	case p != nil && p.refunded:
		a.violate(cRefunds, "payment "+strconv.Quote(e.ChargeID)+" refunded twice", p.ref, ref)
	case p != nil && p.confirmed || o.status == OrderStatusConfirmed && o.payment == e.ChargeID:
		a.violate(cRefunds, "payment "+strconv.Quote(e.ChargeID)+" refunded as not taken, it confirmed the order", o.last, ref)
	}
	if p == nil {
		p = &auditIntentPayment{order: e.OrderID, ref: ref}
		a.async().payments[e.ChargeID] = p
	}
	p.refunded = true
}

// confirmedByIntent checks an order confirmed by a payment of an intent:
// the payment was recorded for that order and not refunded.
func (a *Auditor) confirmedByIntent(ref EventRef, e OrderConfirmed) {
	if a.asyncpay == nil {
		return
	}
	p := a.asyncpay.payments[e.PaymentID]
	switch {
	case p == nil:
		return
	case p.order != e.OrderID:
		a.violate(cPayments, "confirmed by payment "+strconv.Quote(e.PaymentID)+" of order "+p.order.String(), p.ref, ref)
	case p.refunded:
		a.violate(cPayments, "confirmed by payment "+strconv.Quote(e.PaymentID)+", which was refunded", p.ref, ref)
	}
	p.confirmed = true
}

// unrefundedPayments reports, at the end of the log, the payments recorded
// for intents that neither confirmed their order nor were refunded: an
// order still held is pending, any other kept money it could not take.
func (a *Auditor) unrefundedPayments(r *AuditReport, found *[numChecks]int64, violations []Violation, dropped int64) ([]Violation, int64) {
	if a.asyncpay == nil {
		return violations, dropped
	}
	for charge, p := range a.asyncpay.payments {
		if p.confirmed || p.refunded {
			continue
		}
		o := a.orders[p.order]
		if o != nil && o.status == OrderStatusHeld {
			r.Pending["payments yet to confirm their order"]++
			continue
		}
		found[cRefunds]++
		if len(violations) >= MaxAuditViolations {
			dropped++
			continue
		}
		events := []EventRef{p.ref}
		if o != nil && o.status != "" {
			events = append(events, o.last)
		}
		violations = append(violations, Violation{Check: AuditRefunds, Events: events,
			Detail: "payment " + strconv.Quote(charge) + " of order " + p.order.String() + " neither confirmed it nor was refunded; the order is " + statusOf(o)})
	}
	return violations, dropped
}
