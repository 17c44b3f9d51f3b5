package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// engine returns another handler on f's store and provider: a second
// engine process.
func (f *fixture) engine(payments commands.PaymentProvider) *commands.Handler {
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	return commands.NewHandler(&commands.Handler{Store: f.store, Registry: reg, Payments: payments, Now: f.clock.Now, HoldTTL: ttl})
}

// paidOrder holds q floor units and pays for them.
func (f *fixture) paidOrder(t *testing.T, q int) commands.PayResult {
	t.Helper()
	o := f.hold(t, q)
	res, err := f.h.PayOrder(context.Background(), f.buyer, o.ID, "tok_visa")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHandler_RefundOrderConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	o := f.paidOrder(t, 2)
	engines := []*commands.Handler{f.h, f.engine(f.pay)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, refused int
	for i := range 16 {
		wg.Go(func() {
			_, err := engines[i%2].RefundOrder(ctx, f.org, o.ID, domain.RefundRequest{Reason: "rain", Restock: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, domain.ErrAlreadyRefunded):
				refused++
			default:
				t.Errorf("refund: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || refused != 15 {
		t.Errorf("%d refunds, %d refused; want 1 and 15", ok, refused)
	}
	if r := f.pay.Refunds(); len(r) != 1 || r[0].AmountCents != 1000 {
		t.Errorf("ledger: %+v, want one refund of 1000", r)
	}
	if got := f.showState(t).Available("floor"); got != 10 {
		t.Errorf("floor available = %d, want 10: the units are back once", got)
	}
	if st := f.orderState(t, o.ID).Status; st != domain.OrderStatusRefunded {
		t.Errorf("status = %s, want refunded", st)
	}
	if _, err := f.h.RefundOrder(ctx, domain.Actor{UserID: f.buyer.UserID, Role: domain.RoleBuyer}, o.ID, domain.RefundRequest{Reason: "x"}); !errors.Is(err, commands.ErrForbidden) {
		t.Errorf("a buyer's refund: %v, want ErrForbidden", err)
	}
}

// deadProvider refunds nothing: the process died before the money moved.
type deadProvider struct{ commands.PaymentProvider }

func (deadProvider) Refund(context.Context, string, string, int64) (string, error) {
	return "", errors.New("the process died")
}

func TestHandler_SettleRefundAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	o := f.paidOrder(t, 3)
	dead := f.engine(deadProvider{f.pay})
	res, err := dead.RefundOrder(ctx, f.org, o.ID, domain.RefundRequest{Tickets: []uuid.UUID{o.Tickets[0].ID}, Reason: "broken", Restock: true})
	if err != nil || res.Settled || res.AmountCents != 500 {
		t.Fatalf("refund through a dying process: %+v, %v; want decided, not settled", res, err)
	}
	if len(f.pay.Refunds()) != 0 || f.showState(t).Available("floor") != 7 {
		t.Fatalf("money or units moved without settling: %+v", f.pay.Refunds())
	}
	for range 3 { // the refund process, again and again
		if err := f.h.SettleRefund(ctx, o.ID, res.RefundID); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.pay.Refunds(); len(r) != 1 || r[0].Key != res.RefundID || r[0].AmountCents != 500 {
		t.Errorf("ledger: %+v, want one refund of 500 under %s", r, res.RefundID)
	}
	if got := f.showState(t).Available("floor"); got != 8 {
		t.Errorf("floor available = %d, want 8", got)
	}
	if err := f.h.SettleRefund(ctx, o.ID, "refund-unknown"); !errors.Is(err, domain.ErrInvalidState) {
		t.Errorf("settling an unknown refund: %v", err)
	}
}

func TestHandler_RefundCancelledOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	o := f.paidOrder(t, 2)
	if err := f.h.RefundCancelledOrder(ctx, o.ID); !errors.Is(err, domain.ErrInvalidState) {
		t.Fatalf("refund of an order of a show on sale: %v, want ErrInvalidState", err)
	}
	held := f.hold(t, 1)
	if _, err := f.h.CancelShow(ctx, f.org, f.show); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.h.RefundCancelledOrder(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.h.ReleaseCancelledHold(ctx, held.ID); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.pay.Refunds(); len(r) != 1 || r[0].AmountCents != 1000 {
		t.Errorf("ledger: %+v, want one refund of 1000", r)
	}
	if st := f.orderState(t, held.ID).Status; st != domain.OrderStatusCancelled {
		t.Errorf("the open hold's order is %s, want cancelled", st)
	}
	if _, ok := f.showState(t).HoldOf(held.ID); ok {
		t.Error("the cancelled show keeps the open hold")
	}
}

// A restocking refund of a sold-out floor offers the units to the waiting
// list in the show's append, and opens the offer's order (issue 14); the
// refund's position covers the offer's.
func TestHandler_RestockOffersTheWaitlist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	paid := f.paidOrder(t, 10)
	b := f.waiter(t, 2)
	res, err := f.h.RefundOrder(ctx, f.org, paid.ID, domain.RefundRequest{Reason: "rain", Restock: true,
		Tickets: []uuid.UUID{paid.Tickets[0].ID, paid.Tickets[1].ID}})
	if err != nil || !res.Settled {
		t.Fatalf("refund: %+v, %v", res, err)
	}
	offer := f.soleOffer(t, b)
	if offer.Quantity != 2 {
		t.Fatalf("offer = %+v, want 2 units", offer)
	}
	if got := f.showState(t).Available("floor"); got != 0 {
		t.Errorf("floor available = %d, want 0: the returned units are the offer's", got)
	}
	if _, err := f.h.PayOrder(ctx, b, offer.OrderID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	// A second refund of a refunded ticket, on another engine, is refused
	// and offers nothing.
	if _, err := f.engine(f.pay).RefundOrder(ctx, f.org, paid.ID, domain.RefundRequest{Reason: "again", Restock: true,
		Tickets: []uuid.UUID{paid.Tickets[0].ID}}); err == nil {
		t.Fatal("a second refund of the same ticket succeeded")
	}
	if n := len(f.offers(t)); n != 1 {
		t.Errorf("%d offers, want 1", n)
	}
	f.audit(t)
}

// A restock settled by the refund process after a crash offers the units
// as the first writer would have, once however often it is re-driven.
func TestHandler_RestockSettledByTheProcessOffers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	paid := f.paidOrder(t, 10)
	b := f.waiter(t, 1)
	dead := f.engine(deadProvider{f.pay})
	res, err := dead.RefundOrder(ctx, f.org, paid.ID, domain.RefundRequest{Tickets: []uuid.UUID{paid.Tickets[0].ID}, Reason: "broken", Restock: true})
	if err != nil || res.Settled {
		t.Fatalf("refund through a dying process: %+v, %v; want decided, not settled", res, err)
	}
	if n := len(f.offers(t)); n != 0 {
		t.Fatalf("%d offers before the units went back", n)
	}
	for range 3 {
		if err := f.h.SettleRefund(ctx, paid.ID, res.RefundID); err != nil {
			t.Fatal(err)
		}
	}
	f.soleOffer(t, b)
	f.audit(t)
}
