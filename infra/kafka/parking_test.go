package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/projections/projectionstest"
)

// A poison event delivered through Kafka parks its stream: the stream's
// later events wait behind it, every other stream (in its partition and
// in the others) goes on, the offsets are committed, and a retry with a
// fixed projector resumes the stream, whose next events then flow again.
func TestConsumer_ParksPoisonStream(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		p := newPipeline(t, b, 2)
		p.startRelay()
		p.startConsumers()
		s := p.shop
		before := s.openShow("Before")
		bad := uuid.New()
		stream := domain.ShowStream(bad)
		// Appended past the domain's validation: PostgreSQL text cannot hold
		// the NUL of the title.
		s.save(stream, domain.NoStream, []domain.Event{
			domain.ShowCreated{ShowID: bad, OrganizerID: uuid.New(), Title: "Nul\x00Title", Venue: "Paradiso",
				StartsAt: t0.Add(30 * 24 * time.Hour), CreatedAt: t0, Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 2500, Capacity: 100}}},
			domain.ShowPublished{ShowID: bad, At: t0},
		})
		var after []uuid.UUID
		for _, title := range []string{"After1", "After2", "After3", "After4"} {
			after = append(after, s.openShow(title)) // in both partitions
		}
		s.save(stream, 2, []domain.Event{domain.ShowDetailsChanged{ShowID: bad, Title: "Renamed", Venue: "Paradiso", StartsAt: t0.Add(30 * 24 * time.Hour)}})
		p.waitApplied(s.last, 20*time.Second)

		for _, id := range append([]uuid.UUID{before}, after...) {
			if v, err := p.q.Show(context.Background(), id); err != nil || v.Status != string(domain.ShowStatusOnSale) {
				t.Errorf("show of another stream: got %+v, %v; want it on sale", v, err)
			}
		}
		if _, err := p.q.Show(context.Background(), bad); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("the poisoned show: got %v, want not applied", err)
		}
		parked, err := p.q.ParkedStreams(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(parked) != 1 || parked[0].Projection != projections.NameShows || parked[0].Stream != stream || parked[0].Version != 1 ||
			parked[0].Waiting != 3 || !strings.Contains(parked[0].Error, "0x00") {
			t.Fatalf("parked: got %+v, want shows parked at %s@1 with 3 events waiting", parked, stream)
		}
		for _, st := range p.runner.Status() {
			if st.Name == projections.NameShows && (len(st.Parked) != 1 || st.Parked[0].Stream != stream) {
				t.Errorf("runner status: got %+v, want %s parked", st, stream)
			}
		}
		// Parked is done: nothing is delivered again and again.
		p.waitCommitted(projectionNames()...)
		p.noStalls()
		if _, err := p.q.WaitFor(context.Background(), s.last, []string{projections.NameShows}, []string{stream}, time.Second); err == nil {
			t.Error("a wait for the parked stream: got nil, want a *ParkedError")
		}

		res, err := projections.Retry(context.Background(), p.models, s.registry, projectionstest.FixedShows{}, stream)
		if err != nil || res.Applied != 3 || res.Parked != nil {
			t.Fatalf("retry: got %+v, %v; want 3 applied", res, err)
		}
		v, err := p.q.Show(context.Background(), bad)
		if err != nil || v.Title != "Renamed" || v.Status != string(domain.ShowStatusOnSale) {
			t.Errorf("the resumed show: got %+v, %v; want Renamed on sale", v, err)
		}
		s.save(stream, 3, []domain.Event{domain.ShowCancelled{ShowID: bad, At: t0.Add(time.Hour)}})
		p.waitApplied(s.last, 20*time.Second)
		if ok, err := p.q.WaitFor(context.Background(), s.last, []string{projections.NameShows}, []string{stream}, 5*time.Second); !ok || err != nil {
			t.Errorf("a wait for the resumed stream: got %v, %v", ok, err)
		}
		if v, err := p.q.Show(context.Background(), bad); err != nil || v.Status != string(domain.ShowStatusCancelled) {
			t.Errorf("after the retry: got %+v, %v; want the next event applied", v, err)
		}
	})
}
