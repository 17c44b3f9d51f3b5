package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// A Runner takes the events this process appended from Written as they
// were, without decoding them: a hold whose stored JSON it could not decode
// is projected from Written; without it, the projection stalls on it.
func TestRunner_TakesWrittenEvents(t *testing.T) {
	t.Parallel()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	show, org := uuid.New(), uuid.New()
	held := domain.SeatsHeld{ShowID: show, OrderID: uuid.New(), BuyerID: uuid.New(),
		Items: []domain.HeldItem{{Section: "floor", Quantity: 3, UnitPriceCents: 500}}, TotalCents: 1500,
		HeldAt: t0, ExpiresAt: t0.Add(time.Minute), HoldTTLSeconds: 60}
	log := logOf(t, "show-"+show.String(),
		domain.ShowCreated{ShowID: show, OrganizerID: org, Title: "Gig", Venue: "Hall", StartsAt: t0.Add(time.Hour),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 10}}, CreatedAt: t0},
		domain.ShowPublished{ShowID: show, At: t0},
		json.RawMessage(`{"not": "the hold"`))
	end := log[len(log)-1].Position
	for _, tc := range []struct {
		name    string
		written bool
	}{{"from Written", true}, {"without Written", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			models := postgres.NewReadModels(pgtest.NewPool(t))
			r := &projections.Runner{Feed: chunkedFeed{log: log, max: 10, fixed: true}, Store: models,
				Registry: registry, Projectors: projections.All()}
			if tc.written {
				r.Written = &projections.Written{}
				r.Written.Add([]uuid.UUID{log[2].ID}, []domain.Event{held})
			}
			c, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(c) }()
			ok, err := projections.NewQueries(models.DB()).WaitForPosition(ctx, end, 5*time.Second)
			cancel()
			if rerr := <-done; rerr != nil {
				t.Fatal(rerr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.written {
				// Every projection parks the stream at the event it cannot
				// decode, and goes on.
				if !ok {
					t.Fatalf("runner did not reach the end of the log: %+v", r.Status())
				}
				parked, err := projections.NewQueries(models.DB()).ParkedStreams(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(parked) != len(projections.All()) {
					t.Fatalf("parked: got %+v, want the stream in every projection", parked)
				}
				for _, p := range parked {
					if p.Stream != log[2].StreamID || p.Version != log[2].Version {
						t.Errorf("parked: got %+v, want %s@%d", p, log[2].StreamID, log[2].Version)
					}
				}
				return
			}
			if !ok {
				t.Fatalf("runner did not reach the end of the log: %+v", r.Status())
			}
			v, err := projections.NewQueries(models.DB()).Show(ctx, show)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Sections[0].Held; got != 3 {
				t.Fatalf("held = %d, want 3", got)
			}
		})
	}
}
