package projections_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

func section(t *testing.T, s projections.ShowView, name string) projections.SectionView {
	t.Helper()
	for _, sec := range s.Sections {
		if sec.Name == name {
			return sec
		}
	}
	t.Fatalf("show %s has no section %q", s.ID, name)
	return projections.SectionView{}
}

// seatStates returns the state of every seat of a show as "section/row/seat",
// read through the seat map and pages of a few seats.
func seatStates(t *testing.T, w *world, show uuid.UUID) map[string]string {
	t.Helper()
	m, err := w.q.SeatMap(ctx, show)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, sec := range m.Sections {
		for _, r := range seatRows(t, w, show, sec.Name, 3) {
			for _, s := range r.Seats {
				out[domain.SeatRef{Section: sec.Name, Row: r.Label, Seat: s.Seat}.String()] = s.State
			}
		}
	}
	return out
}

// seatRows reads every page of the seats of a section with limit and joins
// the rows that go on from one page to the next.
func seatRows(t *testing.T, w *world, show uuid.UUID, section string, limit int) []projections.SeatMapRow {
	t.Helper()
	var rows []projections.SeatMapRow
	cursor := ""
	for range 1000 {
		p, err := w.q.Seats(ctx, show, section, projections.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, r := range p.Rows {
			n += len(r.Seats)
			if i == 0 && len(rows) > 0 && rows[len(rows)-1].Label == r.Label {
				rows[len(rows)-1].Seats = append(rows[len(rows)-1].Seats, r.Seats...)
				continue
			}
			rows = append(rows, r)
		}
		max := limit
		if max == 0 {
			max = projections.DefaultSeatLimit
		}
		if n > max || (p.NextCursor != "" && n != max) {
			t.Fatalf("page of %d seats with cursor %q, limit %d", n, p.NextCursor, max)
		}
		if p.NextCursor == "" {
			return rows
		}
		cursor = p.NextCursor
	}
	t.Fatal("too many pages")
	return nil
}

func TestShows_Apply(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, buyer := uuid.New(), uuid.New()

	t.Run("created shows are drafts with their sections and every seat", func(t *testing.T) {
		id := w.createShow(org, "Draft", ga("Floor", 2500, 100), seated("Balcony", 4000, 2, 3))
		w.sync()
		got, err := w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := projections.ShowView{
			ID: id, OrganizerID: org, Title: "Draft", Venue: "Paradiso", StartsAt: t0.Add(30 * 24 * time.Hour),
			Status: "draft", CreatedAt: t0, UpdatedAt: t0,
			Sections: []projections.SectionView{
				{Name: "Floor", Kind: "general_admission", PriceCents: 2500, Capacity: 100, Available: 100},
				{Name: "Balcony", Kind: "seated", PriceCents: 4000, Capacity: 5, Available: 5},
			},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		m, err := w.q.SeatMap(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantMap := projections.SeatMap{ShowID: id, Sections: []projections.SeatMapSection{
			{Name: "Balcony", Rows: 2, Capacity: 5, Available: 5},
		}}
		if !reflect.DeepEqual(m, wantMap) {
			t.Errorf("seat map: got %+v\nwant %+v", m, wantMap)
		}
		wantRows := []projections.SeatMapRow{
			{Label: "A", Seats: []projections.SeatMapSeat{{1, "available"}, {2, "available"}}},
			{Label: "B", Seats: []projections.SeatMapSeat{{1, "available"}, {2, "available"}, {3, "available"}}},
		}
		for _, limit := range []int{0, 1, 2, 3, 5} {
			if got := seatRows(t, w, id, "Balcony", limit); !reflect.DeepEqual(got, wantRows) {
				t.Errorf("seats, limit %d: got %+v\nwant %+v", limit, got, wantRows)
			}
		}
		p, err := w.q.Seats(ctx, id, "Balcony", projections.Page{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		wantPage := projections.SeatPage{ShowID: id, Section: "Balcony", Rows: wantRows[:1], NextCursor: p.NextCursor}
		if !reflect.DeepEqual(p, wantPage) || p.NextCursor == "" {
			t.Errorf("first page of 2: got %+v\nwant %+v and a cursor", p, wantPage)
		}
	})

	t.Run("details, publication and cancellation", func(t *testing.T) {
		id := w.createShow(org, "Old title", ga("Floor", 1000, 10))
		title, venue, starts := "New title", "Melkweg", t0.Add(60*24*time.Hour)
		w.edit(id, domain.EditShow{Title: &title, Venue: &venue, StartsAt: &starts})
		w.publish(id)
		w.sync()
		got, err := w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != title || got.Venue != venue || !got.StartsAt.Equal(starts) || got.Status != "on_sale" {
			t.Errorf("got %q %q %v %q, want %q %q %v on_sale", got.Title, got.Venue, got.StartsAt, got.Status, title, venue, starts)
		}
		if want := t0.Add(time.Minute); !got.UpdatedAt.Equal(want) {
			t.Errorf("updated_at: got %v, want %v", got.UpdatedAt, want)
		}
		w.cancelShow(id)
		w.sync()
		got, err = w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "cancelled" {
			t.Errorf("status: got %q, want cancelled", got.Status)
		}
	})

	t.Run("general admission counters", func(t *testing.T) {
		id := w.publishedShow(org, "GA", ga("Floor", 1000, 10))
		sold := w.hold(id, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 3}}, nil)
		released := w.hold(id, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, nil)
		w.hold(id, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 4}}, nil)
		w.pay(sold)
		w.cancel(released)
		w.sync()
		s, err := w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := section(t, s, "Floor")
		want := projections.SectionView{Name: "Floor", Kind: "general_admission", PriceCents: 1000, Capacity: 10, Available: 3, Held: 4, Sold: 3}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("seat states follow holds, sales and releases", func(t *testing.T) {
		id := w.publishedShow(org, "Seated", seated("Stalls", 5000, 3))
		sold := w.hold(id, buyer, nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 1}})
		released := w.hold(id, buyer, nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 2}})
		w.hold(id, buyer, nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 3}})
		w.pay(sold)
		w.expire(id, released)
		w.sync()
		got := seatStates(t, w, id)
		want := map[string]string{"Stalls/A/1": "sold", "Stalls/A/2": "available", "Stalls/A/3": "held"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		s, err := w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sec := section(t, s, "Stalls")
		if sec.Available != 1 || sec.Held != 1 || sec.Sold != 1 {
			t.Errorf("counters: got available %d held %d sold %d, want 1 1 1", sec.Available, sec.Held, sec.Sold)
		}
		// A released seat can be held again.
		w.hold(id, buyer, nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 2}})
		w.sync()
		if got := seatStates(t, w, id)["Stalls/A/2"]; got != "held" {
			t.Errorf("seat held again: got %q, want held", got)
		}
	})

	t.Run("a price change affects only later holds", func(t *testing.T) {
		id := w.publishedShow(org, "Prices", ga("Floor", 1000, 10), seated("Box", 3000, 2))
		before := w.hold(id, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 1}})
		w.edit(id, domain.EditShow{Prices: map[string]int64{"Floor": 1500}})
		after := w.hold(id, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 2}})
		w.sync()
		s, err := w.q.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := section(t, s, "Floor").PriceCents; got != 1500 {
			t.Errorf("floor price: got %d, want 1500", got)
		}
		if got := section(t, s, "Box").PriceCents; got != 3000 {
			t.Errorf("box price: got %d, want 3000", got)
		}
		for _, c := range []struct {
			order     uuid.UUID
			unitPrice int64
			total     int64
		}{{before, 1000, 2*1000 + 3000}, {after, 1500, 1500 + 3000}} {
			o, err := w.q.Order(ctx, c.order)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Items[0].UnitPriceCents; got != c.unitPrice {
				t.Errorf("unit price: got %d, want %d", got, c.unitPrice)
			}
			if o.TotalCents != c.total {
				t.Errorf("total: got %d, want %d", o.TotalCents, c.total)
			}
		}
	})

	t.Run("unknown show", func(t *testing.T) {
		_, err := w.q.Show(ctx, uuid.New())
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrShowNotFound) {
			t.Errorf("show: got %v, want not found", err)
		}
		_, err = w.q.SeatMap(ctx, uuid.New())
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrShowNotFound) {
			t.Errorf("seat map: got %v, want not found", err)
		}
		_, err = w.q.Seats(ctx, uuid.New(), "Balcony", projections.Page{})
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrShowNotFound) {
			t.Errorf("seats: got %v, want not found", err)
		}
	})
}

