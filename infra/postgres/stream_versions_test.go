package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// streamRows returns projection_stream_versions: stream → projection →
// version.
func streamRows(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) map[string]map[string]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `select stream_id, versions from projection_stream_versions`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	var s string
	var vs map[string]int64
	if _, err := pgx.ForEachRow(rows, []any{&s, &vs}, func() error { got[s] = vs; vs = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// A batch delivered to several projections writes one row per stream, with
// each projection's version in it; a projection delivered alone later adds
// its own to the same rows and leaves the others' as they are.
func TestStreamVersions_OneRowPerStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	m, fn := postgres.NewReadModels(pool), appliedTable(t, pool)
	to := deliveredTo(fn, "p1", "p2", "p3")
	var events []domain.RecordedEvent
	for i := range 5 {
		events = append(events, rec(fmt.Sprintf("s%d", i), 1, uint64(i+1)))
	}
	events = append(events, rec("s0", 2, 6))
	if _, _, _, err := m.ApplyDeliveredMany(ctx, []projections.Delivery{{Partition: 0, Events: events}}, to); err != nil {
		t.Fatal(err)
	}
	got := streamRows(t, pool)
	if len(got) != 5 {
		t.Fatalf("%d rows, want one per stream, 5: %v", len(got), got)
	}
	for s, vs := range got {
		want := int64(1)
		if s == "s0" {
			want = 2
		}
		if len(vs) != 3 || vs["p1"] != want || vs["p2"] != want || vs["p3"] != want {
			t.Errorf("%s: %v, want p1, p2 and p3 at %d", s, vs, want)
		}
	}
	if _, err := applyOne(m, "p4", 0, []domain.RecordedEvent{rec("s0", 1, 1), rec("s0", 2, 6), rec("s1", 1, 2)}, fn); err != nil {
		t.Fatal(err)
	}
	got = streamRows(t, pool)
	if vs := got["s0"]; len(vs) != 4 || vs["p4"] != 2 || vs["p1"] != 2 {
		t.Errorf("s0 after p4: %v, want p1 to p4 at 2", vs)
	}
	if vs := got["s1"]; len(vs) != 4 || vs["p4"] != 1 {
		t.Errorf("s1 after p4: %v, want p1 to p4 at 1", vs)
	}
	if vs := got["s2"]; len(vs) != 3 {
		t.Errorf("s2 after p4: %v, want p1 to p3 only", vs)
	}
	// Delivered again to p4: skipped by the versions in the shared rows.
	before, _ := countApplied(t, pool)
	if _, err := applyOne(m, "p4", 0, []domain.RecordedEvent{rec("s0", 2, 6)}, fn); err != nil {
		t.Fatal(err)
	}
	if after, _ := countApplied(t, pool); after != before {
		t.Errorf("applied %d rows after a redelivery, want %d", after, before)
	}
}

// Projections delivered in transactions of their own share the rows of
// the streams they have in common: each takes them in stream_id order, so
// they wait for each other and never deadlock, whatever order their
// batches hold the streams in, and neither loses the other's versions.
func TestStreamVersions_ProjectionsShareRowsWithoutDeadlock(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	m, fn := postgres.NewReadModels(pool), appliedTable(t, pool)
	const streams, rounds = 20, 15
	names := []string{"up", "down", "again"}
	var wg sync.WaitGroup
	errs := make(chan error, len(names)*rounds)
	for k, name := range names {
		wg.Go(func() {
			for v := int64(1); v <= rounds; v++ {
				var recs []domain.RecordedEvent
				for i := range streams {
					recs = append(recs, rec(fmt.Sprintf("s%02d", i), v, uint64((v-1)*streams)+uint64(i)+1))
				}
				if k == 1 {
					slices.Reverse(recs) // the other order
				}
				if _, err := applyOne(m, name, k, recs, fn); err != nil {
					errs <- fmt.Errorf("%s, version %d: %w", name, v, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := streamRows(t, pool)
	if len(got) != streams {
		t.Fatalf("%d rows, want %d", len(got), streams)
	}
	for s, vs := range got {
		for _, n := range names {
			if vs[n] != rounds {
				t.Errorf("%s: %s at %d, want %d (%v)", s, n, vs[n], rounds, vs)
			}
		}
	}
	if rows, distinct := countApplied(t, pool); rows != len(names)*streams*rounds || distinct != streams*rounds {
		t.Errorf("applied %d rows, %d distinct; want %d and %d", rows, distinct, len(names)*streams*rounds, streams*rounds)
	}
}

// The rows of projection_partitions are created once: deliveries to
// partitions known to have them do not create them again. Rows that go
// missing anyway fail one delivery, which forgets them, and the next
// creates them again and applies what the failed one did not.
func TestReadModels_PartitionRowsCreatedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	m, fn := postgres.NewReadModels(pool), appliedTable(t, pool)
	many := func(recs ...domain.RecordedEvent) error {
		_, _, _, err := m.ApplyDeliveredMany(ctx, []projections.Delivery{{Partition: 3, Events: recs}}, deliveredTo(fn, "p1", "p2"))
		return err
	}
	for name, deliver := range map[string]func(...domain.RecordedEvent) error{
		"one projection": func(recs ...domain.RecordedEvent) error { _, err := applyOne(m, "p3", 3, recs, fn); return err },
		"several":        many,
	} {
		if err := deliver(rec("s-"+name, 1, 1)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := pool.Exec(ctx, `delete from projection_partitions`); err != nil {
		t.Fatal(err)
	}
	for name, deliver := range map[string]func(...domain.RecordedEvent) error{
		"one projection": func(recs ...domain.RecordedEvent) error { _, err := applyOne(m, "p3", 3, recs, fn); return err },
		"several":        many,
	} {
		if err := deliver(rec("s-"+name, 2, 2)); err == nil || !strings.Contains(err.Error(), "partitions missing") {
			t.Fatalf("%s: the rows deleted: %v, want them missing (not created again)", name, err)
		}
		if err := deliver(rec("s-"+name, 2, 2)); err != nil {
			t.Fatalf("%s: delivered again: %v", name, err)
		}
	}
	// s-one projection: 1, 2 for p3; s-several: 1, 2 for p1 and p2.
	if rows, distinct := countApplied(t, pool); rows != 6 || distinct != 4 {
		t.Errorf("applied %d rows, %d distinct; want 6 and 4", rows, distinct)
	}
	var n int
	if err := pool.QueryRow(ctx, `select count(*) from projection_partitions where partition = 3 and commit_pos = 2`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d partition rows at position 2 (%v), want p1, p2 and p3's", n, err)
	}
}
