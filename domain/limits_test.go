package domain_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// fieldsOf returns the fields a *ValidationError names, or fails.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	var out []string
	for _, f := range verr.Fields {
		out = append(out, f.Field)
	}
	return out
}

func hasField(fields []string, want string) bool {
	for _, f := range fields {
		if f == want {
			return true
		}
	}
	return false
}

func TestShow_CreateRefusesHostileInput(t *testing.T) {
	t.Parallel()
	valid := func() domain.CreateShow {
		return domain.CreateShow{ShowID: showID, OrganizerID: orgID, Title: "Gig", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour),
			Sections: []domain.SectionSpec{gaSection, seated}}
	}
	rows := func(n, seats int) []domain.RowSpec {
		out := make([]domain.RowSpec, n)
		for i := range out {
			out[i] = domain.RowSpec{Label: "R" + strings.Repeat("x", i%3) + string(rune('A'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)), Seats: seats}
		}
		return out
	}
	zero, over := 0, domain.MaxUnitsPerBuyerLimit+1
	cases := []struct {
		name  string
		given func(c *domain.CreateShow)
		field string
	}{
		{"NUL in the title", func(c *domain.CreateShow) { c.Title = "Gig\x00" }, "title"},
		{"newline in the title", func(c *domain.CreateShow) { c.Title = "Gig\nFree beer" }, "title"},
		{"tab in the venue", func(c *domain.CreateShow) { c.Venue = "Hall\t1" }, "venue"},
		{"DEL in the venue", func(c *domain.CreateShow) { c.Venue = "Hall\x7f" }, "venue"},
		{"C1 control in the title", func(c *domain.CreateShow) { c.Title = "Gig\u0085" }, "title"},
		{"bidi override in the title", func(c *domain.CreateShow) { c.Title = "Gig\u202e" }, "title"},
		{"line separator in the venue", func(c *domain.CreateShow) { c.Venue = "Hall\u2028" }, "venue"},
		{"invalid UTF-8 in the title", func(c *domain.CreateShow) { c.Title = "Gig\xff" }, "title"},
		{"title too long", func(c *domain.CreateShow) { c.Title = strings.Repeat("é", domain.MaxTextLen+1) }, "title"},
		{"blank venue", func(c *domain.CreateShow) { c.Venue = " \u00a0 " }, "venue"},
		{"control in a section name", func(c *domain.CreateShow) { c.Sections[0].Name = "floor\x1b[31m" }, "sections[0].name"},
		{"section name too long", func(c *domain.CreateShow) { c.Sections[0].Name = strings.Repeat("n", domain.MaxNameLen+1) }, "sections[0].name"},
		{"control in a row label", func(c *domain.CreateShow) { c.Sections[1].Rows = []domain.RowSpec{{Label: "A\r", Seats: 2}} }, "sections[1].rows[0].label"},
		{"row label too long", func(c *domain.CreateShow) {
			c.Sections[1].Rows = []domain.RowSpec{{Label: strings.Repeat("A", domain.MaxLabelLen+1), Seats: 2}}
		}, "sections[1].rows[0].label"},
		{"too many sections", func(c *domain.CreateShow) {
			c.Sections = make([]domain.SectionSpec, domain.MaxSections+1)
		}, "sections"},
		{"too many rows", func(c *domain.CreateShow) { c.Sections[1].Rows = rows(domain.MaxRowsPerSect+1, 1) }, "sections[1].rows"},
		{"too many seats in a row", func(c *domain.CreateShow) { c.Sections[1].Rows = rows(1, domain.MaxSeatsPerRow+1) }, "sections[1].rows[0].seats"},
		{"negative seats in a row", func(c *domain.CreateShow) { c.Sections[1].Rows = rows(1, -5) }, "sections[1].rows[0].seats"},
		{"huge capacity", func(c *domain.CreateShow) { c.Sections[0].Capacity = math.MaxInt }, "sections[0].capacity"},
		{"too many seats in all", func(c *domain.CreateShow) {
			c.Sections = nil
			for i := range 5 { // 5 × 250 × 200 = 250,000 seats
				c.Sections = append(c.Sections, domain.SectionSpec{Name: "s" + string(rune('a'+i)), Rows: rows(250, 200)})
			}
		}, "sections"},
		{"too many units in all", func(c *domain.CreateShow) {
			c.Sections = []domain.SectionSpec{{Name: "a", Capacity: domain.MaxCapacity}, {Name: "b", Capacity: 1}}
		}, "sections"},
		{"price too high", func(c *domain.CreateShow) { c.Sections[0].PriceCents = math.MaxInt64 }, "sections[0].price_cents"},
		{"start in the past", func(c *domain.CreateShow) { c.StartsAt = t0.Add(-time.Minute) }, "starts_at"},
		{"start now", func(c *domain.CreateShow) { c.StartsAt = t0 }, "starts_at"},
		{"start too far ahead", func(c *domain.CreateShow) { c.StartsAt = t0.Add(domain.MaxStartsAhead + time.Hour) }, "starts_at"},
		{"start in the year 9999", func(c *domain.CreateShow) { c.StartsAt = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) }, "starts_at"},
		{"per-buyer limit zero", func(c *domain.CreateShow) { c.MaxUnitsPerBuyer = &zero }, "max_units_per_buyer"},
		{"per-buyer limit too high", func(c *domain.CreateShow) { c.MaxUnitsPerBuyer = &over }, "max_units_per_buyer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := valid()
			c.given(&cmd)
			s := domain.NewShow()
			fields := fieldsOf(t, s.Create(cmd, t0))
			if !hasField(fields, c.field) {
				t.Fatalf("fields %v, want %s", fields, c.field)
			}
			if len(fields) > 50 {
				t.Fatalf("%d field errors: the answer is not bounded", len(fields))
			}
			if len(s.Changes()) != 0 {
				t.Fatalf("raised %v", s.Changes())
			}
		})
	}
}

