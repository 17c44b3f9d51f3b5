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