func TestOrders_Apply(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, buyer := uuid.New(), uuid.New()
	show := w.publishedShow(org, "Orders", ga("Floor", 1000, 100), seated("Box", 3000, 4))

	t.Run("a held order", func(t *testing.T) {
		id := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 3}})
		w.sync()
		got, err := w.q.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := projections.OrderView{
			ID: id, ShowID: show, BuyerID: buyer, Status: "held",
			Items:      []domain.HeldItem{{Section: "Floor", Quantity: 2, UnitPriceCents: 1000}},
			Seats:      []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "Box", Row: "A", Seat: 3}, PriceCents: 3000}},
			TotalCents: 5000, ExpiresAt: t0.Add(holdTTL), CreatedAt: t0, UpdatedAt: t0,
			Tickets:  []projections.TicketView{},
			ShowInfo: projections.ShowInfo{ShowTitle: "Orders", ShowStartsAt: t0.Add(30 * 24 * time.Hour)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})

	t.Run("a confirmed order has its tickets, checked in one by one", func(t *testing.T) {
		id := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 1}})
		tickets := w.pay(id)
		door := t0.Add(30 * 24 * time.Hour)
		w.checkIn(id, tickets[1].ID, door)
		w.sync()
		got, err := w.q.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "confirmed" || !got.UpdatedAt.Equal(door) {
			t.Errorf("got status %q updated %v, want confirmed %v", got.Status, got.UpdatedAt, door)
		}
		want := []projections.TicketView{
			{ID: tickets[0].ID, Section: "Floor", HolderID: buyer},
			{ID: tickets[1].ID, Section: "Box", Row: "A", Seat: 1, CheckedInAt: &door, HolderID: buyer},
		}
		if !reflect.DeepEqual(got.Tickets, want) {
			t.Errorf("tickets: got %+v\nwant %+v", got.Tickets, want)
		}
		o, s, err := w.q.TicketOrder(ctx, tickets[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if o != id || s != show {
			t.Errorf("ticket order: got %s %s, want %s %s", o, s, id, show)
		}
	})

	t.Run("cancelled and expired orders", func(t *testing.T) {
		cancelled := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
		expired := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
		w.cancel(cancelled)
		w.expire(show, expired)
		w.sync()
		for id, want := range map[uuid.UUID]string{cancelled: "cancelled", expired: "expired"} {
			got, err := w.q.Order(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want {
				t.Errorf("got %q, want %q", got.Status, want)
			}
		}
	})

	t.Run("an expiry tombstone makes no order", func(t *testing.T) {
		id, _ := w.holdOnly(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
		w.expire(show, id)
		w.sync()
		_, err := w.q.Order(ctx, id)
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrOrderNotFound) {
			t.Errorf("got %v, want not found", err)
		}
	})

	t.Run("unknown ticket", func(t *testing.T) {
		_, _, err := w.q.TicketOrder(ctx, uuid.New())
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrTicketNotFound) {
			t.Errorf("got %v, want not found", err)
		}
	})
}