func TestShow_CreateAcceptsTheLargestVenues(t *testing.T) {
	t.Parallel()
	// 150,000 seats: 10 sections of 300 rows of 50 seats.
	c := domain.CreateShow{ShowID: showID, OrganizerID: orgID, Title: "Stadium Gig — Ünïcödé 🎸", Venue: "Rungrado",
		StartsAt: t0.Add(domain.MaxStartsAhead - time.Hour)}
	for i := range 10 {
		rows := make([]domain.RowSpec, 300)
		for j := range rows {
			rows[j] = domain.RowSpec{Label: string(rune('A'+j%26)) + string(rune('A'+j/26)), Seats: 50}
		}
		c.Sections = append(c.Sections, domain.SectionSpec{Name: "Block " + string(rune('A'+i)), PriceCents: domain.MaxPriceCents, Rows: rows})
	}
	s := domain.NewShow()
	if err := s.Create(c, t0); err != nil {
		t.Fatal(err)
	}
	if got := s.MaxUnitsPerBuyer(); got != domain.DefaultMaxUnitsPerBuyer {
		t.Fatalf("limit = %d, want the default %d", got, domain.DefaultMaxUnitsPerBuyer)
	}
}

func TestShow_EditRefusesHostileInput(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	at := func(t time.Time) *time.Time { return &t }
	n := func(n int) *int { return &n }
	base := []domain.Event{created(), published()}
	cases := []struct {
		name  string
		edit  domain.EditShow
		field string
	}{
		{"NUL in the title", domain.EditShow{Title: str("x\x00")}, "title"},
		{"newline in the venue", domain.EditShow{Venue: str("a\nb")}, "venue"},
		{"start in the past", domain.EditShow{StartsAt: at(t0.Add(-time.Second))}, "starts_at"},
		{"start too far ahead", domain.EditShow{StartsAt: at(t0.Add(domain.MaxStartsAhead + time.Second))}, "starts_at"},
		{"per-buyer limit negative", domain.EditShow{MaxUnitsPerBuyer: n(-1)}, "max_units_per_buyer"},
		{"price overflow", domain.EditShow{Prices: map[string]int64{"floor": math.MaxInt64}}, "sections[floor].price_cents"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewShow()
			s.Load(base, 2)
			if fields := fieldsOf(t, s.Edit(c.edit, t0)); !hasField(fields, c.field) {
				t.Fatalf("fields %v, want %s", fields, c.field)
			}
			if len(s.Changes()) != 0 {
				t.Fatalf("raised %v", s.Changes())
			}
		})
	}
}

