package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

const offerWindow = 2 * time.Minute

// showEvents returns the show's events of type T, in log order.
func showEvents[T domain.Event](t *testing.T, f *fixture) []T {
	t.Helper()
	events, _ := f.history(t, domain.ShowStream(f.show))
	var out []T
	for _, e := range events {
		if x, ok := e.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// offers returns the show's waiting-list offers, in log order.
func (f *fixture) offers(t *testing.T) []domain.WaitlistOffered {
	return showEvents[domain.WaitlistOffered](t, f)
}

// waiter returns a new buyer who joined the floor's waiting list for q
// units.
func (f *fixture) waiter(t *testing.T, q int) domain.Actor {
	t.Helper()
	b := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := f.h.JoinWaitlist(context.Background(), b, f.show, commands.WaitlistJoin{Section: "floor", Quantity: q}); err != nil {
		t.Fatal(err)
	}
	return b
}

// soleOffer returns the show's one waiting-list offer, failing the test
// unless it is b's and its order is a hold of b's.
func (f *fixture) soleOffer(t *testing.T, b domain.Actor) domain.WaitlistOffered {
	t.Helper()
	offers := f.offers(t)
	if len(offers) != 1 || offers[0].BuyerID != b.UserID {
		t.Fatalf("offers = %+v, want one to %s", offers, b.UserID)
	}
	if o := f.orderState(t, offers[0].OrderID); o.Status != domain.OrderStatusHeld || o.BuyerID != b.UserID {
		t.Fatalf("the offer's order is %q of %s", o.Status, o.BuyerID)
	}
	return offers[0]
}

// joinOrder returns the buyers of the floor's list in the order the show
// decided their joins.
func (f *fixture) joinOrder(t *testing.T) []uuid.UUID {
	var out []uuid.UUID
	for _, j := range showEvents[domain.WaitlistJoined](t, f) {
		out = append(out, j.BuyerID)
	}
	return out
}

// settleFrom settles orders from both engines at once.
func settleFrom(t *testing.T, f *fixture, engines []*commands.Handler, orders []uuid.UUID) {
	t.Helper()
	var wg sync.WaitGroup
	for _, h := range engines {
		wg.Go(func() {
			if _, err := h.SettleMany(context.Background(), f.show, orders); err != nil {
				t.Errorf("settle: %v", err)
			}
		})
	}
	wg.Wait()
}

// Two engines on one store: M buyers join a sold-out section at once, N
// units are released at once from both engines; exactly N offers go out,
// in join order, the rest keep waiting; the offers that run out pass on;
// a paid offer sells; the auditor finds nothing.
func TestHandler_WaitlistRaceAcrossEngines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	window := func(h *commands.Handler) { h.MaxRetries = 1000; h.WaitlistOfferWindow = offerWindow }
	f := newFixture(t, window)
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	other := commands.NewHandler(&commands.Handler{Store: f.store, Registry: reg, Payments: f.pay, Now: f.clock.Now, HoldTTL: ttl,
		MaxRetries: 1000, WaitlistOfferWindow: offerWindow})
	engines := []*commands.Handler{f.h, other}
	// The floor (10) sold out: 6 units paid, 4 single units held.
	big := f.hold(t, 6)
	if _, err := f.h.PayOrder(ctx, f.buyer, big.ID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	var singles []uuid.UUID
	for range 4 {
		singles = append(singles, f.hold(t, 1).ID)
	}
	const m = 12
	buyers := make([]domain.Actor, m)
	var wg sync.WaitGroup
	for i := range buyers {
		buyers[i] = domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		wg.Go(func() {
			if _, err := engines[i%2].JoinWaitlist(ctx, buyers[i], f.show, commands.WaitlistJoin{Section: "floor", Quantity: 1}); err != nil {
				t.Errorf("join: %v", err)
			}
		})
	}
	wg.Wait()
	order := f.joinOrder(t)
	if len(order) != m {
		t.Fatalf("%d joins, want %d", len(order), m)
	}
	// The holds run out: both engines settle them at once.
	f.clock.Add(ttl + time.Second)
	settleFrom(t, f, engines, singles)
	offers := f.offers(t)
	assertOffers(t, offers, order[:4])
	s := f.showState(t)
	if got := len(s.Waitlist("floor").Entries); got != m-4 {
		t.Fatalf("%d still waiting, want %d", got, m-4)
	}
	if s.Available("floor") != 0 {
		t.Fatalf("available = %d: released units went on sale", s.Available("floor"))
	}
	// The first offer is paid; the three others run out and pass on.
	first := buyers[indexOf(buyers, offers[0].BuyerID)]
	if _, err := f.h.PayOrder(ctx, first, offers[0].OrderID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(offerWindow + time.Second)
	settleFrom(t, f, engines, []uuid.UUID{offers[1].OrderID, offers[2].OrderID, offers[3].OrderID})
	assertOffers(t, f.offers(t), order[:7])
	if _, err := f.h.PlaceOrder(ctx, f.buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}); !errors.Is(err, domain.ErrSoldOut) {
		t.Fatalf("a public hold during the offers: %v, want ErrSoldOut", err)
	}
	f.audit(t)
}

func assertOffers(t *testing.T, offers []domain.WaitlistOffered, want []uuid.UUID) {
	t.Helper()
	if len(offers) != len(want) {
		t.Fatalf("%d offers, want %d", len(offers), len(want))
	}
	for i, o := range offers {
		if o.BuyerID != want[i] {
			t.Fatalf("offer %d went to %s, want %s (join order)", i, o.BuyerID, want[i])
		}
	}
}

func indexOf(actors []domain.Actor, id uuid.UUID) int {
	for i, a := range actors {
		if a.UserID == id {
			return i
		}
	}
	return -1
}

func TestHandler_JoinWaitlist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	b := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := f.h.JoinWaitlist(ctx, b, f.show, commands.WaitlistJoin{Section: "floor", Quantity: 1}); !errors.Is(err, domain.ErrNotSoldOut) {
		t.Fatalf("join with units left: %v, want ErrNotSoldOut", err)
	}
	if _, err := f.h.JoinWaitlist(ctx, f.org, f.show, commands.WaitlistJoin{Section: "floor", Quantity: 1}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("an organizer joins: %v, want ErrForbidden", err)
	}
	draft, err := f.h.CreateShow(ctx, f.org, domain.CreateShow{Title: "Draft", Venue: "Hall", StartsAt: f.clock.Now().Add(time.Hour),
		Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.Waitlist(ctx, b, draft.ID); !errors.Is(err, domain.ErrShowNotFound) {
		t.Fatalf("a buyer's view of a draft: %v, want ErrShowNotFound", err)
	}
	held := f.hold(t, 10)
	if _, err := f.h.JoinWaitlist(ctx, b, f.show, commands.WaitlistJoin{Section: "floor", Quantity: 2}); err != nil {
		t.Fatal(err)
	}
	v, err := f.h.Waitlist(ctx, b, f.show)
	if err != nil || len(v.Places) != 1 || v.Places[0].Place != 1 || v.Sections != nil {
		t.Fatalf("buyer's view = %+v, %v", v, err)
	}
	if v, err = f.h.Waitlist(ctx, f.org, f.show); err != nil || len(v.Sections) != 1 || v.Sections[0].Waiting != 1 {
		t.Fatalf("organizer's view = %+v, %v", v, err)
	}
	// Cancelling the hold offers 2 units; the offer is a hold the buyer pays.
	if _, err := f.h.CancelOrder(ctx, f.buyer, held.ID); err != nil {
		t.Fatal(err)
	}
	offer := f.soleOffer(t, b)
	if offer.Quantity != 2 {
		t.Fatalf("offer = %+v, want 2 units", offer)
	}
	if _, err := f.h.PayOrder(ctx, b, offer.OrderID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.LeaveWaitlist(ctx, b, f.show, "floor"); !errors.Is(err, domain.ErrNotWaiting) {
		t.Fatalf("leave after the offer: %v, want ErrNotWaiting", err)
	}
	f.audit(t)
}
