package domain_test

import (
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// A refund that restocks decides like a release (issue 14: the seams of
// money, rules and waitlist): its units go to the waiting list first, and
// the quotas they counted against get them back.

// soldGA is a show whose floor (3 units) is sold to orderA, with more events
// after.
func soldGA(more ...domain.Event) []domain.Event {
	h := heldGA(orderA, 3, 500)
	sale := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: h.TotalCents, At: t0}
	return append([]domain.Event{created(), published(), h, sale}, more...)
}

// restockOf is a restocking refund of q floor units of orderA (at 500,
// of ticket type typ).
func restockOf(q int, typ string) domain.OrderRefunded {
	return domain.OrderRefunded{OrderID: orderA, ShowID: showID, BuyerID: buyerID, RefundID: domain.RefundKey(orderA, 3), PaymentID: "ch_1",
		AmountCents: 500 * int64(q), Items: []domain.HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: 500, TicketType: typ}},
		Reason: "sick", Restock: true, RefundedAt: now1}
}

// returnedOf is what ReturnSeats raises for r at now1, giving back quotas.
func returnedOf(r domain.OrderRefunded, quotas ...domain.QuotaUse) domain.SeatsReturned {
	return domain.SeatsReturned{ShowID: showID, OrderID: r.OrderID, BuyerID: r.BuyerID, RefundID: r.RefundID, Items: r.Items, Seats: r.Seats,
		At: now1, Quotas: quotas}
}

// reservedOne is a floor sold 2 to orderA, whose third unit, released by
// orderB, is reserved for waiterA, who wants 2.
func reservedOne() []domain.Event {
	h := heldGA(orderA, 2, 500)
	sale := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: h.TotalCents, At: t0}
	return []domain.Event{created(), published(), h, sale, heldGA(orderB, 1, 500), joined(waiterA, 2), releasedGA(orderB, 1, domain.ReleaseExpired),
		domain.WaitlistReserved{ShowID: showID, Section: "floor", Quantity: 1, At: now1}}
}

func TestShow_ReturnSeatsOffersTheWaitlist(t *testing.T) {
	t.Parallel()
	ret := func(r domain.OrderRefunded) func(*domain.Show) error {
		return func(s *domain.Show) error { return s.ReturnSeats(r, now1) }
	}
	one, two := restockOf(1, ""), restockOf(2, "")
	runShowCases(t, []showCase{
		{name: "no one waits: back on sale", given: soldGA(), when: ret(one), then: []domain.Event{returnedOf(one)}},
		{name: "a buyer waits: the returned unit is offered in the same decision", given: soldGA(joined(waiterA, 1)), when: ret(one),
			then: cat([]domain.Event{returnedOf(one)}, offerOf(waiterA, 1, 1))},
		{name: "first come first served", given: soldGA(joined(waiterA, 1), joined(waiterB, 1)), when: ret(one),
			then: cat([]domain.Event{returnedOf(one)}, offerOf(waiterA, 1, 1))},
		{name: "two returned: two offers in order", given: soldGA(joined(waiterA, 1), joined(waiterB, 1)), when: ret(two),
			then: cat([]domain.Event{returnedOf(two)}, offerOf(waiterA, 1, 1), offerOf(waiterB, 1, 2))},
		{name: "the head wants more: the unit is reserved for the list", given: soldGA(joined(waiterA, 2), joined(waiterB, 1)), when: ret(one),
			then: []domain.Event{returnedOf(one), domain.WaitlistReserved{ShowID: showID, Section: "floor", Quantity: 1, At: now1}}},
		{name: "reserved and returned units make the offer", given: reservedOne(), when: ret(one),
			then: cat([]domain.Event{returnedOf(one)}, offerOf(waiterA, 2, 1))},
		{name: "returned twice: no second offer", given: soldGA(joined(waiterA, 1), returnedOf(one)), when: ret(one)},
	})
}

