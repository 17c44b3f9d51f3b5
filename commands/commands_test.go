package commands_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/infra/simpay"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	h     *commands.Handler
	store *memory.Store
	pay   *simpay.Provider
	clock *clock
	org   domain.Actor
	buyer domain.Actor
	show  uuid.UUID
}

const ttl = time.Minute

// newFixture returns a handler on a fresh store with a published show;
// opts set the handler's fields before NewHandler.
func newFixture(t *testing.T, opts ...func(*commands.Handler)) *fixture {
	t.Helper()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	f := &fixture{store: memory.NewStore(), pay: simpay.New(), clock: &clock{now: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}}
	f.h = f.handler(f.store, opts...)
	f.org = domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}
	f.buyer = domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	ctx := context.Background()
	res, err := f.h.CreateShow(ctx, f.org, domain.CreateShow{Title: "Gig", Venue: "Hall", StartsAt: f.clock.Now().Add(48 * time.Hour),
		Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 10}, {Name: "balcony", PriceCents: 900, Rows: []domain.RowSpec{{Label: "A", Seats: 4}}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.show = res.ID
	if _, err := f.h.PublishShow(ctx, f.org, f.show); err != nil {
		t.Fatal(err)
	}
	return f
}

// handler returns a handler of the fixture's payments and clock on store
// (f.store, or a wrapper of it), as another process would have; opts set
// its fields before NewHandler.
func (f *fixture) handler(store commands.EventStore, opts ...func(*commands.Handler)) *commands.Handler {
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	cfg := &commands.Handler{Store: store, Registry: reg, Payments: f.pay, Now: f.clock.Now, HoldTTL: ttl}
	for _, o := range opts {
		o(cfg)
	}
	return commands.NewHandler(cfg)
}

// manyRetries lets a handler retry a conflicting append up to 1000 times,
// as a test that races many commands on one show needs.
func manyRetries(h *commands.Handler) { h.MaxRetries = 1000 }

// onTwoHandlers runs n calls of run at once and waits for them, the even
// ones with f.h and the odd ones with a second handler on the same store
// (two processes' worth of locks and show caches), which retries as many
// times as manyRetries lets it.
func (f *fixture) onTwoHandlers(n int, run func(i int, h *commands.Handler)) {
	other := f.handler(f.store, manyRetries)
	var wg sync.WaitGroup
	for i := range n {
		h := f.h
		if i%2 == 1 {
			h = other
		}
		wg.Go(func() { run(i, h) })
	}
	wg.Wait()
}

// storeShapes are the two ways a store takes the appends of a batch: all
// in one (memory.Store's AppendMulti) or one stream at a time.
var storeShapes = []struct {
	name  string
	store func(*memory.Store) commands.EventStore
}{
	{"one append", func(s *memory.Store) commands.EventStore { return s }},
	{"one stream at a time", func(s *memory.Store) commands.EventStore { return oneStreamAtATime{s} }},
}

// oneStreamAtATime is a store without AppendMulti, as EventStoreDB is.
type oneStreamAtATime struct{ commands.EventStore }

func (f *fixture) hold(t *testing.T, q int) commands.OrderResult {
	t.Helper()
	res, err := f.h.PlaceOrder(context.Background(), f.buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: q}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// history decodes a stream's events and returns them with its version.
func (f *fixture) history(t *testing.T, stream string) ([]domain.Event, int64) {
	t.Helper()
	recs, err := f.store.ReadStream(context.Background(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	events, err := reg.DecodeAll(recs)
	if err != nil {
		t.Fatal(err)
	}
	return events, int64(len(recs))
}

func (f *fixture) showState(t *testing.T) *domain.Show {
	t.Helper()
	s := domain.NewShow()
	s.Load(f.history(t, domain.ShowStream(f.show)))
	return s
}

func (f *fixture) orderState(t *testing.T, id uuid.UUID) *domain.Order {
	t.Helper()
	o := domain.NewOrder()
	o.Load(f.history(t, domain.OrderStream(id)))
	return o
}

func TestHandler_PayOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("confirms, sells and issues tickets", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		o := f.hold(t, 2)
		res, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_visa")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(res.Tickets), 2; got != want {
			t.Fatalf("tickets = %d, want %d", got, want)
		}
		if res.Tickets[0].Code == res.Tickets[1].Code || len(res.Tickets[0].Code) < 20 {
			t.Fatalf("ticket codes not unique or too short: %+v", res.Tickets)
		}
		s := f.showState(t)
		if !s.IsSold(o.ID) || s.Available("floor") != 8 {
			t.Fatalf("show: sold=%v available=%d", s.IsSold(o.ID), s.Available("floor"))
		}
		if got := f.pay.Charges(); len(got) != 1 || got[0].AmountCents != 1000 {
			t.Fatalf("charges = %+v", got)
		}
	})
	t.Run("declined keeps the hold", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		o := f.hold(t, 1)
		if _, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_chargeDeclined"); !errors.Is(err, commands.ErrPaymentDeclined) {
			t.Fatalf("err = %v, want declined", err)
		}
		if got := f.orderState(t, o.ID).Status; got != domain.OrderStatusHeld {
			t.Fatalf("status = %s, want held", got)
		}
		if _, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_visa"); err != nil {
			t.Fatalf("another card after a decline: %v", err)
		}
	})
	t.Run("after expiry fails and charges nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		o := f.hold(t, 1)
		f.clock.Add(ttl)
		if _, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_visa"); !errors.Is(err, domain.ErrHoldExpired) {
			t.Fatalf("err = %v, want hold expired", err)
		}
		if got := f.pay.Charges(); len(got) != 0 {
			t.Fatalf("charges = %+v, want none", got)
		}
	})
	t.Run("another buyer's order is not found", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		o := f.hold(t, 1)
		other := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		if _, err := f.h.PayOrder(ctx, other, o.ID, "tok_visa"); !errors.Is(err, domain.ErrOrderNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
}

// A payment racing the expirer has exactly one outcome: confirmed and sold,
// or expired, released and refunded.
func TestHandler_PayExpireRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outcomes := map[domain.OrderStatus]int{}
	for range 40 {
		f := newFixture(t)
		o := f.hold(t, 1)
		// The payer's clock is a hair before expiry, the expirer's after it:
		// both may act, and only one may win.
		f.clock.Add(ttl - time.Nanosecond)
		expirer := f.handler(f.store, func(h *commands.Handler) { h.Now = func() time.Time { return f.clock.Now().Add(time.Millisecond) } })
		var wg sync.WaitGroup
		var payErr error
		wg.Go(func() { _, payErr = f.h.PayOrder(ctx, f.buyer, o.ID, "tok_visa") })
		wg.Go(func() { _, _ = expirer.Settle(ctx, f.show, o.ID) })
		wg.Wait()
		if _, err := expirer.Settle(ctx, f.show, o.ID); err != nil {
			t.Fatal(err)
		}
		order, show := f.orderState(t, o.ID), f.showState(t)
		_, stillHeld := show.HoldOf(o.ID)
		outcomes[order.Status]++
		switch order.Status {
		case domain.OrderStatusConfirmed:
			if payErr != nil || !show.IsSold(o.ID) || len(f.pay.Refunds()) != 0 {
				t.Fatalf("confirmed but payErr=%v sold=%v refunds=%v", payErr, show.IsSold(o.ID), f.pay.Refunds())
			}
		case domain.OrderStatusExpired:
			if !errors.Is(payErr, domain.ErrHoldExpired) || show.IsSold(o.ID) || stillHeld || show.Available("floor") != 10 {
				t.Fatalf("expired but payErr=%v sold=%v held=%v", payErr, show.IsSold(o.ID), stillHeld)
			}
			if len(f.pay.Charges()) != len(f.pay.Refunds()) {
				t.Fatalf("charges %v not all refunded %v", f.pay.Charges(), f.pay.Refunds())
			}
		default:
			t.Fatalf("order status %s", order.Status)
		}
		f.audit(t)
	}
	t.Logf("outcomes: %v", outcomes)
}

