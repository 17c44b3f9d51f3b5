package commands_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

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
