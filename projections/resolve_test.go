package projections

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// runOf returns r with events added, the i-th at commit position i+1.
func runOf[R batchRun](t *testing.T, r R, events ...domain.Event) R {
	t.Helper()
	for i, e := range events {
		rec := domain.RecordedEvent{Position: domain.Position{Commit: uint64(i + 1)}}
		if what, err := r.add(rec, e); err != nil || what != runJoined {
			t.Fatalf("add(%T) = %v, %v; want runJoined", e, what, err)
		}
	}
	return r
}

func TestOrdersRun_Resolve(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	order, show, buyer, ticket, other := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	placed := domain.OrderPlaced{OrderID: order, ShowID: show, BuyerID: buyer, TotalCents: 500, PlacedAt: at, ExpiresAt: at.Add(time.Hour)}
	confirmed := domain.OrderConfirmed{OrderID: order, ShowID: show, BuyerID: buyer, PaymentID: "pay-1", ConfirmedAt: at.Add(time.Minute),
		Tickets: []domain.Ticket{{ID: ticket, Section: "A", Row: "1", Seat: 2, Code: "c1"}, {ID: other, Section: "A", Code: "c2"}}}
	checkedIn := domain.TicketCheckedIn{OrderID: order, ShowID: show, TicketID: ticket, At: at.Add(2 * time.Minute)}

	t.Run("first placing counts", func(t *testing.T) {
		t.Parallel()
		again := placed
		again.TotalCents = 900
		w := runOf(t, &ordersRun{}, placed, again).resolve(keyed[uuid.UUID, runOrder]{}, keyed[uuid.UUID, runTicket]{})
		if w.placed.len() != 1 || w.updated.len() != 0 || w.inserted.len() != 0 || w.checked.len() != 0 {
			t.Fatalf("placed %d, updated %d, inserted %d, checked %d; want 1, 0, 0, 0",
				w.placed.len(), w.updated.len(), w.inserted.len(), w.checked.len())
		}
		got := *w.placed.get(order)
		if got.total != 500 || got.seq != 1 || got.status != domain.OrderStatusHeld || got.items != "[]" {
			t.Errorf("placed %+v; want the first placing, held", got)
		}
	})
	t.Run("placed, confirmed and checked in within the run", func(t *testing.T) {
		t.Parallel()
		r := runOf(t, &ordersRun{}, placed, confirmed, checkedIn)
		w := r.resolve(keyed[uuid.UUID, runOrder]{}, keyed[uuid.UUID, runTicket]{}) // nothing stored before
		o := *w.placed.get(order)
		if o.status != domain.OrderStatusConfirmed || !o.paid || o.payment != "pay-1" || !o.updated.Equal(checkedIn.At) {
			t.Errorf("order %+v; want confirmed, paid by pay-1, updated at the check-in", o)
		}
		if w.updated.len() != 0 || w.checked.len() != 0 {
			t.Errorf("updated %d, checked %d; want none: nothing was stored", w.updated.len(), w.checked.len())
		}
		if got, want := w.inserted.keys, []uuid.UUID{other, ticket}; !slices.Equal(got, want) {
			t.Fatalf("inserted %v; want %v", got, want)
		}
		if got := *w.inserted.get(ticket); !got.checked || !got.checkedAt.Equal(checkedIn.At) || got.buyer != buyer || got.seq != 2 || got.idx != 0 {
			t.Errorf("ticket checked in %+v; want inserted checked in at %v", got, checkedIn.At)
		}
		if got := *w.inserted.get(other); got.checked || got.idx != 1 {
			t.Errorf("other ticket %+v; want inserted, not checked in", got)
		}
	})
	t.Run("stored order and ticket", func(t *testing.T) {
		t.Parallel()
		var known keyed[uuid.UUID, runOrder]
		*known.get(order) = runOrder{placedOrder: placedOrder{buyer: buyer}, stored: true}
		var tickets keyed[uuid.UUID, runTicket]
		*tickets.get(ticket) = runTicket{stored: true}
		w := runOf(t, &ordersRun{}, checkedIn, domain.OrderCancelled{OrderID: order, ShowID: show, At: at.Add(time.Hour)}).resolve(known, tickets)
		if w.placed.len() != 0 || w.inserted.len() != 0 {
			t.Errorf("placed %d, inserted %d; want none", w.placed.len(), w.inserted.len())
		}
		if got := *w.updated.get(order); got.status != domain.OrderStatusCancelled || got.paid || !got.updated.Equal(at.Add(time.Hour)) {
			t.Errorf("updated %+v; want cancelled, unpaid, at the cancellation", got)
		}
		if got := w.checked.keys; len(got) != 1 || got[0] != ticket || !w.checked.vals[0].Equal(checkedIn.At) {
			t.Errorf("checked %v at %v; want %v at %v", got, w.checked.vals, ticket, checkedIn.At)
		}
	})
	t.Run("never placed", func(t *testing.T) {
		t.Parallel()
		w := runOf(t, &ordersRun{}, confirmed, checkedIn).resolve(keyed[uuid.UUID, runOrder]{}, keyed[uuid.UUID, runTicket]{})
		if w.placed.len()+w.updated.len()+w.inserted.len()+w.checked.len() != 0 {
			t.Errorf("placed %d, updated %d, inserted %d, checked %d; want nothing written",
				w.placed.len(), w.updated.len(), w.inserted.len(), w.checked.len())
		}
	})
}