// A process that dies between the show's hold and the order's creation
// leaves a hold without an order: the expirer releases it when it runs out,
// and the tombstone it writes makes a late placement fail.
func TestHandler_SettleHealsACrashBetweenAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	orderID := uuid.New()
	s := f.showState(t)
	if err := s.Hold(domain.HoldRequest{OrderID: orderID, BuyerID: f.buyer.UserID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 3}}}, f.clock.Now(), ttl); err != nil {
		t.Fatal(err)
	}
	data, _ := domain.Encode(s.Changes(), uuid.New, domain.Metadata{})
	if _, err := f.store.Append(ctx, domain.ShowStream(f.show), s.Version(), data); err != nil {
		t.Fatal(err)
	}
	// Before the hold runs out, settling leaves it alone.
	if _, err := f.h.Settle(ctx, f.show, orderID); err != nil {
		t.Fatal(err)
	}
	if got := f.showState(t).Available("floor"); got != 7 {
		t.Fatalf("available before expiry = %d, want 7", got)
	}
	f.clock.Add(ttl)
	if _, err := f.h.Settle(ctx, f.show, orderID); err != nil {
		t.Fatal(err)
	}
	if got := f.showState(t).Available("floor"); got != 10 {
		t.Fatalf("available after expiry = %d, want 10", got)
	}
	if got := f.orderState(t, orderID).Status; got != domain.OrderStatusExpired {
		t.Fatalf("order = %q, want an expired tombstone", got)
	}
	late := domain.NewOrder()
	_ = late.Place(domain.SeatsHeld{OrderID: orderID, ShowID: f.show})
	data, _ = domain.Encode(late.Changes(), uuid.New, domain.Metadata{})
	if _, err := f.store.Append(ctx, domain.OrderStream(orderID), domain.NoStream, data); !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("late placement: err = %v, want conflict", err)
	}
	f.audit(t)
}

