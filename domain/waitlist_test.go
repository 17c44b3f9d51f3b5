package domain_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var (
	waiterA = uuid.MustParse("00000000-0000-0000-0000-00000000e001")
	waiterB = uuid.MustParse("00000000-0000-0000-0000-00000000e002")
	waiterC = uuid.MustParse("00000000-0000-0000-0000-00000000e003")
	now1    = t0.Add(time.Hour)
)

func joined(buyer uuid.UUID, q int) domain.WaitlistJoined {
	return domain.WaitlistJoined{ShowID: showID, BuyerID: buyer, Section: "floor", Quantity: q, JoinedAt: t0}
}

func leftList(buyer uuid.UUID, reason string) domain.WaitlistLeft {
	return domain.WaitlistLeft{ShowID: showID, BuyerID: buyer, Section: "floor", Reason: reason, At: now1}
}

func releasedGA(order uuid.UUID, q int, reason string) domain.SeatsReleased {
	return domain.SeatsReleased{ShowID: showID, OrderID: order, Reason: reason,
		Items: []domain.HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: 500}}, At: now1}
}

// offerOf is the offer, and its hold, to the entry of the seq-th join.
func offerOf(buyer uuid.UUID, q int, seq int) []domain.Event {
	order := uuid.NewSHA1(showID, []byte("waitlist-offer/floor/"+strconv.Itoa(seq)))
	exp := now1.Add(domain.DefaultOfferWindow)
	return []domain.Event{
		domain.WaitlistOffered{ShowID: showID, BuyerID: buyer, Section: "floor", Quantity: q, OrderID: order, At: now1, ExpiresAt: exp},
		domain.SeatsHeld{ShowID: showID, OrderID: order, BuyerID: buyer,
			Items: []domain.HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: 500}}, TotalCents: 500 * int64(q),
			HeldAt: now1, ExpiresAt: exp, HoldTTLSeconds: int64(domain.DefaultOfferWindow / time.Second)},
	}
}

// soldOut is a show whose floor (3 units) is held by orderA.
func soldOut(more ...domain.Event) []domain.Event {
	return append([]domain.Event{created(), published(), heldGA(orderA, 3, 500)}, more...)
}

func cat(parts ...[]domain.Event) []domain.Event {
	var out []domain.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestShow_JoinWaitlist(t *testing.T) {
	t.Parallel()
	join := func(buyer uuid.UUID, section string, q int) func(*domain.Show) error {
		return func(s *domain.Show) error { return s.JoinWaitlist(buyer, section, q, t0) }
	}
	runShowCases(t, []showCase{
		{name: "sold out: joins", given: soldOut(), when: join(waiterA, "floor", 2), then: []domain.Event{joined(waiterA, 2)}},
		{name: "units left: buy instead", given: []domain.Event{created(), published(), heldGA(orderA, 2, 500)},
			when: join(waiterA, "floor", 1), err: domain.ErrNotSoldOut},
		{name: "twice", given: soldOut(joined(waiterA, 1)), when: join(waiterA, "floor", 1), err: domain.ErrAlreadyWaiting},
		{name: "with an open offer", given: cat(soldOut(joined(waiterA, 1)), []domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}, offerOf(waiterA, 1, 1),
			[]domain.Event{heldGA(orderB, 2, 500)}), when: join(waiterA, "floor", 1), err: domain.ErrAlreadyWaiting},
		{name: "seated section", given: soldOut(), when: join(waiterA, "balcony", 1), errAs: new(*domain.ValidationError)},
		{name: "no such section", given: soldOut(), when: join(waiterA, "pit", 1), errAs: new(*domain.ValidationError)},
		{name: "quantity 0", given: soldOut(), when: join(waiterA, "floor", 0), errAs: new(*domain.ValidationError)},
		{name: "quantity too large", given: soldOut(), when: join(waiterA, "floor", domain.MaxUnitsPerOrder+1), errAs: new(*domain.ValidationError)},
		{name: "past the buyer limit", given: soldOut(domain.ShowBuyerLimitChanged{ShowID: showID, MaxUnitsPerBuyer: 2}),
			when: join(waiterA, "floor", 3), errAs: new(*domain.BuyerLimitError)},
		{name: "draft", given: []domain.Event{created()}, when: join(waiterA, "floor", 1), err: domain.ErrNotOnSale},
		{name: "cancelled", given: soldOut(domain.ShowCancelled{ShowID: showID, At: t0}), when: join(waiterA, "floor", 1), err: domain.ErrShowCancelled},
		{name: "no show", when: join(waiterA, "floor", 1), err: domain.ErrShowNotFound},
	})
}