func TestAnalyticsRun_Resolve(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 20, 30, 0, 0, time.UTC)
	order, show := uuid.New(), uuid.New()
	placed := domain.OrderPlaced{OrderID: order, ShowID: show, TotalCents: 500, PlacedAt: at, ExpiresAt: at.Add(time.Hour),
		Items: []domain.HeldItem{{Section: "A", Quantity: 3}}}
	confirmed := domain.OrderConfirmed{OrderID: order, ShowID: show, TotalCents: 500, ConfirmedAt: at.Add(time.Hour)}
	expired := domain.OrderExpired{OrderID: order, ShowID: show, At: at.Add(2 * time.Hour)}

	t.Run("first outcome while held counts", func(t *testing.T) {
		t.Parallel()
		w, err := runOf(t, &analyticsRun{}, placed, confirmed, expired).resolve(keyed[uuid.UUID, analyticsOrder]{})
		if err != nil {
			t.Fatal(err)
		}
		o := *w.placed.get(order)
		if o.status != domain.OrderStatusConfirmed || !o.paid || !o.paidAt.Equal(confirmed.ConfirmedAt) || o.units != 3 {
			t.Errorf("order %+v; want 3 units, confirmed and paid at %v", o, confirmed.ConfirmedAt)
		}
		want := []hourKey{{show, at.Add(30 * time.Minute)}}
		if got := w.hours.keys; !slices.Equal(got, want) {
			t.Fatalf("hours %v; want %v", got, want)
		}
		if got, want := w.hours.vals[0], (hourDelta{confirmed: 1, unitsSold: 3, revenue: 500}); got != want {
			t.Errorf("hour %+v; want %+v", got, want)
		}
	})
	t.Run("stored and no longer held", func(t *testing.T) {
		t.Parallel()
		var known keyed[uuid.UUID, analyticsOrder]
		*known.get(order) = analyticsOrder{status: domain.OrderStatusCancelled, units: 3, stored: true}
		w, err := runOf(t, &analyticsRun{}, confirmed, expired).resolve(known)
		if err != nil {
			t.Fatal(err)
		}
		if w.placed.len()+w.updated.len()+w.hours.len() != 0 {
			t.Errorf("placed %d, updated %d, hours %d; want nothing written", w.placed.len(), w.updated.len(), w.hours.len())
		}
	})
	t.Run("revenue past a bigint", func(t *testing.T) {
		t.Parallel()
		other := uuid.New()
		var known keyed[uuid.UUID, analyticsOrder]
		*known.get(order) = analyticsOrder{status: domain.OrderStatusHeld, stored: true}
		*known.get(other) = analyticsOrder{status: domain.OrderStatusHeld, stored: true}
		big := confirmed
		big.TotalCents = math.MaxInt64
		again := big
		again.OrderID = other
		if _, err := runOf(t, &analyticsRun{}, big, again).resolve(known); !errors.Is(err, ErrPoison) {
			t.Errorf("resolve = %v; want ErrPoison", err)
		}
	})
}

func TestSalesRun_Resolve(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 20, 30, 0, 0, time.UTC)
	order, stored, show := uuid.New(), uuid.New(), uuid.New()
	r := runOf(t, &salesRun{},
		domain.SeatsHeld{ShowID: show, Items: []domain.HeldItem{{Section: "A", Quantity: 2}}},
		domain.OrderPlaced{OrderID: order, ShowID: show, PlacedAt: at},
		domain.OrderConfirmed{OrderID: stored, ShowID: show, ConfirmedAt: at},
		domain.OrderExpired{OrderID: stored, ShowID: show, At: at},       // counted already
		domain.OrderCancelled{OrderID: uuid.New(), ShowID: show, At: at}) // never placed
	var known keyed[uuid.UUID, salesOrder]
	*known.get(stored) = salesOrder{show: show, status: domain.OrderStatusHeld, stored: true}
	w := r.resolve(known)
	if got, want := *w.figures.get(show), (salesDelta{held: 2, confirmed: 1}); got != want {
		t.Errorf("figures %+v; want %+v", got, want)
	}
	if got, want := *r.figures.get(show), (salesDelta{held: 2}); got != want {
		t.Errorf("the run's figures %+v after resolve; want %+v, as before", got, want)
	}
	if got := w.placed.keys; !slices.Equal(got, []uuid.UUID{order}) || w.placed.vals[0].status != domain.OrderStatusHeld {
		t.Errorf("placed %v %+v; want %v, held", got, w.placed.vals, order)
	}
	if got := w.updated.keys; !slices.Equal(got, []uuid.UUID{stored}) || w.updated.vals[0].status != domain.OrderStatusConfirmed {
		t.Errorf("updated %v %+v; want %v, confirmed", got, w.updated.vals, stored)
	}
}
