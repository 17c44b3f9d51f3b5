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

// SettleMany settles the holds of a show that ran out together as Settle
// settles each: unpaid ones expire (a tombstone where the order was never
// written), paid ones are sold, cancelled ones released, and holds that have
// not run out are left alone. The show takes one append; with a
// multi-stream store the expiries go in it too.
func TestHandler_SettleMany(t *testing.T) {
	t.Parallel()
	onEachStoreShape(t, func(t *testing.T, f *fixture, h *commands.Handler) {
		ctx := context.Background()
		unpaid := []uuid.UUID{f.hold(t, 1).ID, f.hold(t, 1).ID, f.hold(t, 1).ID}
		paid := f.hold(t, 2).ID
		confirmWithoutSettling(t, f, paid)
		cancelled := f.hold(t, 1).ID
		cancelWithoutSettling(t, f, cancelled)
		// A hold whose order was never written: its process died.
		orphan := uuid.New()
		s := f.showState(t)
		if err := s.Hold(domain.HoldRequest{OrderID: orphan, BuyerID: f.buyer.UserID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}, f.clock.Now(), ttl); err != nil {
			t.Fatal(err)
		}
		data, _ := domain.Encode(s.Changes(), uuid.New, domain.Metadata{})
		if _, err := f.store.Append(ctx, domain.ShowStream(f.show), s.Version(), data); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(ttl)
		fresh := f.hold(t, 1).ID // runs out later
		before := f.showState(t).Version()

		all := append(append([]uuid.UUID{}, unpaid...), paid, cancelled, orphan, fresh)
		n, err := h.SettleMany(ctx, f.show, all)
		if err != nil || n != len(all) {
			t.Fatalf("SettleMany = %d, %v; want %d", n, err, len(all))
		}
		after := f.showState(t)
		if got := after.Version() - before; got != 6 {
			t.Errorf("show grew by %d events, want 6 (4 expiries, 1 sale, 1 release)", got)
		}
		for _, id := range append(unpaid, orphan) {
			if _, held := after.HoldOf(id); held {
				t.Errorf("order %s still held", id)
			}
			if got := f.orderState(t, id).Status; got != domain.OrderStatusExpired {
				t.Errorf("order %s is %q, want expired", id, got)
			}
		}
		if !after.IsSold(paid) {
			t.Error("the paid order is not sold")
		}
		if _, held := after.HoldOf(fresh); !held {
			t.Error("the hold that has not run out was released")
		}
		// 10 units: 2 sold, 1 held.
		if got := after.Available("floor"); got != 7 {
			t.Errorf("available = %d, want 7", got)
		}
		// Settled twice, nothing changes.
		if _, err := h.SettleMany(ctx, f.show, all); err != nil {
			t.Fatal(err)
		}
		if v := f.showState(t).Version(); v != after.Version() {
			t.Errorf("settling again appended: version %d, was %d", v, after.Version())
		}
	})
}

// Payments racing a batch of expiries: each order has exactly one outcome,
// and the show agrees with it.
func TestHandler_SettleManyRacesPayments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outcomes := map[domain.OrderStatus]int{}
	for range 15 {
		f := newFixture(t)
		var orders []uuid.UUID
		for range 4 {
			orders = append(orders, f.hold(t, 1).ID)
		}
		f.clock.Add(ttl - time.Nanosecond)
		expirer := f.handler(f.store, func(h *commands.Handler) { h.Now = func() time.Time { return f.clock.Now().Add(time.Millisecond) } })
		var wg sync.WaitGroup
		payErrs := make([]error, len(orders))
		for i, id := range orders {
			wg.Go(func() { _, payErrs[i] = f.h.PayOrder(ctx, f.buyer, id, "tok_visa") })
		}
		wg.Go(func() { _, _ = expirer.SettleMany(ctx, f.show, orders) })
		wg.Wait()
		if _, err := expirer.SettleMany(ctx, f.show, orders); err != nil {
			t.Fatal(err)
		}
		show := f.showState(t)
		for i, id := range orders {
			order := f.orderState(t, id)
			_, held := show.HoldOf(id)
			outcomes[order.Status]++
			switch order.Status {
			case domain.OrderStatusConfirmed:
				if payErrs[i] != nil || !show.IsSold(id) {
					t.Fatalf("confirmed but payErr=%v sold=%v", payErrs[i], show.IsSold(id))
				}
			case domain.OrderStatusExpired:
				if !errors.Is(payErrs[i], domain.ErrHoldExpired) || show.IsSold(id) || held {
					t.Fatalf("expired but payErr=%v sold=%v held=%v", payErrs[i], show.IsSold(id), held)
				}
			default:
				t.Fatalf("order status %s", order.Status)
			}
		}
		if got, want := len(f.pay.Charges()), len(f.pay.Refunds()); got-want != confirmedIn(f, t, orders) {
			t.Fatalf("%d charges, %d refunds: every expired order's charge must be refunded", got, want)
		}
		f.audit(t)
	}
	t.Logf("outcomes: %v", outcomes)
}