func TestShow_ReleaseOffersWaitlist(t *testing.T) {
	t.Parallel()
	release := func(s *domain.Show) error { s.Release(orderA, domain.ReleaseExpired, now1); return nil }
	runShowCases(t, []showCase{
		{name: "released units go to the first in line, in order", given: soldOut(joined(waiterA, 1), joined(waiterB, 2), joined(waiterC, 1)),
			when: release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}, offerOf(waiterA, 1, 1), offerOf(waiterB, 2, 2))},
		{name: "no one waiting: nothing more", given: soldOut(), when: release,
			then: []domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}},
		{name: "over the buyer limit: leaves, the next gets it",
			given: soldOut(joined(waiterA, 2), joined(waiterB, 1), domain.ShowBuyerLimitChanged{ShowID: showID, MaxUnitsPerBuyer: 1}),
			when:  release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired), leftList(waiterA, domain.WaitlistLeftBuyerLimit)},
				offerOf(waiterB, 1, 2))},
		{name: "cancelled show: no offer", given: soldOut(joined(waiterA, 1), domain.ShowCancelled{ShowID: showID, At: t0}), when: release,
			then: []domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}},
	})
}

func TestShow_WaitlistReserves(t *testing.T) {
	t.Parallel()
	// Floor of 3: orderA holds 1, orderB 2; A waits for 2, B for 1.
	given := []domain.Event{created(), published(), heldGA(orderA, 1, 500), heldGA(orderB, 2, 500), joined(waiterA, 2), joined(waiterB, 1)}
	reserved := domain.WaitlistReserved{ShowID: showID, Section: "floor", Quantity: 1, At: now1}
	runShowCases(t, []showCase{
		{name: "one unit for a buyer of two: reserved", given: given,
			when: func(s *domain.Show) error { s.Release(orderA, domain.ReleaseCancelled, now1); return nil },
			then: []domain.Event{releasedGA(orderA, 1, domain.ReleaseCancelled), reserved}},
		{name: "the reserved unit and a released one: offered", given: append(append([]domain.Event{}, given...), releasedGA(orderA, 1, domain.ReleaseCancelled), reserved),
			when: func(s *domain.Show) error {
				if s.Available("floor") != 0 {
					t.Errorf("available = %d, want 0: the reserved unit is not for sale", s.Available("floor"))
				}
				s.Release(orderB, domain.ReleaseExpired, now1)
				return nil
			},
			then: cat([]domain.Event{releasedGA(orderB, 2, domain.ReleaseExpired)}, offerOf(waiterA, 2, 1), offerOf(waiterB, 1, 2))},
		{name: "the first leaves: the reserved unit goes to the next", given: append(append([]domain.Event{}, given...), releasedGA(orderA, 1, domain.ReleaseCancelled), reserved),
			when: func(s *domain.Show) error { return s.LeaveWaitlist(waiterA, "floor", now1) },
			then: cat([]domain.Event{leftList(waiterA, domain.WaitlistLeftByBuyer)}, offerOf(waiterB, 1, 2))},
		{name: "leaving a list one is not on", given: given,
			when: func(s *domain.Show) error { return s.LeaveWaitlist(waiterC, "floor", now1) }, err: domain.ErrNotWaiting},
	})
}

func TestShow_WaitlistSnapshot(t *testing.T) {
	t.Parallel()
	s := domain.NewShow()
	history := cat(soldOut(joined(waiterA, 2), joined(waiterB, 1)), []domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}, offerOf(waiterA, 2, 1), offerOf(waiterB, 1, 2))
	s.Load(history, int64(len(history)))
	r := domain.RestoreShow(s.Snapshot(), s.Version())
	if got, want := len(r.WaitlistOffers()), 2; got != want {
		t.Fatalf("offers after restore = %d, want %d", got, want)
	}
	if err := r.JoinWaitlist(waiterA, "floor", 1, t0); err != domain.ErrAlreadyWaiting {
		t.Fatalf("join with an open offer after restore: %v, want ErrAlreadyWaiting", err)
	}
}