func TestSales_Apply(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, buyer := uuid.New(), uuid.New()
	show := w.publishedShow(org, "Sales", ga("Floor", 1000, 100), seated("Box", 3000, 4))
	other := w.publishedShow(org, "Other", ga("Floor", 700, 10))

	w.sync()
	got, err := w.q.Sales(ctx, show)
	if err != nil {
		t.Fatal(err)
	}
	if want := (projections.SalesView{ShowID: show, OrganizerID: org}); got != want {
		t.Errorf("before any sale: got %+v, want %+v", got, want)
	}

	paid := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 1}})
	w.pay(paid)
	paid2 := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.edit(show, domain.EditShow{Prices: map[string]int64{"Floor": 1200}})
	paid3 := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.pay(paid2)
	w.pay(paid3)
	cancelled := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 4}}, nil)
	w.cancel(cancelled)
	expired := w.hold(show, buyer, nil, []domain.SeatRef{{Section: "Box", Row: "A", Seat: 2}, {Section: "Box", Row: "A", Seat: 3}})
	w.expire(show, expired)
	tombstone, _ := w.holdOnly(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 5}}, nil)
	w.expire(show, tombstone)
	w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 6}}, nil)
	w.pay(w.hold(other, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
	w.sync()

	t.Run("a show's figures", func(t *testing.T) {
		got, err := w.q.Sales(ctx, show)
		if err != nil {
			t.Fatal(err)
		}
		want := projections.SalesView{
			ShowID: show, OrganizerID: org,
			Sold: 5, RevenueCents: 2*1000 + 3000 + 1000 + 1200,
			Held: 6, Expired: 2 + 5, Cancelled: 4,
			OrdersConfirmed: 3, OrdersExpired: 1, OrdersCancelled: 1,
		}
		if got != want {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("another show's figures", func(t *testing.T) {
		got, err := w.q.Sales(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		want := projections.SalesView{ShowID: other, OrganizerID: org, Sold: 1, RevenueCents: 700, OrdersConfirmed: 1}
		if got != want {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("unknown show", func(t *testing.T) {
		_, err := w.q.Sales(ctx, uuid.New())
		if !errors.Is(err, projections.ErrNotFound) || !errors.Is(err, domain.ErrShowNotFound) {
			t.Errorf("got %v, want not found", err)
		}
	})
}

func TestHolds_Apply(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, buyer := uuid.New(), uuid.New()
	show := w.publishedShow(org, "Holds", ga("Floor", 1000, 100))

	open := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	unplaced, _ := w.holdOnly(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.pay(w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
	w.cancel(w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
	expired := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.expire(show, expired)
	w.sync()

	got, err := w.q.DueHolds(ctx, t0.Add(holdTTL), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []projections.DueHold{
		{ShowID: show, OrderID: open, ExpiresAt: t0.Add(holdTTL)},
		{ShowID: show, OrderID: unplaced, ExpiresAt: t0.Add(holdTTL)},
	}
	if want[1].OrderID.String() < want[0].OrderID.String() {
		want[0], want[1] = want[1], want[0]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
