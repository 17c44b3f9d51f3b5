// Package projectionstest holds projectors for the tests of parked streams
// in several packages, and what the tests that project a log share:
// running a Runner, loading aggregates and dumping the read models.
package projectionstest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// FixedShows is the shows projector of a fixed release: it stores a title
// without its NUL characters, which the released one parked on.
type FixedShows struct{ projections.Shows }

// Apply applies e with the NUL characters of a created show's title removed.
func (f FixedShows) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, e domain.Event) error {
	if c, ok := e.(domain.ShowCreated); ok {
		c.Title = strings.ReplaceAll(c.Title, "\x00", "")
		e = c
	}
	return f.Shows.Apply(ctx, db, rec, e)
}

// ApplyBatch applies one by one: Shows' own would skip the fix.
func (f FixedShows) ApplyBatch(ctx context.Context, db projections.DB, recs []domain.RecordedEvent, events []domain.Event) error {
	for i := range recs {
		if err := f.Apply(ctx, db, recs[i], events[i]); err != nil {
			return &projections.BatchError{Index: i, Err: err}
		}
	}
	return nil
}

// Start runs r until the test ends; an error Run returns then fails the
// test.
func Start(t testing.TB, r *projections.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
}

// ReadModelTables are every table the projectors write.
var ReadModelTables = []string{"rm_shows", "rm_sections", "rm_seats", "rm_orders", "rm_tickets", "rm_sales", "rm_sales_orders", "hold_deadlines"}

// DumpReadModels returns the rows of every table of ReadModelTables, each
// row t rendered by the SQL expression row (such as "t::text"), sorted.
func DumpReadModels(t testing.TB, db projections.DB, row string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range ReadModelTables {
		rows, err := db.Query(context.Background(), `select `+row+` from `+table+` t order by 1`)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = []string{}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// StreamReader reads the events of a stream, as every event store does.
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error)
}

// Show returns the show id as the events of its stream in store tell it.
func Show(t testing.TB, store StreamReader, registry *domain.Registry, id uuid.UUID) *domain.Show {
	t.Helper()
	s := domain.NewShow()
	s.Load(load(t, store, registry, domain.ShowStream(id)))
	return s
}

// Order returns the order id as the events of its stream in store tell it.
func Order(t testing.TB, store StreamReader, registry *domain.Registry, id uuid.UUID) *domain.Order {
	t.Helper()
	o := domain.NewOrder()
	o.Load(load(t, store, registry, domain.OrderStream(id)))
	return o
}

// load returns the decoded events of stream and its version.
func load(t testing.TB, store StreamReader, registry *domain.Registry, stream string) ([]domain.Event, int64) {
	t.Helper()
	recs, err := store.ReadStream(context.Background(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	events, err := registry.DecodeAll(recs)
	if err != nil {
		t.Fatal(err)
	}
	return events, int64(len(recs))
}
