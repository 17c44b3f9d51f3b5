package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/simpay"
)

// A payment's webhook delivered twice, to two processes, while the hold
// runs out and a third process expires it: exactly one outcome, the
// charge refunded exactly once when the hold lost, never otherwise.
func TestHandler_PaymentWebhookExpireRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outcomes := map[domain.OrderStatus]int{}
	for range 30 {
		var intents *simpay.Intents
		f := newFixture(t, func(h *commands.Handler) {
			intents = simpay.NewIntents(h.Payments.(*simpay.Provider), []byte("whsec_test_test_test_test_test_32"))
			h.Intents = intents
		})
		o := f.hold(t, 1)
		in, err := f.h.StartPayment(ctx, f.buyer, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		w, err := intents.Complete(ctx, in.IntentID, simpay.TokenVisa, 0)
		if err != nil {
			t.Fatal(err)
		}
		p := domain.PaymentReport{IntentID: in.IntentID, ChargeID: w.Event.Data.Object.LatestCharge, AmountCents: w.Event.Data.Object.Amount}
		f.clock.Add(ttl - time.Nanosecond)
		process := func(skew time.Duration) *commands.Handler {
			reg := domain.NewRegistry()
			domain.RegisterEvents(reg)
			return commands.NewHandler(&commands.Handler{Store: f.store, Registry: reg, Payments: f.pay, Intents: intents, HoldTTL: ttl,
				Now: func() time.Time { return f.clock.Now().Add(skew) }})
		}
		other, expirer := process(0), process(time.Millisecond)
		var wg sync.WaitGroup
		var got [2]commands.PaymentOutcome
		var errs [2]error
		wg.Go(func() { got[0], errs[0] = f.h.PaymentSucceeded(ctx, o.ID, p) })
		wg.Go(func() { got[1], errs[1] = other.PaymentSucceeded(ctx, o.ID, p) })
		wg.Go(func() { _, _ = expirer.Settle(ctx, f.show, o.ID) })
		wg.Wait()
		if _, err := expirer.Settle(ctx, f.show, o.ID); err != nil {
			t.Fatal(err)
		}
		order, show := f.orderState(t, o.ID), f.showState(t)
		outcomes[order.Status]++
		want := commands.OutcomeConfirmed
		switch order.Status {
		case domain.OrderStatusConfirmed:
			if !show.IsSold(o.ID) || len(f.pay.Refunds()) != 0 || order.PaymentID != p.ChargeID {
				t.Fatalf("confirmed but sold=%v refunds=%v payment=%s", show.IsSold(o.ID), f.pay.Refunds(), order.PaymentID)
			}
		case domain.OrderStatusExpired:
			want = commands.OutcomeRefunded
			if refunds := f.pay.Refunds(); len(refunds) != 1 || refunds[0].ChargeID != p.ChargeID || !order.Intent.Refunded(p.ChargeID) {
				t.Fatalf("expired but refunds=%v recorded=%v", refunds, order.Intent.Refunded(p.ChargeID))
			}
		default:
			t.Fatalf("order status %s", order.Status)
		}
		for i := range got {
			if errs[i] != nil || got[i].Outcome != want {
				t.Fatalf("delivery %d: %+v, %v; want %s", i, got[i], errs[i], want)
			}
		}
		f.audit(t)
	}
	t.Logf("outcomes: %v", outcomes)
}

func TestHandler_StartPayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("not wired without Intents", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		o := f.hold(t, 1)
		if _, err := f.h.StartPayment(ctx, f.buyer, o.ID); err == nil {
			t.Fatal("StartPayment ran without a provider of intents")
		}
	})
	t.Run("refused for a cancelled show", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(h *commands.Handler) { h.Intents = simpay.NewIntents(h.Payments.(*simpay.Provider)) })
		o := f.hold(t, 1)
		if _, err := f.h.CancelShow(ctx, f.org, f.show); err != nil {
			t.Fatal(err)
		}
		if _, err := f.h.StartPayment(ctx, f.buyer, o.ID); !errors.Is(err, domain.ErrShowCancelled) {
			t.Fatalf("err = %v, want ErrShowCancelled", err)
		}
	})
	t.Run("a report about an unknown order", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, func(h *commands.Handler) { h.Intents = simpay.NewIntents(h.Payments.(*simpay.Provider)) })
		p := domain.PaymentReport{IntentID: "pi_x", ChargeID: "ch_x", AmountCents: 500}
		if _, err := f.h.PaymentSucceeded(ctx, f.show, p); !errors.Is(err, domain.ErrUnknownIntent) {
			t.Fatalf("succeeded: err = %v, want ErrUnknownIntent", err)
		}
		if _, err := f.h.PaymentFailed(ctx, f.show, p); !errors.Is(err, domain.ErrUnknownIntent) {
			t.Fatalf("failed: err = %v, want ErrUnknownIntent", err)
		}
	})
}
