package projections_test

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// pages reads every page of a list with limit and returns the ids in order.
func pages[T any](t *testing.T, limit int, list func(projections.Page) (projections.List[T], error), id func(T) uuid.UUID) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	cursor := ""
	for range 100 {
		l, err := list(projections.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > limit {
			t.Fatalf("page of %d items, limit %d", len(l.Items), limit)
		}
		for _, it := range l.Items {
			ids = append(ids, id(it))
		}
		if l.NextCursor == "" {
			return ids
		}
		if len(l.Items) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		cursor = l.NextCursor
	}
	t.Fatal("too many pages")
	return nil
}

func showID(s projections.ShowView) uuid.UUID      { return s.ID }
func orderID(o projections.OrderView) uuid.UUID    { return o.ID }
func ticketID(t projections.BuyerTicket) uuid.UUID { return t.ID }

func TestQueries_ListShows(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org := uuid.New()
	var public []uuid.UUID
	for i := range 6 {
		public = append(public, w.publishedShow(org, "Show", ga("Floor", 1000, 10)))
		if i == 2 {
			w.createShow(org, "Draft", ga("Floor", 1000, 10))
		}
	}
	// A cancelled show leaves the catalog (issue 14: money).
	cancelled := w.publishedShow(org, "Cancelled", ga("Floor", 1000, 10))
	w.cancelShow(cancelled)
	w.sync()
	list := func(p projections.Page) (projections.List[projections.ShowView], error) { return w.q.ListShows(ctx, p) }

	t.Run("every page size lists the public shows in creation order", func(t *testing.T) {
		for _, limit := range []int{1, 2, 5, 6, 200} {
			if got := pages(t, limit, list, showID); !reflect.DeepEqual(got, public) {
				t.Errorf("limit %d: got %v, want %v", limit, got, public)
			}
		}
	})
	t.Run("default limit", func(t *testing.T) {
		l, err := w.q.ListShows(ctx, projections.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != len(public) || l.NextCursor != "" {
			t.Errorf("got %d items, cursor %q; want %d and none", len(l.Items), l.NextCursor, len(public))
		}
		if len(l.Items[0].Sections) != 1 {
			t.Errorf("sections: got %+v, want Floor", l.Items[0].Sections)
		}
	})
	t.Run("pages are stable while shows are added", func(t *testing.T) {
		first, err := w.q.ListShows(ctx, projections.Page{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		w.publishedShow(org, "Later", ga("Floor", 1000, 10))
		w.sync()
		second, err := w.q.ListShows(ctx, projections.Page{Limit: 3, Cursor: first.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		got := []uuid.UUID{second.Items[0].ID, second.Items[1].ID, second.Items[2].ID}
		if !reflect.DeepEqual(got, public[3:6]) {
			t.Errorf("got %v, want %v", got, public[3:6])
		}
	})
	t.Run("bad pages", func(t *testing.T) {
		for name, c := range map[string]struct {
			page  projections.Page
			field string
		}{
			"negative limit":      {projections.Page{Limit: -1}, "limit"},
			"limit over the max":  {projections.Page{Limit: projections.MaxLimit + 1}, "limit"},
			"not base64":          {projections.Page{Cursor: "%%%"}, "cursor"},
			"garbage":             {projections.Page{Cursor: "Z2FyYmFnZQ"}, "cursor"},
			"another list's kind": {projections.Page{Cursor: ordersCursor(t, w)}, "cursor"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := w.q.ListShows(ctx, c.page)
				if !isValidation(err, c.field) {
					t.Errorf("got %v, want a validation error on %s", err, c.field)
				}
			})
		}
	})
}

// ordersCursor returns a valid cursor of a buyer's orders.
func ordersCursor(t *testing.T, w *world) string {
	t.Helper()
	show := w.publishedShow(uuid.New(), "Cursor", ga("Floor", 1000, 10))
	buyer := uuid.New()
	w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.sync()
	l, err := w.q.OrdersByBuyer(ctx, buyer, projections.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l.NextCursor == "" {
		t.Fatal("no cursor")
	}
	return l.NextCursor
}

func TestQueries_ShowsByOrganizer(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, other := uuid.New(), uuid.New()
	want := []uuid.UUID{
		w.createShow(org, "Draft", ga("Floor", 1000, 10)),
		w.publishedShow(org, "Public", ga("Floor", 1000, 10)),
	}
	w.publishedShow(other, "Someone else's", ga("Floor", 1000, 10))
	want = append(want, w.createShow(org, "Draft 2", ga("Floor", 1000, 10)))
	w.sync()
	got := pages(t, 2, func(p projections.Page) (projections.List[projections.ShowView], error) {
		return w.q.ShowsByOrganizer(ctx, org, p)
	}, showID)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestQueries_OrdersByBuyer(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	show := w.publishedShow(uuid.New(), "Orders", ga("Floor", 1000, 100))
	buyer := uuid.New()
	var want []uuid.UUID
	for i := range 5 {
		want = append(want, w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
		w.hold(show, uuid.New(), []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
		if i%2 == 0 {
			w.pay(want[i])
		}
	}
	w.sync()
	list := func(p projections.Page) (projections.List[projections.OrderView], error) {
		return w.q.OrdersByBuyer(ctx, buyer, p)
	}
	for _, limit := range []int{1, 2, 5} {
		if got := pages(t, limit, list, orderID); !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: got %v, want %v", limit, got, want)
		}
	}
	l, err := list(projections.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range l.Items {
		if got, want := len(o.Tickets), 1-i%2; got != want {
			t.Errorf("order %d: got %d tickets, want %d", i, got, want)
		}
	}
}

func TestQueries_TicketsByBuyer(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	show := w.publishedShow(uuid.New(), "Tickets", ga("Floor", 1000, 100), seated("Box", 2000, 5))
	buyer := uuid.New()
	var want []projections.BuyerTicket
	for i := range 3 {
		id := w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 2}}, []domain.SeatRef{{Section: "Box", Row: "A", Seat: i + 1}})
		w.pay(w.hold(show, uuid.New(), []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
		for _, tk := range w.pay(id) {
			want = append(want, projections.BuyerTicket{
				TicketView: projections.TicketView{ID: tk.ID, Section: tk.Section, Row: tk.Row, Seat: tk.Seat, HolderID: buyer},
				OrderID:    id, ShowID: show, ShowInfo: projections.ShowInfo{ShowTitle: "Tickets", ShowStartsAt: t0.Add(30 * 24 * time.Hour)},
			})
		}
	}
	w.hold(show, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil) // held: no tickets
	w.sync()
	l, err := w.q.TicketsByBuyer(ctx, buyer, projections.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Items, want) {
		t.Errorf("got %+v\nwant %+v", l.Items, want)
	}
	wantIDs := make([]uuid.UUID, len(want))
	for i, tk := range want {
		wantIDs[i] = tk.ID
	}
	for _, limit := range []int{1, 2, 4} {
		got := pages(t, limit, func(p projections.Page) (projections.List[projections.BuyerTicket], error) {
			return w.q.TicketsByBuyer(ctx, buyer, p)
		}, ticketID)
		if !reflect.DeepEqual(got, wantIDs) {
			t.Errorf("limit %d: got %v, want %v", limit, got, wantIDs)
		}
	}
}

func TestQueries_DueHolds(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	show := w.publishedShow(uuid.New(), "Due", ga("Floor", 1000, 100))
	var ids []uuid.UUID
	for range 3 {
		ids = append(ids, w.hold(show, uuid.New(), []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil))
	}
	w.sync()
	for name, c := range map[string]struct {
		now   time.Time
		limit int
		want  int
	}{
		"none due before the deadline": {t0.Add(holdTTL - time.Second), 10, 0},
		"due at the deadline":          {t0.Add(holdTTL), 10, 3},
		"limited":                      {t0.Add(time.Hour), 2, 2},
		"default limit":                {t0.Add(time.Hour), 0, 3},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := w.q.DueHolds(ctx, c.now, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("got %d holds, want %d", len(got), c.want)
			}
		})
	}
}

func TestQueries_WaitForPosition(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.createShow(uuid.New(), "Wait", ga("Floor", 1000, 10))
	pos := w.last

	t.Run("the start is always reached", func(t *testing.T) {
		ok, err := w.q.WaitForPosition(ctx, domain.Start, 0)
		if err != nil || !ok {
			t.Errorf("got %v %v, want true", ok, err)
		}
	})
	t.Run("times out while the projections are behind", func(t *testing.T) {
		start := time.Now()
		ok, err := w.q.WaitForPosition(ctx, pos, 50*time.Millisecond)
		if err != nil || ok {
			t.Errorf("got %v %v, want false", ok, err)
		}
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("returned after %v, before the timeout", d)
		}
	})
	t.Run("ends with its context", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		ok, err := w.q.WaitForPosition(c, pos, time.Minute)
		if ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v %v, want false and the context's error", ok, err)
		}
	})
	t.Run("returns once every projection got there", func(t *testing.T) {
		w.start()
		ok, err := w.q.WaitForPosition(ctx, pos, 5*time.Second)
		if err != nil || !ok {
			t.Fatalf("got %v %v, want true", ok, err)
		}
		cps, err := w.models.Checkpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range projections.All() {
			if cps[p.Name()].Less(pos) {
				t.Errorf("%s at %v, before %v", p.Name(), cps[p.Name()], pos)
			}
		}
	})
	t.Run("a later position is not reached", func(t *testing.T) {
		ok, err := w.q.WaitForPosition(ctx, domain.PositionAt(pos.Commit+1), 20*time.Millisecond)
		if err != nil || ok {
			t.Errorf("got %v %v, want false", ok, err)
		}
	})
}

func TestQueries_Seats(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org := uuid.New()
	show := w.publishedShow(org, "Seats", ga("Floor", 1000, 10), seated("Stalls", 2000, 3, 2), seated("Box", 3000, 2))
	other := w.publishedShow(org, "Other", seated("Stalls", 2000, 3, 2))
	w.pay(w.hold(show, uuid.New(), nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 2}}))
	w.hold(show, uuid.New(), nil, []domain.SeatRef{{Section: "Stalls", Row: "B", Seat: 1}})
	w.sync()

	t.Run("the seat map has the seated sections and their counts", func(t *testing.T) {
		got, err := w.q.SeatMap(ctx, show)
		if err != nil {
			t.Fatal(err)
		}
		want := projections.SeatMap{ShowID: show, Sections: []projections.SeatMapSection{
			{Name: "Stalls", Rows: 2, Capacity: 5, Available: 3, Held: 1, Sold: 1},
			{Name: "Box", Rows: 1, Capacity: 2, Available: 2},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("pages in row and seat order with the seats' states", func(t *testing.T) {
		want := []projections.SeatMapRow{
			{Label: "A", Seats: []projections.SeatMapSeat{{1, "available"}, {2, "sold"}, {3, "available"}}},
			{Label: "B", Seats: []projections.SeatMapSeat{{1, "held"}, {2, "available"}}},
		}
		for _, limit := range []int{1, 2, 4, 5, projections.MaxSeatLimit} {
			if got := seatRows(t, w, show, "Stalls", limit); !reflect.DeepEqual(got, want) {
				t.Errorf("limit %d: got %+v\nwant %+v", limit, got, want)
			}
		}
	})
	t.Run("a section the show does not have, or not seated", func(t *testing.T) {
		for _, name := range []string{"Balcony", "Floor", "stalls", "", "Stalls\x00", "\xff", strings.Repeat("x", domain.MaxNameLen+1)} {
			_, err := w.q.Seats(ctx, show, name, projections.Page{})
			if !errors.Is(err, projections.ErrSectionNotFound) || !errors.Is(err, projections.ErrNotFound) {
				t.Errorf("%q: got %v, want section not found", name, err)
			}
		}
	})
	t.Run("an unknown show", func(t *testing.T) {
		_, err := w.q.Seats(ctx, uuid.New(), "Stalls", projections.Page{})
		if !errors.Is(err, domain.ErrShowNotFound) || !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("got %v, want show not found", err)
		}
	})
	t.Run("bad limits and cursors", func(t *testing.T) {
		first, err := w.q.Seats(ctx, show, "Stalls", projections.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		ofOther, err := w.q.Seats(ctx, other, "Stalls", projections.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		shows, err := w.q.ListShows(ctx, projections.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			section string
			page    projections.Page
			field   string
		}{
			"a negative limit":                 {"Stalls", projections.Page{Limit: -1}, "limit"},
			"a limit past the maximum":         {"Stalls", projections.Page{Limit: projections.MaxSeatLimit + 1}, "limit"},
			"a cursor of another section":      {"Box", projections.Page{Cursor: first.NextCursor}, "cursor"},
			"a cursor of another show":         {"Stalls", projections.Page{Cursor: ofOther.NextCursor}, "cursor"},
			"a cursor of the catalog":          {"Stalls", projections.Page{Cursor: shows.NextCursor}, "cursor"},
			"not base64":                       {"Stalls", projections.Page{Cursor: "!!"}, "cursor"},
			"a seat beyond the largest row":    {"Stalls", projections.Page{Cursor: cursorOf("e:" + show.String() + ":1:0:501")}, "cursor"},
			"a row beyond the largest section": {"Stalls", projections.Page{Cursor: cursorOf("e:" + show.String() + ":1:500:1")}, "cursor"},
		} {
			_, err := w.q.Seats(ctx, show, c.section, c.page)
			var v *domain.ValidationError
			if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != c.field {
				t.Errorf("%s: got %v, want a validation error on %s", name, err, c.field)
			}
		}
		if first.NextCursor == "" || ofOther.NextCursor == "" || shows.NextCursor == "" {
			t.Fatalf("cursors %q %q %q: want three", first.NextCursor, ofOther.NextCursor, shows.NextCursor)
		}
	})
}

func cursorOf(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
