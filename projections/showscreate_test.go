package projections_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// TestBatchProjector_ShowsCreatedInRuns: the shows projection's runs take
// show creations and status changes (issue 17), and leave the read models
// as Apply does event by event: a status change and a hold before the
// creation, a second creation, seats held in the show created in the same
// run, shows created side by side.
func TestBatchProjector_ShowsCreatedInRuns(t *testing.T) {
	t.Parallel()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	seated := func(id uuid.UUID, title string) domain.ShowCreated {
		e := bigShow(id, domain.SectionSpec{Name: "Stalls", PriceCents: 2000,
			Rows: []domain.RowSpec{{Label: "A", Seats: 3}, {Label: "B", Seats: 2}}})
		e.Sections = append(e.Sections, domain.SectionSpec{Name: "Floor", PriceCents: 1000, Capacity: 10})
		e.Title = title
		return e
	}
	held := func(show uuid.UUID, seat int) domain.SeatsHeld {
		return domain.SeatsHeld{ShowID: show, OrderID: uuid.New(), ExpiresAt: t0,
			Seats: []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "Stalls", Row: "B", Seat: seat}, PriceCents: 2000}},
			Items: []domain.HeldItem{{Section: "Floor", Quantity: 2, UnitPriceCents: 1000}}}
	}
	log := logOf(t,
		domain.ShowStream(a), held(a, 1), seated(a, "first"),
		seated(a, "again"), domain.ShowPublished{ShowID: a, At: t0.Add(1)}, held(a, 2),
		domain.ShowStream(b), domain.ShowPublished{ShowID: b, At: t0}, seated(b, "b"), held(b, 1),
		domain.ShowStream(c), seated(c, "c"), domain.ShowPublished{ShowID: c, At: t0.Add(3)},
		domain.SeatsSold{ShowID: c, OrderID: uuid.New(), Seats: []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "Stalls", Row: "A", Seat: 3}}}},
		domain.ShowCancelled{ShowID: c, At: t0.Add(2)},
		domain.ShowStream(a), seated(a, "late"), held(a, 1),
	)
	refPool := pgtest.NewPool(t)
	project(t, log, postgres.NewReadModels(refPool).ForRebuild(), registry, []projections.Projector{perEvent{projections.Shows{}}}, 1, domain.Position{})
	want := readModels(t, refPool)
	pool := pgtest.NewPool(t)
	models := postgres.NewReadModels(pool).ForRebuild()
	for _, batch := range []int{2, 3, 4, 5, 7, len(log)} {
		emptyReadModels(t, pool)
		project(t, log, models, registry, []projections.Projector{projections.Shows{}}, batch, domain.Position{})
		sameReadModels(t, fmt.Sprintf("batches of %d", batch), readModels(t, pool), want)
	}
}
