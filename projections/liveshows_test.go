package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

func TestQueries_LiveShows(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org := uuid.New()
	floor := domain.SectionSpec{Name: "Floor", PriceCents: 1000, Capacity: 10}
	w.createShow(org, "Draft", floor)
	w.publishedShow(org, "On sale", floor)
	w.cancelShow(w.publishedShow(org, "Cancelled", floor))
	w.createShow(uuid.New(), "Another organizer's", floor)
	w.sync()
	for _, c := range []struct {
		name string
		at   time.Time
		want int
	}{
		{"before the start", t0, 2},
		{"after the start", t0.Add(31 * 24 * time.Hour), 0},
	} {
		got, err := w.q.LiveShows(context.Background(), org, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: %d live shows, want %d", c.name, got, c.want)
		}
	}
}
