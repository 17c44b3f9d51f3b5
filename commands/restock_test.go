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
	b := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := f.h.JoinWaitlist(ctx, b, f.show, "floor", 2); err != nil {
		t.Fatal(err)
	}
	res, err := f.h.RefundOrder(ctx, f.org, paid.ID, domain.RefundRequest{Reason: "rain", Restock: true,
		Tickets: []uuid.UUID{paid.Tickets[0].ID, paid.Tickets[1].ID}})
	if err != nil || !res.Settled {
		t.Fatalf("refund: %+v, %v", res, err)
	}
	offers := f.offers(t)
	if len(offers) != 1 || offers[0].BuyerID != b.UserID || offers[0].Quantity != 2 {
		t.Fatalf("offers = %+v", offers)
	}
	if o := f.orderState(t, offers[0].OrderID); o.Status != domain.OrderStatusHeld || o.BuyerID != b.UserID {
		t.Fatalf("the offer's order is %q of %s", o.Status, o.BuyerID)
	}
	if got := f.showState(t).Available("floor"); got != 0 {
		t.Errorf("floor available = %d, want 0: the returned units are the offer's", got)
	}
	if _, err := f.h.PayOrder(ctx, b, offers[0].OrderID, "tok_visa"); err != nil {
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
	b := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := f.h.JoinWaitlist(ctx, b, f.show, "floor", 1); err != nil {
		t.Fatal(err)
	}
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
	offers := f.offers(t)
	if len(offers) != 1 || offers[0].BuyerID != b.UserID {
		t.Fatalf("offers = %+v", offers)
	}
	if o := f.orderState(t, offers[0].OrderID); o.Status != domain.OrderStatusHeld {
		t.Fatalf("the offer's order is %q", o.Status)
	}
	f.audit(t)
}
