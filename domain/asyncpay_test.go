package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

func TestOrder_AsyncPayment(t *testing.T) {
	t.Parallel()
	started := domain.OrderPaymentStarted{OrderID: orderA, ShowID: showID, IntentID: "pi_1", AmountCents: 900, StartedAt: t0}
	paid := domain.PaymentReport{IntentID: "pi_1", ChargeID: "ch_1", AmountCents: 900}
	succeeded := domain.OrderPaymentSucceeded{OrderID: orderA, ShowID: showID, IntentID: "pi_1", ChargeID: "ch_1", AmountCents: 900, At: t0}
	failedReport := domain.PaymentReport{IntentID: "pi_1", ChargeID: "ch_0", Code: "card_declined"}
	failed := domain.OrderPaymentFailed{OrderID: orderA, ShowID: showID, IntentID: "pi_1", ChargeID: "ch_0", Code: "card_declined", At: t0}
	refunded := func(charge, reason string) domain.OrderPaymentRefunded {
		return domain.OrderPaymentRefunded{OrderID: orderA, ShowID: showID, IntentID: "pi_1", ChargeID: charge, AmountCents: 900, RefundID: "re_1", Reason: reason, At: t0}
	}
	expired := domain.OrderExpired{OrderID: orderA, ShowID: showID, At: t0.Add(ttl)}
	cancelled := domain.OrderCancelled{OrderID: orderA, ShowID: showID, At: t0}
	free := placed()
	free.TotalCents, free.Seats[0].PriceCents = 0, 0
	paidBy := func(charge string) domain.OrderConfirmed { c := confirmed(); c.PaymentID = charge; return c }
	succeed := func(p domain.PaymentReport, showCancelled bool, at int) func(o *domain.Order) (domain.PaymentVerdict, string, error) {
		return func(o *domain.Order) (domain.PaymentVerdict, string, error) {
			return o.SucceedPayment(p, showCancelled, t0.Add(ttl*time.Duration(at)))
		}
	}
	other := paid
	other.ChargeID = "ch_2"
	wrongAmount := paid
	wrongAmount.AmountCents = 899
	unknown := paid
	unknown.IntentID = "pi_other"
	cases := []struct {
		name    string
		given   []domain.Event
		when    func(o *domain.Order) (domain.PaymentVerdict, string, error)
		then    []domain.Event
		verdict domain.PaymentVerdict
		reason  string
		err     error
	}{
		// Starting.
		{name: "start", given: []domain.Event{placed()}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 900, t0) }), then: []domain.Event{started}},
		{name: "start again with the same intent", given: []domain.Event{placed(), started}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 900, t0) })},
		{name: "start another intent", given: []domain.Event{placed(), started}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_2", 900, t0) }), err: domain.ErrInvalidState},
		{name: "start for another amount", given: []domain.Event{placed()}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 1, t0) }), err: domain.ErrInvalidState},
		{name: "start a free order", given: []domain.Event{free}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 0, t0) }), err: domain.ErrNoPaymentNeeded},
		{name: "start expired", given: []domain.Event{placed()}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 900, t0.Add(ttl)) }), err: domain.ErrHoldExpired},
		{name: "start confirmed", given: []domain.Event{placed(), confirmed()}, when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 900, t0) }), err: domain.ErrOrderNotHeld},
		{name: "start missing", when: do(func(o *domain.Order) error { return o.StartPayment("pi_1", 900, t0) }), err: domain.ErrOrderNotFound},
		{name: "start without an intent id", given: []domain.Event{placed()}, when: do(func(o *domain.Order) error { return o.StartPayment("", 900, t0) }), err: errValidation},
		// Success.
		{name: "succeeded", given: []domain.Event{placed(), started}, when: succeed(paid, false, 0), then: []domain.Event{succeeded}, verdict: domain.PaymentConfirm},
		{name: "succeeded after a failure", given: []domain.Event{placed(), started, failed}, when: succeed(paid, false, 0), then: []domain.Event{succeeded}, verdict: domain.PaymentConfirm},
		{name: "succeeded recorded, not confirmed yet", given: []domain.Event{placed(), started, succeeded}, when: succeed(paid, false, 0), verdict: domain.PaymentConfirm},
		{name: "duplicate succeeded is a replay", given: []domain.Event{placed(), started, succeeded, paidBy("ch_1")}, when: succeed(paid, false, 0), verdict: domain.PaymentConfirm},
		{name: "succeeded for an expired hold", given: []domain.Event{placed(), started, expired}, when: succeed(paid, false, 1), verdict: domain.PaymentRefund, reason: domain.RefundHoldExpired},
		{name: "succeeded after the hold ran out", given: []domain.Event{placed(), started}, when: succeed(paid, false, 1), verdict: domain.PaymentRefund, reason: domain.RefundHoldExpired},
		{name: "succeeded recorded, then the hold expired", given: []domain.Event{placed(), started, succeeded, expired}, when: succeed(paid, false, 1), verdict: domain.PaymentRefund, reason: domain.RefundHoldExpired},
		{name: "succeeded for a cancelled order", given: []domain.Event{placed(), started, cancelled}, when: succeed(paid, false, 0), verdict: domain.PaymentRefund, reason: domain.RefundOrderCancelled},
		{name: "succeeded for a cancelled show", given: []domain.Event{placed(), started}, when: succeed(paid, true, 0), verdict: domain.PaymentRefund, reason: domain.RefundShowCancelled},
		{name: "succeeded with the wrong amount", given: []domain.Event{placed(), started}, when: succeed(wrongAmount, false, 0), verdict: domain.PaymentRefund, reason: domain.RefundAmountMismatch},
		{name: "succeeded for an order paid by card", given: []domain.Event{placed(), started, paidBy("ch_card")}, when: succeed(paid, false, 0), verdict: domain.PaymentRefund, reason: domain.RefundAlreadyPaid},
		{name: "a second charge succeeded", given: []domain.Event{placed(), started, succeeded}, when: succeed(other, false, 0), verdict: domain.PaymentRefund, reason: domain.RefundAlreadyPaid},
		{name: "succeeded, refunded already", given: []domain.Event{placed(), started, expired, refunded("ch_1", domain.RefundHoldExpired)}, when: succeed(paid, false, 1), verdict: domain.PaymentDone, reason: domain.RefundHoldExpired},
		{name: "succeeded for another intent", given: []domain.Event{placed(), started}, when: succeed(unknown, false, 0), err: domain.ErrUnknownIntent},
		{name: "succeeded without an intent", given: []domain.Event{placed()}, when: succeed(paid, false, 0), err: domain.ErrUnknownIntent},
		{name: "succeeded for a missing order", when: succeed(paid, false, 0), err: domain.ErrOrderNotFound},
		{name: "succeeded without a charge", given: []domain.Event{placed(), started}, when: succeed(domain.PaymentReport{IntentID: "pi_1", AmountCents: 900}, false, 0), err: errValidation},
		// Failure.
		{name: "failed", given: []domain.Event{placed(), started}, when: do(func(o *domain.Order) error { return o.FailPayment(failedReport, t0) }), then: []domain.Event{failed}},
		{name: "duplicate failed", given: []domain.Event{placed(), started, failed}, when: do(func(o *domain.Order) error { return o.FailPayment(failedReport, t0) })},
		{name: "failed after succeeded is ignored", given: []domain.Event{placed(), started, succeeded}, when: do(func(o *domain.Order) error { return o.FailPayment(failedReport, t0) })},
		{name: "failed after confirmed is ignored", given: []domain.Event{placed(), started, succeeded, paidBy("ch_1")}, when: do(func(o *domain.Order) error { return o.FailPayment(failedReport, t0) })},
		{name: "failed after expiry is ignored", given: []domain.Event{placed(), started, expired}, when: do(func(o *domain.Order) error { return o.FailPayment(failedReport, t0) })},
		{name: "failed for another intent", given: []domain.Event{placed(), started}, when: do(func(o *domain.Order) error { return o.FailPayment(domain.PaymentReport{IntentID: "pi_x"}, t0) }), err: domain.ErrUnknownIntent},
		// Refund of a payment the order cannot take.
		{name: "refund", given: []domain.Event{placed(), started, expired}, when: do(func(o *domain.Order) error { return o.RefundPayment(paid, "re_1", domain.RefundHoldExpired, t0) }), then: []domain.Event{refunded("ch_1", domain.RefundHoldExpired)}},
		{name: "refund twice", given: []domain.Event{placed(), started, expired, refunded("ch_1", domain.RefundHoldExpired)}, when: do(func(o *domain.Order) error { return o.RefundPayment(paid, "re_1", domain.RefundHoldExpired, t0) })},
		{name: "refund the confirming charge", given: []domain.Event{placed(), started, succeeded, paidBy("ch_1")}, when: do(func(o *domain.Order) error { return o.RefundPayment(paid, "re_1", domain.RefundAlreadyPaid, t0) }), err: domain.ErrInvalidState},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := domain.NewOrder()
			o.Load(c.given, int64(len(c.given)))
			verdict, reason, err := c.when(o)
			if !errors.Is(err, c.err) && !(c.err == errValidation && isValidation(err)) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if verdict != c.verdict || reason != c.reason {
				t.Fatalf("verdict = %d %q, want %d %q", verdict, reason, c.verdict, c.reason)
			}
			if got := o.Changes(); !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, c.then)
			}
		})
	}
}

// The failures an order records are bounded.
func TestOrder_FailPaymentBounded(t *testing.T) {
	t.Parallel()
	o := domain.NewOrder()
	o.Load([]domain.Event{placed(), domain.OrderPaymentStarted{OrderID: orderA, ShowID: showID, IntentID: "pi_1", AmountCents: 900}}, 2)
	for i := range domain.MaxPaymentFailures + 5 {
		if err := o.FailPayment(domain.PaymentReport{IntentID: "pi_1", ChargeID: "ch_" + string(rune('a'+i))}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(o.Changes()); got != domain.MaxPaymentFailures {
		t.Fatalf("%d failures recorded, want %d", got, domain.MaxPaymentFailures)
	}
}

// errValidation stands for any *domain.ValidationError in a table.
var errValidation = errors.New("a validation error")

func isValidation(err error) bool {
	var v *domain.ValidationError
	return errors.As(err, &v)
}

func do(f func(o *domain.Order) error) func(o *domain.Order) (domain.PaymentVerdict, string, error) {
	return func(o *domain.Order) (domain.PaymentVerdict, string, error) { return 0, "", f(o) }
}
