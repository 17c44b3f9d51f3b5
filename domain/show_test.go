package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var (
	t0        = time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	showID    = uuid.MustParse("00000000-0000-0000-0000-00000000a001")
	orgID     = uuid.MustParse("00000000-0000-0000-0000-00000000b001")
	buyerID   = uuid.MustParse("00000000-0000-0000-0000-00000000c001")
	orderA    = uuid.MustParse("00000000-0000-0000-0000-00000000d001")
	orderB    = uuid.MustParse("00000000-0000-0000-0000-00000000d002")
	ttl       = 15 * time.Minute
	gaSection = domain.SectionSpec{Name: "floor", PriceCents: 500, Capacity: 3}
	seated    = domain.SectionSpec{Name: "balcony", PriceCents: 900, Rows: []domain.RowSpec{{Label: "A", Seats: 2}}}
)

func created() domain.ShowCreated {
	return domain.ShowCreated{ShowID: showID, OrganizerID: orgID, Title: "Gig", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour),
		Sections: []domain.SectionSpec{gaSection, seated}, CreatedAt: t0, MaxUnitsPerBuyer: domain.DefaultMaxUnitsPerBuyer}
}

func published() domain.ShowPublished { return domain.ShowPublished{ShowID: showID, At: t0} }

func heldGA(order uuid.UUID, q int, price int64) domain.SeatsHeld {
	return domain.SeatsHeld{ShowID: showID, OrderID: order, BuyerID: buyerID,
		Items: []domain.HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: price}}, TotalCents: price * int64(q),
		HeldAt: t0, ExpiresAt: t0.Add(ttl), HoldTTLSeconds: int64(ttl / time.Second)}
}

func heldSeat(order uuid.UUID, seat int) domain.SeatsHeld {
	return domain.SeatsHeld{ShowID: showID, OrderID: order, BuyerID: buyerID,
		Seats:      []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "balcony", Row: "A", Seat: seat}, PriceCents: 900}},
		TotalCents: 900, HeldAt: t0, ExpiresAt: t0.Add(ttl), HoldTTLSeconds: int64(ttl / time.Second)}
}

type showCase struct {
	name  string
	given []domain.Event
	when  func(s *domain.Show) error
	then  []domain.Event
	err   error // matched with errors.Is; nil means success
	errAs any   // a pointer to an error type to match with errors.As
}

func runShowCases(t *testing.T, cases []showCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewShow()
			s.Load(c.given, int64(len(c.given)))
			err := c.when(s)
			switch {
			case c.errAs != nil:
				// A fresh target per subtest: the cases run in parallel.
				target := reflect.New(reflect.TypeOf(c.errAs).Elem()).Interface()
				if !errors.As(err, target) {
					t.Fatalf("err = %v, want %T", err, c.errAs)
				}
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatalf("err = %v, want none", err)
			}
			if got := s.Changes(); !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, c.then)
			}
		})
	}
}

func TestShow_Create(t *testing.T) {
	t.Parallel()
	valid := domain.CreateShow{ShowID: showID, OrganizerID: orgID, Title: "Gig", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour),
		Sections: []domain.SectionSpec{gaSection, seated}}
	with := func(f func(*domain.CreateShow)) domain.CreateShow {
		c := valid
		c.Sections = append([]domain.SectionSpec(nil), valid.Sections...)
		f(&c)
		return c
	}
	var verr *domain.ValidationError
	runShowCases(t, []showCase{
		{name: "valid", when: func(s *domain.Show) error { return s.Create(valid, t0) }, then: []domain.Event{created()}},
		{name: "already exists", given: []domain.Event{created()}, when: func(s *domain.Show) error { return s.Create(valid, t0) }, err: domain.ErrShowExists},
		{name: "no title", when: func(s *domain.Show) error { return s.Create(with(func(c *domain.CreateShow) { c.Title = " " }), t0) }, errAs: &verr},
		{name: "no sections", when: func(s *domain.Show) error { return s.Create(with(func(c *domain.CreateShow) { c.Sections = nil }), t0) }, errAs: &verr},
		{name: "negative price", when: func(s *domain.Show) error {
			return s.Create(with(func(c *domain.CreateShow) { c.Sections[0].PriceCents = -1 }), t0)
		}, errAs: &verr},
		{name: "capacity and rows", when: func(s *domain.Show) error {
			return s.Create(with(func(c *domain.CreateShow) { c.Sections[0].Rows = seated.Rows }), t0)
		}, errAs: &verr},
		{name: "zero capacity", when: func(s *domain.Show) error {
			return s.Create(with(func(c *domain.CreateShow) { c.Sections[0].Capacity = 0 }), t0)
		}, errAs: &verr},
		{name: "duplicate section", when: func(s *domain.Show) error {
			return s.Create(with(func(c *domain.CreateShow) { c.Sections[1].Name = "floor" }), t0)
		}, errAs: &verr},
		{name: "missing start", when: func(s *domain.Show) error {
			return s.Create(with(func(c *domain.CreateShow) { c.StartsAt = time.Time{} }), t0)
		}, errAs: &verr},
	})
}