func TestShow_ReturnSeatsGivesBackQuotas(t *testing.T) {
	t.Parallel()
	kid := domain.TicketTypeSet{ShowID: showID, TicketType: domain.TicketType{Code: "kid", Name: "Kid", Section: "floor", PriceCents: 500}}
	byType := domain.QuotaSet{ShowID: showID, Quota: domain.Quota{Code: "KIDS", Units: 3, TicketTypes: []string{"kid"}}}
	bySection := domain.QuotaSet{ShowID: showID, Quota: domain.Quota{Code: "FLOOR", Units: 3, Sections: []string{"floor"}}}
	balcony := domain.QuotaSet{ShowID: showID, Quota: domain.Quota{Code: "BAL", Units: 1, Sections: []string{"balcony"}}}
	// sold is a sale of 3 kid units, taking KIDS and FLOOR in full.
	sold := func(more ...domain.Event) []domain.Event {
		h := heldGA(orderA, 3, 500)
		h.Items[0].TicketType = "kid"
		h.Quotas = []domain.QuotaUse{{Quota: "KIDS", Units: 3}, {Quota: "FLOOR", Units: 3}}
		sale := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: h.TotalCents, At: t0}
		return append([]domain.Event{created(), published(), kid, byType, bySection, balcony, h, sale}, more...)
	}
	r := restockOf(1, "kid")
	back := returnedOf(r, domain.QuotaUse{Quota: "KIDS", Units: 1}, domain.QuotaUse{Quota: "FLOOR", Units: 1})
	hold := func(s *domain.Show) error {
		return s.Hold(domain.HoldRequest{OrderID: orderB, BuyerID: waiterA, Items: []domain.ItemRequest{{TicketType: "kid", Quantity: 1}}}, now1, ttl)
	}
	again := domain.SeatsHeld{ShowID: showID, OrderID: orderB, BuyerID: waiterA,
		Items: []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500, TicketType: "kid"}}, TotalCents: 500,
		HeldAt: now1, ExpiresAt: now1.Add(ttl), HoldTTLSeconds: int64(ttl.Seconds()),
		Quotas: []domain.QuotaUse{{Quota: "KIDS", Units: 1}, {Quota: "FLOOR", Units: 1}}}
	runShowCases(t, []showCase{
		{name: "the quotas covering the units get them back", given: sold(),
			when: func(s *domain.Show) error { return s.ReturnSeats(r, now1) }, then: []domain.Event{back}},
		{name: "a quota sold out refuses a hold", given: sold(), when: hold, errAs: new(*domain.QuotaError)},
		{name: "after the restock a hold under the quota succeeds", given: sold(back), when: hold, then: []domain.Event{again}},
		{name: "no quota gives back more than is taken", given: sold(back, again),
			when: func(s *domain.Show) error {
				r2 := restockOf(2, "kid")
				r2.RefundID = domain.RefundKey(orderA, 4)
				return s.ReturnSeats(r2, now1)
			},
			then: []domain.Event{func() domain.SeatsReturned {
				r2 := restockOf(2, "kid")
				r2.RefundID = domain.RefundKey(orderA, 4)
				return returnedOf(r2, domain.QuotaUse{Quota: "KIDS", Units: 2}, domain.QuotaUse{Quota: "FLOOR", Units: 2})
			}()}},
	})
	s := domain.NewShow()
	given := sold(back)
	s.Load(given, int64(len(given)))
	want := map[string]int{"KIDS": 2, "FLOOR": 2, "BAL": 0}
	for _, q := range s.Quotas() {
		if q.Taken != want[q.Code] {
			t.Errorf("quota %s: taken %d, want %d", q.Code, q.Taken, want[q.Code])
		}
	}
	restored := domain.RestoreShow(s.Snapshot(), s.Version())
	if !reflect.DeepEqual(restored.Quotas(), s.Quotas()) {
		t.Errorf("the snapshot lost the quota units given back: %v, want %v", restored.Quotas(), s.Quotas())
	}
}

