package projections_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// transfer gives a ticket of an order from one holder to another.
func (w *world) transfer(order, ticket, from, to uuid.UUID) {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.Transfer(ticket, from, to, t0.Add(time.Hour)))
	w.saveOrder(o)
}

func TestOrders_Transfer(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	show := w.publishedShow(uuid.New(), "Door", ga("Floor", 1000, 100))
	buyer, friend, third := uuid.New(), uuid.New(), uuid.New()
	order := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, nil)
	tickets := w.pay(order)
	w.transfer(order, tickets[0].ID, buyer, friend)
	w.transfer(order, tickets[0].ID, friend, third)
	w.checkIn(order, tickets[1].ID, t0.Add(2*time.Hour))
	w.sync()
	mine := func(who uuid.UUID) map[uuid.UUID]projections.BuyerTicket {
		l, err := w.q.TicketsByBuyer(ctx, who, projections.Page{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[uuid.UUID]projections.BuyerTicket{}
		for _, tk := range l.Items {
			out[tk.ID] = tk
		}
		return out
	}
	b, f, th := mine(buyer), mine(friend), mine(third)
	if len(b) != 2 || b[tickets[0].ID].HolderID != third || b[tickets[1].ID].HolderID != buyer {
		t.Errorf("the buyer's tickets: %+v", b)
	}
	if len(f) != 1 || f[tickets[0].ID].HolderID != third || f[tickets[0].ID].Generation != 2 {
		t.Errorf("the first recipient's tickets: %+v", f)
	}
	if len(th) != 1 || th[tickets[0].ID].ShowTitle != "Door" {
		t.Errorf("the holder's tickets: %+v", th)
	}
	l, err := w.q.Attendees(ctx, show, projections.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].HolderID != third || l.Items[0].CheckedIn || l.NextCursor == "" {
		t.Fatalf("attendees page 1: %+v", l)
	}
	l, err = w.q.Attendees(ctx, show, projections.Page{Limit: 1, Cursor: l.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || !l.Items[0].CheckedIn || l.Items[0].TicketID != tickets[1].ID || l.NextCursor != "" {
		t.Fatalf("attendees page 2: %+v", l)
	}
	orders, err := w.q.OrdersByShow(ctx, show, projections.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders.Items) != 1 || orders.Items[0].ID != order || orders.Items[0].ShowTitle != "Door" {
		t.Fatalf("orders: %+v", orders)
	}
}