func TestShow_EditBuyerLimit(t *testing.T) {
	t.Parallel()
	four := 4
	later := t0.Add(48 * time.Hour)
	runShowCases(t, []showCase{
		{name: "new limit", given: []domain.Event{created(), published()},
			when: func(s *domain.Show) error { return s.Edit(domain.EditShow{MaxUnitsPerBuyer: &four}, t0) },
			then: []domain.Event{domain.ShowBuyerLimitChanged{ShowID: showID, MaxUnitsPerBuyer: 4}}},
		{name: "same limit raises nothing", given: []domain.Event{created(), published(), domain.ShowBuyerLimitChanged{ShowID: showID, MaxUnitsPerBuyer: 4}},
			when: func(s *domain.Show) error { return s.Edit(domain.EditShow{MaxUnitsPerBuyer: &four}, t0) }},
		{name: "new start in the future", given: []domain.Event{created()},
			when: func(s *domain.Show) error { return s.Edit(domain.EditShow{StartsAt: &later}, t0) },
			then: []domain.Event{domain.ShowDetailsChanged{ShowID: showID, Title: "Gig", Venue: "Hall", StartsAt: later}}},
	})
}

func TestShow_HoldRefusesHostileInput(t *testing.T) {
	t.Parallel()
	big := domain.SectionSpec{Name: "floor", PriceCents: domain.MaxPriceCents, Capacity: domain.MaxCapacity}
	c := created()
	c.Sections = []domain.SectionSpec{big, seated}
	c.MaxUnitsPerBuyer = domain.MaxUnitsPerBuyerLimit
	onSale := []domain.Event{c, published()}
	hold := func(items ...domain.ItemRequest) func(s *domain.Show) error {
		return func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: items}, t0, ttl)
		}
	}
	floor := func(q int) domain.ItemRequest { return domain.ItemRequest{Section: "floor", Quantity: q} }
	var verr *domain.ValidationError
	many := make([]domain.ItemRequest, domain.MaxUnitsPerOrder+1)
	for i := range many {
		many[i] = floor(1)
	}
	runShowCases(t, []showCase{
		// The sums of the issue: they wrapped to -100 and were accepted
		// with a total of -100,000.
		{name: "quantities whose sum wraps", given: onSale, when: hold(floor(math.MaxInt64), floor(9223372036854775709)), errAs: &verr},
		{name: "quantities whose sum wraps, free tickets", given: func() []domain.Event {
			free := c
			free.Sections = []domain.SectionSpec{{Name: "floor", Capacity: 100}}
			return []domain.Event{free, published()}
		}(), when: hold(floor(math.MaxInt64), floor(9223372036854775709)), errAs: &verr},
		{name: "max int quantity", given: onSale, when: hold(floor(math.MaxInt)), errAs: &verr},
		{name: "min int quantity", given: onSale, when: hold(floor(math.MinInt)), errAs: &verr},
		{name: "a huge and a negative quantity", given: onSale, when: hold(floor(math.MaxInt), floor(math.MinInt+60)), errAs: &verr},
		{name: "two items summing past the order limit", given: onSale, when: hold(floor(30), floor(30)), errAs: &verr},
		{name: "too many items", given: onSale, when: hold(many...), errAs: &verr},
		{name: "the largest order at the highest price", given: onSale, when: hold(floor(domain.MaxUnitsPerOrder)),
			then: []domain.Event{domain.SeatsHeld{ShowID: showID, OrderID: orderB, BuyerID: buyerID,
				Items:      []domain.HeldItem{{Section: "floor", Quantity: domain.MaxUnitsPerOrder, UnitPriceCents: domain.MaxPriceCents}},
				TotalCents: domain.MaxUnitsPerOrder * domain.MaxPriceCents, HeldAt: t0, ExpiresAt: t0.Add(ttl), HoldTTLSeconds: int64(ttl / time.Second)}}},
	})
}

func TestShow_HoldAfterStart(t *testing.T) {
	t.Parallel()
	starts := created().StartsAt
	ga := func(now time.Time) func(s *domain.Show) error {
		return func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}, now, ttl)
		}
	}
	onSale := []domain.Event{created(), published()}
	held := heldGA(orderB, 1, 500)
	held.HeldAt, held.ExpiresAt = starts.Add(-time.Second), starts.Add(-time.Second+ttl)
	runShowCases(t, []showCase{
		{name: "a second before the start", given: onSale, when: ga(starts.Add(-time.Second)), then: []domain.Event{held}},
		{name: "at the start", given: onSale, when: ga(starts), err: domain.ErrShowStarted},
		{name: "after the start", given: onSale, when: ga(starts.Add(time.Hour)), err: domain.ErrShowStarted},
	})
}