func confirmedIn(f *fixture, t *testing.T, orders []uuid.UUID) int {
	n := 0
	for _, id := range orders {
		if f.orderState(t, id).Status == domain.OrderStatusConfirmed {
			n++
		}
	}
	return n
}

// confirmWithoutSettling confirms an order as a payment does, without
// settling its show: as if the process died between the two.
func confirmWithoutSettling(t *testing.T, f *fixture, id uuid.UUID) {
	t.Helper()
	order := f.orderState(t, id)
	if err := order.Confirm("ch_"+id.String(), f.clock.Now(), uuid.New); err != nil {
		t.Fatal(err)
	}
	data, _ := domain.Encode(order.Changes(), uuid.New, domain.Metadata{})
	if _, err := f.store.Append(context.Background(), domain.OrderStream(id), order.Version(), data); err != nil {
		t.Fatal(err)
	}
}

// cancelWithoutSettling cancels an order without settling its show.
func cancelWithoutSettling(t *testing.T, f *fixture, id uuid.UUID) {
	t.Helper()
	order := f.orderState(t, id)
	if err := order.Cancel(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	data, _ := domain.Encode(order.Changes(), uuid.New, domain.Metadata{})
	if _, err := f.store.Append(context.Background(), domain.OrderStream(id), order.Version(), data); err != nil {
		t.Fatal(err)
	}
}

// Payments of one show in a rush settle the show in batches: every paid
// order is sold, every cancelled one released.
func TestHandler_PaymentsRushSettleTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var orders []uuid.UUID
	for range 10 {
		orders = append(orders, f.hold(t, 1).ID)
	}
	var wg sync.WaitGroup
	for i, id := range orders {
		wg.Go(func() {
			var err error
			if i%3 == 0 {
				_, err = f.h.CancelOrder(ctx, f.buyer, id)
			} else {
				_, err = f.h.PayOrder(ctx, f.buyer, id, "tok_visa")
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s := f.showState(t)
	for i, id := range orders {
		if _, held := s.HoldOf(id); held {
			t.Errorf("order %d still held", i)
		}
		if sold := s.IsSold(id); sold != (i%3 != 0) {
			t.Errorf("order %d: sold = %v", i, sold)
		}
	}
	if got := s.Available("floor"); got != 4 {
		t.Fatalf("available = %d, want 4 (6 sold)", got)
	}
	f.audit(t)
}

// Orders are settled on the show as this process knows it: a settlement
// that raises events reads nothing of the show's stream (their append's
// expected version proves nothing else was written, or conflicts and they
// are decided again). One that raises nothing, as for a hold another
// process placed, is checked against the stream and decided again on the
// show loaded afresh.
func TestHandler_SettlesOnTheShowInMemory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	reads := &showReads{Store: f.store, stream: domain.ShowStream(f.show)}
	h, other := f.handler(reads, manyRetries), f.handler(f.store, manyRetries)
	buyer := func() domain.Actor { return domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer} }
	hold := func(h *commands.Handler, b domain.Actor, n int) commands.OrderResult {
		t.Helper()
		res, err := h.PlaceOrder(ctx, b, commands.PlaceOrder{ShowID: f.show, Items: []domain.ItemRequest{{Section: "floor", Quantity: n}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	cancel := func(h *commands.Handler, b domain.Actor, id uuid.UUID) {
		t.Helper()
		if _, err := h.CancelOrder(ctx, b, id); err != nil {
			t.Fatal(err)
		}
	}
	available := func(want int, when string) {
		t.Helper()
		s, err := f.h.LoadShow(ctx, f.show)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Available("floor"); got != want {
			t.Errorf("%s: floor has %d available, want %d", when, got, want)
		}
	}

	a := buyer()
	mine := hold(h, a, 2) // the show is loaded
	reads.n.Store(0)
	cancel(h, a, mine.ID)
	if n := reads.n.Load(); n != 0 {
		t.Errorf("a cancellation settled on the show in memory read its stream %d times, want 0", n)
	}
	available(10, "after a cancellation")

	b := buyer()
	mine = hold(h, b, 1)
	hold(other, buyer(), 3) // this process's show is now behind
	cancel(h, b, mine.ID)   // released on it, the append conflicts, decided again
	available(7, "after a cancellation on a show another process moved on")

	d := buyer()
	theirs := hold(other, d, 2) // a hold this process's show does not know
	reads.n.Store(0)
	cancel(h, d, theirs.ID) // nothing to release on the show in memory: checked
	if n := reads.n.Load(); n == 0 {
		t.Error("a settlement that raised nothing on the show in memory did not read the show's stream")
	}
	available(7, "after this process cancelled another's hold")

	e := buyer()
	mine = hold(h, e, 1)
	reads.n.Store(0)
	if _, err := h.PayOrder(ctx, e, mine.ID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	if n := reads.n.Load(); n > 1 { // the show's status, checked before the charge
		t.Errorf("a payment read the show's stream %d times, want at most 1", n)
	}
	available(6, "after a payment")
	s, err := f.h.LoadShow(ctx, f.show)
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsSold(mine.ID) {
		t.Error("the paid order is not sold on the show")
	}
}
