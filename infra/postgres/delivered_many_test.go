package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// One transaction applies a delivery to several projections, each with its
// own versions and progress: a gap in one stops only that one, and a
// failure names the projection whose statement or function failed, with
// nothing committed.
// deliveredTo returns projections names, each applying its events with fn.
func deliveredTo(fn func(projections.DB, domain.RecordedEvent) error, names ...string) []projections.DeliveredTo {
	apply := func(db projections.DB, _ []projections.ParkedStream, recs []domain.RecordedEvent) error {
		for _, r := range recs {
			if err := fn(db, r); err != nil {
				return err
			}
		}
		return nil
	}
	var out []projections.DeliveredTo
	for _, n := range names {
		out = append(out, projections.DeliveredTo{Name: n, Apply: apply})
	}
	return out
}

func TestReadModels_ApplyDeliveredMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	m, fn := postgres.NewReadModels(pool), appliedTable(t, pool)
	to := func(names ...string) []projections.DeliveredTo { return deliveredTo(fn, names...) }
	// p2 has seen g at version 1 already, p1 and p3 have not.
	if _, err := applyOne(m, "p2", 0, []domain.RecordedEvent{rec("g", 1, 1)}, fn); err != nil {
		t.Fatal(err)
	}
	deliveries := []projections.Delivery{
		{Partition: 0, Events: []domain.RecordedEvent{rec("a", 1, 2), rec("g", 2, 4)}},
		{Partition: 1, Events: []domain.RecordedEvent{rec("b", 1, 3)}},
	}
	done, gaps, culprit, err := m.ApplyDeliveredMany(ctx, deliveries, to("p1", "p2", "p3"))
	if err != nil || culprit != -1 {
		t.Fatalf("apply: %v, culprit %d", err, culprit)
	}
	for k, want := range [][]int{{1, 1}, {2, 1}, {1, 1}} {
		if len(done[k]) != 2 || done[k][0] != want[0] || done[k][1] != want[1] {
			t.Errorf("p%d: done %v, want %v", k+1, done[k], want)
		}
	}
	if g, ok := errors.AsType[*projections.GapError](gaps[0]); !ok || g.Stream != "g" || g.Want != 1 || g.Got != 2 {
		t.Errorf("p1: gap %v, want g's version 1 missing", gaps[0])
	}
	if gaps[1] != nil || gaps[2] == nil {
		t.Errorf("gaps %v, want p2 none and p3 one", gaps)
	}
	// g 1, then a, b for each, and g 2 for p2: 1 + 3*2 + 1.
	if rows, distinct := countApplied(t, pool); rows != 8 || distinct != 4 {
		t.Errorf("applied %d rows, %d distinct; want 8 and 4", rows, distinct)
	}
	progress := func(name string, part int) (pos int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `select commit_pos from projection_partitions where name = $1 and partition = $2`, name, part).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return pos
	}
	if a, b, c := progress("p1", 0), progress("p2", 0), progress("p3", 1); a != 2 || b != 4 || c != 3 {
		t.Errorf("progress p1/0 %d, p2/0 %d, p3/1 %d; want 2, 4 and 3", a, b, c)
	}
	// Delivered again: skipped by version, nothing applied twice.
	if _, _, _, err := m.ApplyDeliveredMany(ctx, deliveries, to("p1", "p2", "p3")); err != nil {
		t.Fatal(err)
	}
	if rows, _ := countApplied(t, pool); rows != 8 {
		t.Errorf("applied %d rows after a redelivery, want 8", rows)
	}

	next := []projections.Delivery{{Partition: 1, Events: []domain.RecordedEvent{rec("b", 2, 5), rec("c", 1, 6)}}}
	failing := to("p1", "p2", "p3")
	// A queued statement of p2 fails at COMMIT's round trip.
	failing[1].Apply = func(db projections.DB, _ []projections.ParkedStream, recs []domain.RecordedEvent) error {
		return db.Exec(ctx, `select 1 / 0`)
	}
	if _, _, culprit, err := m.ApplyDeliveredMany(ctx, next, failing); err == nil || culprit != 1 {
		t.Errorf("a failing statement of p2: err %v, culprit %d; want an error and 1", err, culprit)
	}
	// p3's function fails.
	failing = to("p1", "p2", "p3")
	failing[2].Apply = func(projections.DB, []projections.ParkedStream, []domain.RecordedEvent) error {
		return errors.New("no")
	}
	if _, _, culprit, err := m.ApplyDeliveredMany(ctx, next, failing); err == nil || culprit != 2 {
		t.Errorf("p3 failing: err %v, culprit %d; want an error and 2", err, culprit)
	}
	if rows, _ := countApplied(t, pool); rows != 8 {
		t.Errorf("applied %d rows after failed transactions, want 8: nothing committed", rows)
	}
	if progress("p1", 1) != 3 {
		t.Error("p1's progress moved in a failed transaction")
	}
}