func TestShow_HoldBuyerLimit(t *testing.T) {
	t.Parallel()
	c := created()
	c.Sections = []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 100}, seated}
	c.MaxUnitsPerBuyer = 4
	onSale := []domain.Event{c, published()}
	other := uuid.MustParse("00000000-0000-0000-0000-00000000c002")
	ga := func(buyer uuid.UUID, q int) func(s *domain.Show) error {
		return func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyer, Items: []domain.ItemRequest{{Section: "floor", Quantity: q}}}, t0, ttl)
		}
	}
	held3 := heldGA(orderA, 3, 500)
	sold3 := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: held3.Items, TotalCents: 1500, At: t0}
	var limit *domain.BuyerLimitError
	runShowCases(t, []showCase{
		{name: "up to the limit", given: onSale, when: ga(buyerID, 4), then: []domain.Event{heldGA(orderB, 4, 500)}},
		{name: "past the limit in one hold", given: onSale, when: ga(buyerID, 5), errAs: &limit},
		{name: "past the limit with a hold", given: append(onSale, held3), when: ga(buyerID, 2), errAs: &limit},
		{name: "past the limit with a sale", given: append(onSale, held3, sold3), when: ga(buyerID, 2), errAs: &limit},
		{name: "the rest of the limit", given: append(onSale, held3, sold3), when: ga(buyerID, 1), then: []domain.Event{heldGA(orderB, 1, 500)}},
		{name: "seats count too", given: append(onSale, held3), when: func(s *domain.Show) error {
			return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 1}, {Section: "balcony", Row: "A", Seat: 2}}}, t0, ttl)
		}, errAs: &limit},
		{name: "a released hold gives its units back", given: append(onSale, held3,
			domain.SeatsReleased{ShowID: showID, OrderID: orderA, Reason: domain.ReleaseExpired, Items: held3.Items}),
			when: ga(buyerID, 4), then: []domain.Event{heldGA(orderB, 4, 500)}},
		{name: "another buyer has their own limit", given: append(onSale, held3), when: ga(other, 4), then: func() []domain.Event {
			e := heldGA(orderB, 4, 500)
			e.BuyerID = other
			return []domain.Event{e}
		}()},
		{name: "a lowered limit stops a buyer over it", given: append(onSale, held3, domain.ShowBuyerLimitChanged{ShowID: showID, MaxUnitsPerBuyer: 2}),
			when: ga(buyerID, 1), errAs: &limit},
	})
	s := domain.NewShow()
	s.Load(append(onSale, held3), 3)
	err := s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 2}}}, t0, ttl)
	if !errors.As(err, &limit) || *limit != (domain.BuyerLimitError{Limit: 4, Have: 3, Asked: 2}) || !errors.Is(err, domain.ErrBuyerLimit) {
		t.Fatalf("err = %#v", err)
	}
}

// The per-buyer tally survives a snapshot: the restored show refuses what
// the original refuses.
func TestShow_SnapshotKeepsBuyerUnits(t *testing.T) {
	t.Parallel()
	c := created()
	c.MaxUnitsPerBuyer = 3
	h := heldGA(orderA, 2, 500)
	history := []domain.Event{c, published(), h, domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: 1000}}
	s := domain.NewShow()
	s.Load(history, 4)
	restored := restoredShow(t, s)
	if !reflect.DeepEqual(restored.Snapshot(), s.Snapshot()) {
		t.Fatalf("restored:\n%+v\nwant\n%+v", restored.Snapshot(), s.Snapshot())
	}
	if got := restored.BuyerUnits(buyerID); got != 2 || restored.MaxUnitsPerBuyer() != 3 {
		t.Fatalf("restored tally %d, limit %d; want 2 and 3", got, restored.MaxUnitsPerBuyer())
	}
	for _, show := range []*domain.Show{s, restored} {
		err := show.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: buyerID, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 1}, {Section: "balcony", Row: "A", Seat: 2}}}, t0, ttl)
		if !errors.Is(err, domain.ErrBuyerLimit) {
			t.Fatalf("err = %v, want the buyer limit", err)
		}
	}
}

// showCreatedV1 is a show.created event as version 1 stored it, before
// max_units_per_buyer existed.
const showCreatedV1 = `{"show_id":"00000000-0000-0000-0000-00000000a001","organizer_id":"00000000-0000-0000-0000-00000000b001",
	"title":"Gig","venue":"Hall","starts_at":"2026-11-22T20:00:00Z","created_at":"2026-11-21T20:00:00Z",
	"sections":[{"name":"floor","price_cents":500,"capacity":3},{"name":"balcony","price_cents":900,"rows":[{"label":"A","seats":2}]}]}`

