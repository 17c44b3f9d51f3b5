package commands_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// A free order is confirmed without a charge: the payment provider is not
// called, and the tickets are issued.
func TestHandler_PayOrderFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	res, err := f.h.CreateShow(ctx, f.org, domain.CreateShow{Title: "Free gig", Venue: "Park", StartsAt: f.clock.Now().Add(48 * time.Hour),
		Sections: []domain.SectionSpec{{Name: "lawn", PriceCents: 0, Capacity: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.PublishShow(ctx, f.org, res.ID); err != nil {
		t.Fatal(err)
	}
	o, err := f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: res.ID, Items: []domain.ItemRequest{{Section: "lawn", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.TotalCents != 0 {
		t.Fatalf("total = %d, want 0", o.TotalCents)
	}
	// Any token will do: there is nothing to charge.
	paid, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_nope")
	if err != nil {
		t.Fatalf("pay a free order: %v", err)
	}
	if got, want := len(paid.Tickets), 2; got != want {
		t.Fatalf("tickets = %d, want %d", got, want)
	}
	if got := f.pay.Charges(); len(got) != 0 {
		t.Fatalf("charges = %+v, want none", got)
	}
	if got := f.orderState(t, o.ID); got.Status != domain.OrderStatusConfirmed || got.PaymentID != "" {
		t.Fatalf("order: status %s, payment %q", got.Status, got.PaymentID)
	}
	s := domain.NewShow()
	s.Load(f.history(t, domain.ShowStream(res.ID)))
	if !s.IsSold(o.ID) {
		t.Fatal("the free order's units are not sold")
	}
}

// One buyer holds and buys at most the show's limit in all; a cancelled
// hold gives its units back; the organizer may change the limit.
func TestHandler_PlaceOrderBuyerLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t) // floor: 10 units, balcony: 4 seats; limit: the default, 10
	place := func(q int) (commands.OrderResult, error) {
		return f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: q}}})
	}
	first := f.hold(t, 6)
	if _, err := f.h.PayOrder(ctx, f.buyer, first.ID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	second := f.hold(t, 3)
	_, err := f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: f.show, Seats: []domain.SeatRef{
		{Section: "balcony", Row: "A", Seat: 1}, {Section: "balcony", Row: "A", Seat: 2}}})
	var limit *domain.BuyerLimitError
	if !errors.As(err, &limit) || limit.Limit != 10 || limit.Have != 9 || limit.Asked != 2 {
		t.Fatalf("past the limit: err = %v, want a BuyerLimitError 10/9/2", err)
	}
	if _, err := f.h.CancelOrder(ctx, f.buyer, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := place(4); err != nil {
		t.Fatalf("after a cancel gave 3 units back: %v", err)
	}
	other := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := f.h.PlaceOrder(ctx, other, commands.PlaceOrder{ShowID: f.show, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 1}}}); err != nil {
		t.Fatalf("another buyer: %v", err)
	}
	twelve := 12
	if _, err := f.h.EditShow(ctx, f.org, f.show, domain.EditShow{MaxUnitsPerBuyer: &twelve}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: f.show, Seats: []domain.SeatRef{
		{Section: "balcony", Row: "A", Seat: 2}, {Section: "balcony", Row: "A", Seat: 3}}}); err != nil {
		t.Fatalf("under the raised limit: %v", err)
	}
	if _, err := f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: f.show, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 4}}}); !errors.Is(err, domain.ErrBuyerLimit) {
		t.Fatalf("past the raised limit: err = %v", err)
	}
	if got := f.showState(t).BuyerUnits(f.buyer.UserID); got != 12 {
		t.Fatalf("buyer units = %d, want 12", got)
	}
}

// Many concurrent holds of one buyer, batched in two handlers (two
// processes' worth of show caches) on one store, never pass the limit.
func TestHandler_PlaceOrderBuyerLimitConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, manyRetries)
	var units, limited atomic.Int64
	f.onTwoHandlers(60, func(i int, h *commands.Handler) {
		req := commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}
		if i%3 == 0 {
			req = commands.PlaceOrder{ShowID: f.show, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 1 + i%4}}}
		}
		_, err := h.PlaceOrder(ctx, f.buyer, req)
		var taken *domain.SeatTakenError
		switch {
		case err == nil:
			units.Add(1)
		case errors.Is(err, domain.ErrBuyerLimit):
			limited.Add(1)
		case errors.Is(err, domain.ErrSoldOut), errors.As(err, &taken):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	})
	if units.Load() != domain.DefaultMaxUnitsPerBuyer || limited.Load() == 0 {
		t.Fatalf("held %d units (%d refused for the limit), want %d", units.Load(), limited.Load(), domain.DefaultMaxUnitsPerBuyer)
	}
	s := f.showState(t)
	n := 0
	for _, h := range s.Holds() {
		if h.BuyerID != f.buyer.UserID {
			t.Fatalf("hold of buyer %s", h.BuyerID)
		}
		n += len(h.Seats)
		for _, it := range h.Items {
			n += it.Quantity
		}
	}
	if n != domain.DefaultMaxUnitsPerBuyer || s.BuyerUnits(f.buyer.UserID) != n {
		t.Fatalf("the show's holds have %d units, its tally %d; want %d", n, s.BuyerUnits(f.buyer.UserID), domain.DefaultMaxUnitsPerBuyer)
	}
}

// A show that has started is no longer on sale.
func TestHandler_PlaceOrderAfterStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // starts 48 hours after the clock
	f.hold(t, 1)
	f.clock.Add(48 * time.Hour)
	_, err := f.h.PlaceOrder(context.Background(), f.buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}})
	if !errors.Is(err, domain.ErrShowStarted) {
		t.Fatalf("err = %v, want ErrShowStarted", err)
	}
}

// liveShows is a LiveShows that counts what its test says.
type liveShows struct {
	n   int
	org uuid.UUID
	at  time.Time
}

func (l *liveShows) LiveShows(_ context.Context, organizer uuid.UUID, now time.Time) (int, error) {
	l.org, l.at = organizer, now
	return l.n, nil
}

func TestHandler_CreateShowQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	counter := &liveShows{n: domain.MaxLiveShowsPerOrganizer - 1}
	f := newFixture(t, func(h *commands.Handler) { h.Shows = counter })
	create := func() error {
		_, err := f.h.CreateShow(ctx, f.org, domain.CreateShow{Title: "Gig", Venue: "Hall", StartsAt: f.clock.Now().Add(time.Hour),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 10}}})
		return err
	}
	if err := create(); err != nil {
		t.Fatalf("under the quota: %v", err)
	}
	if counter.org != f.org.UserID || !counter.at.Equal(f.clock.Now()) {
		t.Fatalf("counted the shows of %s at %s", counter.org, counter.at)
	}
	counter.n++
	if err := create(); !errors.Is(err, domain.ErrShowQuota) {
		t.Fatalf("at the quota: err = %v, want ErrShowQuota", err)
	}
}