func TestShow_Lifecycle(t *testing.T) {
	t.Parallel()
	newTitle := "New"
	runShowCases(t, []showCase{
		{name: "publish draft", given: []domain.Event{created()}, when: func(s *domain.Show) error { return s.Publish(t0) }, then: []domain.Event{published()}},
		{name: "publish twice is a no-op", given: []domain.Event{created(), published()}, when: func(s *domain.Show) error { return s.Publish(t0) }},
		{name: "publish missing show", when: func(s *domain.Show) error { return s.Publish(t0) }, err: domain.ErrShowNotFound},
		{name: "publish cancelled", given: []domain.Event{created(), domain.ShowCancelled{ShowID: showID, At: t0}},
			when: func(s *domain.Show) error { return s.Publish(t0) }, err: domain.ErrShowCancelled},
		{name: "cancel", given: []domain.Event{created(), published()}, when: func(s *domain.Show) error { return s.Cancel(t0) },
			then: []domain.Event{domain.ShowCancelled{ShowID: showID, At: t0}}},
		{name: "cancel twice is a no-op", given: []domain.Event{created(), domain.ShowCancelled{ShowID: showID, At: t0}},
			when: func(s *domain.Show) error { return s.Cancel(t0) }},
		{name: "edit title and price", given: []domain.Event{created()},
			when: func(s *domain.Show) error {
				return s.Edit(domain.EditShow{Title: &newTitle, Prices: map[string]int64{"floor": 700}}, t0)
			},
			then: []domain.Event{
				domain.ShowDetailsChanged{ShowID: showID, Title: "New", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour)},
				domain.SectionPriceChanged{ShowID: showID, Section: "floor", PriceCents: 700},
			}},
		{name: "edit to the same values raises nothing", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.Edit(domain.EditShow{Prices: map[string]int64{"floor": 500}}, t0) }},
		{name: "edit unknown section", given: []domain.Event{created()},
			when:  func(s *domain.Show) error { return s.Edit(domain.EditShow{Prices: map[string]int64{"nope": 1}}, t0) },
			errAs: new(*domain.ValidationError)},
		{name: "edit cancelled show", given: []domain.Event{created(), domain.ShowCancelled{ShowID: showID, At: t0}},
			when: func(s *domain.Show) error { return s.Edit(domain.EditShow{Title: &newTitle}, t0) }, err: domain.ErrShowCancelled},
	})
}

