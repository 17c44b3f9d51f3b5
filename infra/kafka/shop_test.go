package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/projections/projectionstest"
)

// t0 is the time of the shop's events.
var t0 = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)

// shop makes the events the command handlers make, with the domain
// aggregates, and appends them to a memory store with their expected
// versions and metadata.
type shop struct {
	t        *testing.T
	store    *memory.Store
	registry *domain.Registry
	last     domain.Position
	n        int
}

func newShop(t *testing.T) *shop {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	return &shop{t: t, store: memory.NewStore(), registry: registry}
}

func (s *shop) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// save appends events to stream at version and returns where the last one
// landed.
func (s *shop) save(stream string, version int64, events []domain.Event) domain.Position {
	s.t.Helper()
	s.n++
	data, err := domain.Encode(events, uuid.New, domain.Metadata{
		CorrelationID: fmt.Sprintf("corr-%d", s.n), CausationID: fmt.Sprintf("cause-%d", s.n), UserID: "u1",
	})
	s.must(err)
	res, err := s.store.Append(context.Background(), stream, version, data)
	s.must(err)
	s.last = res.Position
	return res.Position
}

func (s *shop) show(id uuid.UUID) *domain.Show {
	return projectionstest.Show(s.t, s.store, s.registry, id)
}

func (s *shop) order(id uuid.UUID) *domain.Order {
	return projectionstest.Order(s.t, s.store, s.registry, id)
}

// openShow creates a show with a general-admission section and a small
// seated one, and puts it on sale.
func (s *shop) openShow(title string) uuid.UUID {
	s.t.Helper()
	id := uuid.New()
	sh := domain.NewShow()
	s.must(sh.Create(domain.CreateShow{
		ShowID: id, OrganizerID: uuid.New(), Title: title, Venue: "Paradiso",
		StartsAt: t0.Add(30 * 24 * time.Hour),
		Sections: []domain.SectionSpec{
			{Name: "Floor", PriceCents: 2500, Capacity: 10_000},
			{Name: "Balcony", PriceCents: 4000, Rows: []domain.RowSpec{{Label: "A", Seats: 4}}},
		},
	}, t0))
	s.save(domain.ShowStream(id), sh.Version(), sh.Changes())
	sh = s.show(id)
	s.must(sh.Publish(t0.Add(time.Minute)))
	s.save(domain.ShowStream(id), sh.Version(), sh.Changes())
	return id
}

// newShow creates a draft show: one event on a new stream.
func (s *shop) newShow(title string) (uuid.UUID, domain.Position) {
	s.t.Helper()
	id := uuid.New()
	sh := domain.NewShow()
	s.must(sh.Create(domain.CreateShow{
		ShowID: id, OrganizerID: uuid.New(), Title: title, Venue: "Paradiso",
		StartsAt: t0.Add(30 * 24 * time.Hour),
		Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 2500, Capacity: 100}},
	}, t0))
	return id, s.save(domain.ShowStream(id), sh.Version(), sh.Changes())
}

// buy holds qty general-admission units, places the order, and then pays
// for it or cancels it.
// buyUntil buys in turn on shows (1 to 3 units, four orders in five paid),
// pausing between orders, until done is closed.
func (s *shop) buyUntil(done <-chan struct{}, shows []uuid.UUID, pause time.Duration) {
	for i := 0; ; i++ {
		s.buy(shows[i%len(shows)], 1+i%3, i%5 != 0)
		select {
		case <-done:
			return
		case <-time.After(pause):
		}
	}
}

func (s *shop) buy(show uuid.UUID, qty int, pay bool) uuid.UUID {
	s.t.Helper()
	sh := s.show(show)
	id := uuid.New()
	s.must(sh.Hold(domain.HoldRequest{OrderID: id, BuyerID: uuid.New(), Items: []domain.ItemRequest{{Section: "Floor", Quantity: qty}}}, t0, 15*time.Minute))
	held := sh.Changes()[0].(domain.SeatsHeld)
	s.save(domain.ShowStream(show), sh.Version(), sh.Changes())
	o := domain.NewOrder()
	s.must(o.Place(held))
	s.save(domain.OrderStream(id), o.Version(), o.Changes())
	o = s.order(id)
	if !pay {
		s.must(o.Cancel(t0.Add(2 * time.Minute)))
		s.save(domain.OrderStream(id), o.Version(), o.Changes())
		sh = s.show(show)
		sh.Release(id, domain.ReleaseCancelled, t0.Add(2*time.Minute))
		s.save(domain.ShowStream(show), sh.Version(), sh.Changes())
		return id
	}
	s.must(o.Confirm("ch_"+id.String()[:8], t0.Add(time.Minute), uuid.New))
	s.save(domain.OrderStream(id), o.Version(), o.Changes())
	sh = s.show(show)
	s.must(sh.Sell(id, t0.Add(time.Minute)))
	s.save(domain.ShowStream(show), sh.Version(), sh.Changes())
	return id
}

// all returns the whole log.
func (s *shop) all() []domain.RecordedEvent {
	s.t.Helper()
	recs, err := s.store.ReadAll(context.Background(), domain.Start, 1<<30)
	s.must(err)
	return recs
}
