package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

func TestInventoryAt(t *testing.T) {
	t.Parallel()
	holdA, holdB := heldGA(orderA, 2, 500), heldSeat(orderB, 2)
	order := func(events ...domain.Event) *domain.Order {
		o := domain.NewOrder()
		o.Load(events, int64(len(events)))
		return o
	}
	placed := func(h domain.SeatsHeld) domain.Event {
		o := domain.NewOrder()
		if err := o.Place(h); err != nil {
			t.Fatal(err)
		}
		return o.Changes()[0]
	}
	paid := func(id uuid.UUID) domain.Event {
		return domain.OrderConfirmed{OrderID: id, ShowID: showID, BuyerID: buyerID, ConfirmedAt: t0.Add(time.Minute)}
	}
	type section struct{ available, held, sold int }
	type seat struct{ state, pending string }
	cases := []struct {
		name    string
		show    []domain.Event
		orders  map[uuid.UUID]*domain.Order
		at      time.Time
		floor   section
		balcony section
		seat2   seat // balcony A/2
		holds   []string
	}{
		{"nothing held", []domain.Event{created(), published()}, nil, t0,
			section{3, 0, 0}, section{2, 0, 0}, seat{"available", ""}, nil},
		{"held, order placed", []domain.Event{created(), published(), holdA, holdB},
			map[uuid.UUID]*domain.Order{orderA: order(placed(holdA)), orderB: order(placed(holdB))}, t0.Add(time.Minute),
			section{1, 2, 0}, section{1, 1, 0}, seat{"held", ""}, []string{"held", "held"}},
		{"held, order not written yet", []domain.Event{created(), published(), holdA, holdB}, nil, t0.Add(time.Minute),
			section{1, 2, 0}, section{1, 1, 0}, seat{"held", ""}, []string{"held", "held"}},
		{"paid, the show has yet to sell", []domain.Event{created(), published(), holdA, holdB},
			map[uuid.UUID]*domain.Order{orderA: order(placed(holdA), paid(orderA)), orderB: order(placed(holdB), paid(orderB))}, t0.Add(2 * time.Minute),
			section{1, 0, 2}, section{1, 0, 1}, seat{"sold", "sale"}, []string{"sold", "sold"}},
		{"sold by the show", []domain.Event{created(), published(), holdA, holdB,
			domain.SeatsSold{ShowID: showID, OrderID: orderB, Seats: holdB.Seats, TotalCents: 900, At: t0}},
			map[uuid.UUID]*domain.Order{orderA: order(placed(holdA))}, t0.Add(2 * time.Minute),
			section{1, 2, 0}, section{1, 0, 1}, seat{"sold", ""}, []string{"held"}},
		{"cancelled and expired, the show has yet to release", []domain.Event{created(), published(), holdA, holdB},
			map[uuid.UUID]*domain.Order{
				orderA: order(placed(holdA), domain.OrderCancelled{OrderID: orderA, ShowID: showID, At: t0}),
				orderB: order(domain.OrderExpired{OrderID: orderB, ShowID: showID, At: t0}), // a tombstone
			}, t0.Add(2 * time.Minute),
			section{3, 0, 0}, section{2, 0, 0}, seat{"available", "release"}, []string{"available", "available"}},
		{"ran out unpaid", []domain.Event{created(), published(), holdA, holdB},
			map[uuid.UUID]*domain.Order{orderA: order(placed(holdA))}, t0.Add(ttl),
			section{3, 0, 0}, section{2, 0, 0}, seat{"available", "release"}, []string{"available", "available"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewShow()
			s.Load(c.show, int64(len(c.show)))
			inv := domain.InventoryAt(s, c.orders, c.at)
			if inv.ShowID != showID || !inv.At.Equal(c.at) || inv.Status != domain.ShowStatusOnSale || len(inv.Sections) != 2 {
				t.Fatalf("inventory = %+v", inv)
			}
			floor, balcony := inv.Sections[0], inv.Sections[1]
			if got := (section{floor.Available, floor.Held, floor.Sold}); floor.Name != "floor" || floor.Seated || got != c.floor {
				t.Errorf("floor = %+v, want %+v", got, c.floor)
			}
			if got := (section{balcony.Available, balcony.Held, balcony.Sold}); !balcony.Seated || got != c.balcony {
				t.Errorf("balcony = %+v, want %+v", got, c.balcony)
			}
			if len(balcony.Seats) != 2 || balcony.Seats[0].Seat != 1 || balcony.Seats[0].State != "available" || balcony.Seats[0].OrderID != nil {
				t.Fatalf("balcony seats = %+v", balcony.Seats)
			}
			if got := (seat{balcony.Seats[1].State, balcony.Seats[1].Pending}); got != c.seat2 {
				t.Errorf("seat A/2 = %+v, want %+v", got, c.seat2)
			}
			var holds []string
			for _, h := range inv.Holds {
				holds = append(holds, h.State)
				if h.HoldTTLSeconds != 900 || h.Units == 0 || h.HeldAt.IsZero() {
					t.Errorf("hold = %+v", h)
				}
			}
			if !slices.Equal(holds, c.holds) {
				t.Errorf("holds %v, want %v", holds, c.holds)
			}
		})
	}
}