func TestShow_Hold(t *testing.T) {
	t.Parallel()
	ga := func(q int) func(s *domain.Show) error {
		return func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: []domain.ItemRequest{{Section: "floor", Quantity: q}}}, t0, ttl)
		}
	}
	seat := func(ref domain.SeatRef) func(s *domain.Show) error {
		return func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Seats: []domain.SeatRef{ref}}, t0, ttl)
		}
	}
	a1 := domain.SeatRef{Section: "balcony", Row: "A", Seat: 1}
	onSale := []domain.Event{created(), published()}
	var verr *domain.ValidationError
	var taken *domain.SeatTakenError
	heldB := heldGA(orderB, 2, 500)
	runShowCases(t, []showCase{
		{name: "general admission", given: onSale, when: ga(2), then: []domain.Event{heldB}},
		{name: "seat", given: onSale, when: seat(a1), then: []domain.Event{heldSeat(orderB, 1)}},
		{name: "draft is not on sale", given: []domain.Event{created()}, when: ga(1), err: domain.ErrNotOnSale},
		{name: "cancelled", given: append(onSale, domain.ShowCancelled{ShowID: showID}), when: ga(1), err: domain.ErrShowCancelled},
		{name: "sold out", given: append(onSale, heldGA(orderA, 2, 500)), when: ga(2), err: domain.ErrSoldOut},
		{name: "exactly the rest", given: append(onSale, heldGA(orderA, 1, 500)), when: ga(2), then: []domain.Event{heldB}},
		{name: "released units are free again", given: append(onSale, heldGA(orderA, 3, 500),
			domain.SeatsReleased{ShowID: showID, OrderID: orderA, Items: heldGA(orderA, 3, 500).Items}), when: ga(2), then: []domain.Event{heldB}},
		{name: "sold units stay taken", given: append(onSale, heldGA(orderA, 2, 500),
			domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: heldGA(orderA, 2, 500).Items}), when: ga(2), err: domain.ErrSoldOut},
		{name: "zero quantity", given: onSale, when: ga(0), errAs: &verr},
		{name: "negative quantity", given: onSale, when: ga(-1), errAs: &verr},
		{name: "too many units", given: onSale, when: ga(domain.MaxUnitsPerOrder + 1), errAs: &verr},
		{name: "unknown section", given: onSale, when: seat(domain.SeatRef{Section: "pit", Row: "A", Seat: 1}), errAs: &verr},
		{name: "unknown row", given: onSale, when: seat(domain.SeatRef{Section: "balcony", Row: "Z", Seat: 1}), errAs: &verr},
		{name: "seat out of range", given: onSale, when: seat(domain.SeatRef{Section: "balcony", Row: "A", Seat: 3}), errAs: &verr},
		{name: "seat of a GA section", given: onSale, when: seat(domain.SeatRef{Section: "floor", Row: "A", Seat: 1}), errAs: &verr},
		{name: "held seat", given: append(onSale, heldSeat(orderA, 1)), when: seat(a1), errAs: &taken},
		{name: "sold seat", given: append(onSale, heldSeat(orderA, 1), domain.SeatsSold{ShowID: showID, OrderID: orderA, Seats: heldSeat(orderA, 1).Seats}),
			when: seat(a1), errAs: &taken},
		{name: "released seat", given: append(onSale, heldSeat(orderA, 1), domain.SeatsReleased{ShowID: showID, OrderID: orderA, Seats: heldSeat(orderA, 1).Seats}),
			when: seat(a1), then: []domain.Event{heldSeat(orderB, 1)}},
		{name: "same seat twice in one request", given: onSale, when: func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, Seats: []domain.SeatRef{a1, a1}}, t0, ttl)
		}, errAs: &verr},
		{name: "nothing asked", given: onSale, when: func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB}, t0, ttl)
		}, errAs: &verr},
		{name: "price change applies to later holds only", given: append(onSale, heldGA(orderA, 1, 500),
			domain.SectionPriceChanged{ShowID: showID, Section: "floor", PriceCents: 800}), when: ga(2),
			then: []domain.Event{heldGA(orderB, 2, 800)}},
		{name: "order id reused", given: append(onSale, heldGA(orderB, 1, 500)), when: ga(1), err: domain.ErrOrderExists},
	})
}

