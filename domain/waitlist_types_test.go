package domain_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// The waiting list of a ticket type: child (300) and hidden vip (2000) of
// the floor, the floor sold out.
func typedSoldOut(more ...domain.Event) []domain.Event {
	child := typeSet(domain.TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 300})
	vip := typeSet(domain.TicketType{Code: "vip", Name: "VIP", Section: "floor", PriceCents: 2000, Hidden: true})
	late := typeSet(domain.TicketType{Code: "late", Name: "Late", Section: "floor", PriceCents: 400, OnSaleFrom: t0.Add(24 * time.Hour)})
	return soldOut(append([]domain.Event{child, vip, late}, more...)...)
}

func joinedType(buyer uuid.UUID, q int, typ string) domain.WaitlistJoined {
	e := joined(buyer, q)
	e.TicketType = typ
	return e
}

// typedOfferOf is the offer of the seq-th join at the type's price.
func typedOfferOf(buyer uuid.UUID, q, seq int, typ string, price int64, quotas ...domain.QuotaUse) []domain.Event {
	order := uuid.NewSHA1(showID, []byte("waitlist-offer/floor/"+strconv.Itoa(seq)))
	exp := now1.Add(domain.DefaultOfferWindow)
	return []domain.Event{
		domain.WaitlistOffered{ShowID: showID, BuyerID: buyer, Section: "floor", Quantity: q, OrderID: order, At: now1, ExpiresAt: exp, TicketType: typ},
		domain.SeatsHeld{ShowID: showID, OrderID: order, BuyerID: buyer,
			Items: []domain.HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: price, TicketType: typ}}, TotalCents: price * int64(q),
			HeldAt: now1, ExpiresAt: exp, HoldTTLSeconds: int64(domain.DefaultOfferWindow / time.Second), Quotas: quotas},
	}
}

func TestShow_JoinWaitlistType(t *testing.T) {
	t.Parallel()
	join := func(section, typ string, q int) func(*domain.Show) error {
		return func(s *domain.Show) error {
			got, err := s.JoinWaitlistType(waiterA, section, typ, q, t0)
			if err == nil && got != "floor" {
				t.Errorf("section joined = %q, want floor", got)
			}
			return err
		}
	}
	runShowCases(t, []showCase{
		{name: "a type: joins", given: typedSoldOut(), when: join("floor", "child", 2), then: []domain.Event{joinedType(waiterA, 2, "child")}},
		{name: "the type alone: its section", given: typedSoldOut(), when: join("", "child", 2), then: []domain.Event{joinedType(waiterA, 2, "child")}},
		{name: "no such type", given: typedSoldOut(), when: join("floor", "adult", 1), errAs: new(*domain.ValidationError)},
		{name: "a hidden type is no type", given: typedSoldOut(), when: join("floor", "vip", 1), errAs: new(*domain.ValidationError)},
		{name: "a type of another section", given: typedSoldOut(), when: join("balcony", "child", 1), errAs: new(*domain.ValidationError)},
		{name: "off sale", given: typedSoldOut(), when: join("floor", "late", 1), errAs: new(*domain.TicketTypeOffSaleError)},
		{name: "waiting in the section already", given: typedSoldOut(joined(waiterA, 1)), when: join("floor", "child", 1), err: domain.ErrAlreadyWaiting},
		{name: "units left: buy instead", given: []domain.Event{created(), published(), heldGA(orderA, 2, 500),
			typeSet(domain.TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 300})},
			when: join("", "child", 1), err: domain.ErrNotSoldOut},
	})
}

func TestShow_WaitlistTypeOffers(t *testing.T) {
	t.Parallel()
	release := func(s *domain.Show) error { s.Release(orderA, domain.ReleaseExpired, now1); return nil }
	price := typeSet(domain.TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 350})
	runShowCases(t, []showCase{
		{name: "FIFO across the section's types, each at its price",
			given: typedSoldOut(joinedType(waiterA, 1, "child"), joined(waiterB, 1), joinedType(waiterC, 2, "child")),
			when:  release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}, typedOfferOf(waiterA, 1, 1, "child", 300),
				offerOf(waiterB, 1, 2), []domain.Event{domain.WaitlistReserved{ShowID: showID, Section: "floor", Quantity: 1, At: now1}})},
		{name: "the type's price in force at the offer", given: typedSoldOut(joinedType(waiterA, 2, "child"), price), when: release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}, typedOfferOf(waiterA, 2, 1, "child", 350))},
		{name: "the offer takes the type's quota units",
			given: typedSoldOut(quota("KIDS", 5, nil, "child"), joinedType(waiterA, 2, "child")), when: release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)},
				typedOfferOf(waiterA, 2, 1, "child", 300, domain.QuotaUse{Quota: "KIDS", Units: 2}))},
		{name: "the type off sale at the offer: the buyer leaves, the next gets it",
			given: typedSoldOut(joinedType(waiterA, 1, "child"), joined(waiterB, 1),
				typeSet(domain.TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 300, OnSaleUntil: now1})),
			when: release,
			then: cat([]domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired), leftList(waiterA, domain.WaitlistLeftOffSale)}, offerOf(waiterB, 1, 2))},
		{name: "the type's quota short: no offer, the buyer keeps their place",
			given: typedSoldOut(quota("KIDS", 1, nil, "child"), joinedType(waiterA, 2, "child")), when: release,
			then: []domain.Event{releasedGA(orderA, 3, domain.ReleaseExpired)}},
	})
}