// A paid order whose show append was lost is sold, not released, when the
// expirer reaches it.
func TestHandler_SettleSellsAConfirmedOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	o := f.hold(t, 2)
	order := f.orderState(t, o.ID)
	if err := order.Confirm("ch_x", f.clock.Now(), uuid.New); err != nil {
		t.Fatal(err)
	}
	data, _ := domain.Encode(order.Changes(), uuid.New, domain.Metadata{})
	if _, err := f.store.Append(ctx, domain.OrderStream(o.ID), order.Version(), data); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * ttl)
	if _, err := f.h.Settle(ctx, f.show, o.ID); err != nil {
		t.Fatal(err)
	}
	s := f.showState(t)
	if !s.IsSold(o.ID) || s.Available("floor") != 8 {
		t.Fatalf("sold=%v available=%d, want sold with 8 left", s.IsSold(o.ID), s.Available("floor"))
	}
	f.audit(t)
}

func TestHandler_CancelOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	o := f.hold(t, 4)
	if _, err := f.h.CancelOrder(ctx, f.buyer, o.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.showState(t).Available("floor"); got != 10 {
		t.Fatalf("available = %d, want 10", got)
	}
	if _, err := f.h.PayOrder(ctx, f.buyer, o.ID, "tok_visa"); !errors.Is(err, domain.ErrOrderNotHeld) {
		t.Fatalf("pay cancelled: err = %v", err)
	}
}

// Many buyers on one show never oversell it, even with two handlers (two
// processes' worth of per-stream locks) on one store.
func TestHandler_PlaceOrderConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, manyRetries)
	var ok, soldOut atomic.Int64
	f.onTwoHandlers(60, func(_ int, h *commands.Handler) {
		buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		_, err := h.PlaceOrder(ctx, buyer, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}})
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, domain.ErrSoldOut):
			soldOut.Add(1)
		default:
			t.Errorf("unexpected error: %v", err)
		}
	})
	if ok.Load() != 10 || soldOut.Load() != 50 {
		t.Fatalf("held %d, sold out %d; want 10 and 50", ok.Load(), soldOut.Load())
	}
	if got := f.showState(t).Available("floor"); got != 0 {
		t.Fatalf("available = %d, want 0", got)
	}
	f.audit(t)
}

func TestHandler_ShowAuthorization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	intruder := domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}
	if _, err := f.h.CancelShow(ctx, intruder, f.show); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("other organizer: err = %v, want forbidden", err)
	}
	if _, err := f.h.CreateShow(ctx, f.buyer, domain.CreateShow{}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("buyer creating a show: err = %v, want forbidden", err)
	}
	if _, err := f.h.PlaceOrder(ctx, f.org, commands.PlaceOrder{ShowID: f.show}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("organizer buying: err = %v, want forbidden", err)
	}
}

// onEachStoreShape runs test, in parallel, once for each of storeShapes, on
// a fresh fixture and a handler over that shape of its store.
func onEachStoreShape(t *testing.T, test func(t *testing.T, f *fixture, h *commands.Handler)) {
	t.Helper()
	for _, tc := range storeShapes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			test(t, f, f.handler(tc.store(f.store)))
		})
	}
}