func TestRegistry_DecodeShowCreatedV1(t *testing.T) {
	t.Parallel()
	got, err := registry().DecodeRecorded(domain.RecordedEvent{Type: "show.created", Data: []byte(showCreatedV1)})
	if err != nil {
		t.Fatal(err)
	}
	want := created()
	want.MaxUnitsPerBuyer = 10
	if !reflect.DeepEqual(got, domain.Event(want)) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	data, err := domain.Encode([]domain.Event{want}, uuid.New, domain.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := domain.StoredSchemaVersion(data[0].Metadata); err != nil || v != 2 {
		t.Fatalf("stored schema version = %d, %v; want 2", v, err)
	}
}

func TestOrder_PlaceRefusesABadHold(t *testing.T) {
	t.Parallel()
	good := heldGA(orderA, 2, 500)
	cases := []struct {
		name  string
		given func(h *domain.SeatsHeld)
		field string
	}{
		{"wrapped quantities", func(h *domain.SeatsHeld) {
			h.Items = []domain.HeldItem{{Section: "floor", Quantity: math.MaxInt64, UnitPriceCents: 1000}, {Section: "floor", Quantity: 9223372036854775709, UnitPriceCents: 1000}}
			h.TotalCents = -100000
		}, "items[0].quantity"},
		{"negative quantity", func(h *domain.SeatsHeld) { h.Items[0].Quantity = -1 }, "items[0].quantity"},
		{"negative price", func(h *domain.SeatsHeld) { h.Items[0].UnitPriceCents = -500; h.TotalCents = -1000 }, "items[0].unit_price_cents"},
		{"total not the sum", func(h *domain.SeatsHeld) { h.TotalCents = 1 }, "total_cents"},
		{"nothing held", func(h *domain.SeatsHeld) { h.Items = nil }, "items"},
		{"expiry before the hold", func(h *domain.SeatsHeld) { h.ExpiresAt = h.HeldAt }, "expires_at"},
		{"no order id", func(h *domain.SeatsHeld) { h.OrderID = uuid.Nil }, "order_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := good
			h.Items = append([]domain.HeldItem(nil), good.Items...)
			c.given(&h)
			o := domain.NewOrder()
			if fields := fieldsOf(t, o.Place(h)); !hasField(fields, c.field) {
				t.Fatalf("fields %v, want %s", fields, c.field)
			}
			if len(o.Changes()) != 0 {
				t.Fatalf("raised %v", o.Changes())
			}
		})
	}
}

func TestOrder_Free(t *testing.T) {
	t.Parallel()
	free := domain.OrderPlaced{OrderID: orderA, ShowID: showID, BuyerID: buyerID,
		Items: []domain.HeldItem{{Section: "floor", Quantity: 2}}, PlacedAt: t0, ExpiresAt: t0.Add(ttl)}
	paid := placed()
	newTicket := uuid.New
	// Orders placed before holds were bounded: their sums wrapped.
	wrapped := domain.OrderPlaced{OrderID: orderA, ShowID: showID, BuyerID: buyerID, TotalCents: -100000, PlacedAt: t0, ExpiresAt: t0.Add(ttl),
		Items: []domain.HeldItem{{Section: "floor", Quantity: math.MaxInt64, UnitPriceCents: 1000}, {Section: "floor", Quantity: 9223372036854775709, UnitPriceCents: 1000}}}
	cases := []struct {
		name    string
		given   domain.Event
		payment string
		err     error
	}{
		{"a free order needs no payment", free, "", nil},
		{"a paid order needs a payment", paid, "", domain.ErrInvalidState},
		{"a paid order with a payment", paid, "ch_1", nil},
		{"a wrapped order cannot be paid", wrapped, "ch_1", domain.ErrInvalidState},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := domain.NewOrder()
			o.Load([]domain.Event{c.given}, 1)
			if err := o.Confirm(c.payment, t0, newTicket); !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.err == nil && (o.Status != domain.OrderStatusConfirmed || len(o.Tickets) != o.Units()) {
				t.Fatalf("status %s with %d tickets for %d units", o.Status, len(o.Tickets), o.Units())
			}
		})
	}
}