func TestShow_SellAndRelease(t *testing.T) {
	t.Parallel()
	h := heldGA(orderA, 2, 500)
	base := []domain.Event{created(), published(), h}
	sold := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: 1000, At: t0}
	released := domain.SeatsReleased{ShowID: showID, OrderID: orderA, Reason: domain.ReleaseExpired, Items: h.Items, At: t0}
	runShowCases(t, []showCase{
		{name: "sell a hold", given: base, when: func(s *domain.Show) error { return s.Sell(orderA, t0) }, then: []domain.Event{sold}},
		{name: "sell twice is a no-op", given: append(base, sold), when: func(s *domain.Show) error { return s.Sell(orderA, t0) }},
		{name: "sell without hold", given: base[:2], when: func(s *domain.Show) error { return s.Sell(orderA, t0) }, err: domain.ErrNoHold},
		{name: "sell a released hold", given: append(base, released), when: func(s *domain.Show) error { return s.Sell(orderA, t0) }, err: domain.ErrNoHold},
		{name: "release", given: base, when: func(s *domain.Show) error { s.Release(orderA, domain.ReleaseExpired, t0); return nil }, then: []domain.Event{released}},
		{name: "release without hold is a no-op", given: append(base, sold), when: func(s *domain.Show) error { s.Release(orderA, domain.ReleaseExpired, t0); return nil }},
	})
}

func TestShow_Available(t *testing.T) {
	t.Parallel()
	s := domain.NewShow()
	h := heldGA(orderA, 2, 500)
	s.Load([]domain.Event{created(), published(), h, heldSeat(orderB, 2),
		domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items}}, 5)
	if got, want := s.Available("floor"), 1; got != want {
		t.Errorf("floor available = %d, want %d", got, want)
	}
	if got, want := s.Available("balcony"), 1; got != want {
		t.Errorf("balcony available = %d, want %d", got, want)
	}
	if !s.IsSold(orderA) {
		t.Error("order A not sold")
	}
	if _, ok := s.HoldOf(orderB); !ok {
		t.Error("order B has no hold")
	}
}

func TestRegistry_Decode(t *testing.T) {
	t.Parallel()
	r := domain.NewRegistry()
	domain.RegisterEvents(r)
	want := heldSeat(orderA, 1)
	data, err := domain.Encode([]domain.Event{want}, uuid.New, domain.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Decode(data[0].Type, data[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, domain.Event(want)) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if _, err := r.Decode("no.such", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEventType) {
		t.Fatalf("unknown type: err = %v", err)
	}
}

func TestPosition_String(t *testing.T) {
	t.Parallel()
	for _, p := range []domain.Position{domain.PositionAt(0), domain.PositionAt(42), {Commit: 10, Prepare: 7}} {
		got, err := domain.ParsePosition(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	for _, bad := range []string{"", "x", "1.", "-1", "1.2.3"} {
		if _, err := domain.ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) succeeded", bad)
		}
	}
	if !domain.PositionAt(1).Less(domain.PositionAt(2)) || domain.PositionAt(2).Less(domain.PositionAt(2)) {
		t.Error("Less is wrong")
	}
}

// restoredShow returns s restored from its snapshot at its version, the
// snapshot encoded and decoded as a store keeps it.
func restoredShow(t testing.TB, s *domain.Show) *domain.Show {
	t.Helper()
	data, err := json.Marshal(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap domain.ShowSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	return domain.RestoreShow(snap, s.Version())
}

func TestShow_Snapshot(t *testing.T) {
	t.Parallel()
	h := heldGA(orderA, 2, 500)
	history := []domain.Event{created(), published(), h, heldSeat(orderB, 2),
		domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items}}
	s := domain.NewShow()
	s.Load(history, 5)
	restored := restoredShow(t, s)
	if !reflect.DeepEqual(restored.Snapshot(), s.Snapshot()) || restored.Version() != 5 {
		t.Fatalf("restored:\n%+v\nwant\n%+v", restored.Snapshot(), s.Snapshot())
	}
	// The restored show decides like the original.
	for _, show := range []*domain.Show{s, restored} {
		err := show.Hold(domain.HoldRequest{OrderID: uuid.New(), Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 2}}}, t0, ttl)
		var taken *domain.SeatTakenError
		if !errors.As(err, &taken) {
			t.Fatalf("seat A2: err = %v, want taken", err)
		}
		if got := show.Available("floor"); got != 1 {
			t.Fatalf("floor available = %d", got)
		}
	}
}