func TestOrder_RefundKeepsTicketTypes(t *testing.T) {
	t.Parallel()
	g1, g2 := uuid.New(), uuid.New()
	items := []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 300, TicketType: "kid"}, {Section: "floor", Quantity: 1, UnitPriceCents: 500}}
	given := []domain.Event{
		domain.OrderPlaced{OrderID: orderA, ShowID: showID, BuyerID: buyerID, Items: items, TotalCents: 800, PlacedAt: t0, ExpiresAt: t0.Add(ttl)},
		domain.OrderConfirmed{OrderID: orderA, ShowID: showID, BuyerID: buyerID, PaymentID: "ch_1", TotalCents: 800, ConfirmedAt: t0,
			Tickets: []domain.Ticket{{ID: g1, Section: "floor"}, {ID: g2, Section: "floor"}}},
	}
	cases := []struct {
		name   string
		ticket uuid.UUID
		amount int64
		items  []domain.HeldItem
	}{
		{"the kid ticket", g1, 300, []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 300, TicketType: "kid"}}},
		{"the adult ticket, priced by its own item", g2, 500, []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := domain.NewOrder()
			o.Load(given, 2)
			if err := o.Refund(domain.RefundRequest{Tickets: []uuid.UUID{c.ticket}, Reason: "r", Restock: true}, t0); err != nil {
				t.Fatal(err)
			}
			e := o.Changes()[0].(domain.OrderRefunded)
			if e.AmountCents != c.amount || !reflect.DeepEqual(e.Items, c.items) {
				t.Errorf("refund %d %v, want %d %v", e.AmountCents, e.Items, c.amount, c.items)
			}
		})
	}
}

// An offer is a hold: it takes the quota units of its section, which the
// restock (or release) just gave back; a quota short of them makes no
// offer, and the buyer keeps their place.
func TestShow_WaitlistOfferTakesQuotaUnits(t *testing.T) {
	t.Parallel()
	floorQuota := func(units int) domain.QuotaSet {
		return domain.QuotaSet{ShowID: showID, Quota: domain.Quota{Code: "FLOOR", Units: units, Sections: []string{"floor"}}}
	}
	h := heldGA(orderA, 3, 500)
	h.Quotas = []domain.QuotaUse{{Quota: "FLOOR", Units: 3}}
	sale := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, TotalCents: h.TotalCents, At: t0}
	given := func(more ...domain.Event) []domain.Event {
		return append([]domain.Event{created(), published(), floorQuota(3), h, sale, joined(waiterA, 1)}, more...)
	}
	r := restockOf(1, "")
	back := returnedOf(r, domain.QuotaUse{Quota: "FLOOR", Units: 1})
	offer := offerOf(waiterA, 1, 1)
	held := offer[1].(domain.SeatsHeld)
	held.Quotas = []domain.QuotaUse{{Quota: "FLOOR", Units: 1}}
	runShowCases(t, []showCase{
		{name: "the offer takes the unit given back", given: given(),
			when: func(s *domain.Show) error { return s.ReturnSeats(r, now1) }, then: []domain.Event{back, offer[0], held}},
		{name: "a quota lowered below its units: no offer", given: given(floorQuota(1)),
			when: func(s *domain.Show) error { return s.ReturnSeats(r, now1) }, then: []domain.Event{back}},
		{name: "a release gives back and offers the same way", given: []domain.Event{created(), published(), floorQuota(3), h, joined(waiterA, 1)},
			when: func(s *domain.Show) error { s.Release(orderA, domain.ReleaseExpired, now1); return nil },
			then: []domain.Event{domain.SeatsReleased{ShowID: showID, OrderID: orderA, Reason: domain.ReleaseExpired, Items: h.Items, At: now1,
				Quotas: h.Quotas}, offer[0], held}},
	})
}
