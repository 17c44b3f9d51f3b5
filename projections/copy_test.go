package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// copyCounts counts the rows each table was loaded with by COPY, and the
// optimistic flushes (Copier.Try) that held and that were undone.
type copyCounts struct {
	mu            sync.Mutex
	rows          map[string]int
	tried, undone map[string]int // by projection
}

func (c *copyCounts) add(table string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[string]int{}
	}
	c.rows[table] += n
}

// copyCountingStore counts the rows its Apply's DB copies.
type copyCountingStore struct {
	*postgres.ReadModels
	counts *copyCounts
}

func (s copyCountingStore) Apply(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error) error {
	return s.ReadModels.Apply(ctx, name, to, func(db projections.DB, after domain.Position) error {
		return fn(copyCountingDB{db, db.(projections.Copier), s.counts, name}, after)
	})
}

type copyCountingDB struct {
	projections.DB
	c          projections.Copier
	counts     *copyCounts
	projection string
}

func (d copyCountingDB) CopyMin() int { return d.c.CopyMin() }

func (d copyCountingDB) Try(ctx context.Context, fn func() error) error {
	err := d.c.Try(ctx, fn)
	d.counts.mu.Lock()
	defer d.counts.mu.Unlock()
	if d.counts.tried == nil {
		d.counts.tried, d.counts.undone = map[string]int{}, map[string]int{}
	}
	d.counts.tried[d.projection]++
	if err != nil {
		d.counts.undone[d.projection]++
	}
	return err
}

func (d copyCountingDB) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error {
	d.counts.add(table, len(rows))
	return d.c.CopyFrom(ctx, table, columns, rows)
}

// TestBatchProjector_CopyMatchesInsert rebuilds the mixed logs (repeats,
// contradictions and events out of order included) with every run's new
// rows loaded by COPY, in batches of every size, and checks that the read
// models are exactly those of the projectors applied one event at a time
// with their INSERTs; and that COPY loaded rows into every table that has
// a COPY path.
func TestBatchProjector_CopyMatchesInsert(t *testing.T) {
	t.Parallel()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	for _, seed := range []uint64{4, 5} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			log := mixedLog(t, seed, 1500)
			refPool := pgtest.NewPool(t)
			ref := postgres.NewReadModels(refPool)
			project(t, log, ref, registry, perEventAll(), 100, domain.Position{})
			want := readModels(t, refPool)

			pool := pgtest.NewPool(t)
			tried, undone := map[string]int{}, map[string]int{}
			for _, batch := range []int{2, 16, 200, len(log)} {
				emptyReadModels(t, pool)
				counts := &copyCounts{}
				store := copyCountingStore{postgres.NewReadModels(pool).ForRebuild().WithCopyMin(1), counts}
				for _, p := range projections.All() {
					if _, err := projections.Rebuild(ctx, log, store, registry, p, batch, nil); err != nil {
						t.Fatalf("%s: %v", p.Name(), err)
					}
				}
				sameReadModels(t, fmt.Sprintf("COPY, batches of %d", batch), readModels(t, pool), want)
				for _, table := range copiedTables {
					if counts.rows[table] == 0 {
						t.Errorf("batches of %d: no row of %s copied", batch, table)
					}
				}
				// The log repeats orders: some optimistic flushes find
				// rows there, and are done again.
				for p, n := range counts.tried {
					tried[p] += n
					undone[p] += counts.undone[p]
				}
			}
			for _, p := range []string{projections.NameOrders, projections.NameAnalytics, projections.NameSales} {
				if undone[p] == 0 || undone[p] == tried[p] {
					t.Errorf("%s: %d optimistic flushes, %d undone: want some of each", p, tried[p], undone[p])
				}
			}
		})
	}
}

// copiedTables are the tables that projectors load by COPY.
var copiedTables = []string{"rm_orders", "rm_tickets", "rm_sales_orders", "rm_analytics_orders"}

// TestAnalytics_CopiedPayTimes checks the pay times of copied orders, which
// are computed in Go, against those PostgreSQL computes in the INSERT, at
// the edges of its microseconds and milliseconds: nanoseconds on both
// sides of a millisecond, and a payment recorded before its placing.
func TestAnalytics_CopiedPayTimes(t *testing.T) {
	t.Parallel()
	l := newErrorLogs()
	var items []any
	for i, d := range [][2]time.Duration{
		{500, time.Millisecond + 400},                // 999,900 ns: 1 ms in whole microseconds
		{999, 2*time.Millisecond - 1},                // 1,999,999 − 999 ns
		{1500, -1500},                                // paid 3 µs before it was placed
		{0, -time.Millisecond - 1},                   // floor, not truncation
		{123_456_789, 25*time.Hour + 987_654_321},    // across days
		{time.Microsecond - 1, time.Microsecond + 1}, // a microsecond apart in nanoseconds, 1 in microseconds
	} {
		order := uuid.New()
		placed := l.placed(order, 1)
		placed.PlacedAt = t0.Add(d[0])
		confirmed := l.confirmed(order, 1000)
		confirmed.ConfirmedAt = t0.Add(d[0] + d[1])
		items = append(items, fmt.Sprintf("order-%d", i), placed, confirmed)
	}
	log := logOf(t, items...)
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	refPool, pool := pgtest.NewPool(t), pgtest.NewPool(t)
	project(t, log, postgres.NewReadModels(refPool), registry, []projections.Projector{perEvent{projections.Analytics{}}}, 1, domain.Position{})
	counts := &copyCounts{}
	store := copyCountingStore{postgres.NewReadModels(pool).ForRebuild().WithCopyMin(1), counts}
	if _, err := projections.Rebuild(ctx, log, store, registry, projections.Analytics{}, len(log), nil); err != nil {
		t.Fatal(err)
	}
	if counts.rows["rm_analytics_orders"] != 6 {
		t.Fatalf("copied %v, want the 6 orders", counts.rows)
	}
	sameReadModels(t, "COPY", readModels(t, pool), readModels(t, refPool))
}
