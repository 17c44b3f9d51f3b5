package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// roundTrips counts what a pool sends: batches and statements sent alone,
// and the COMMITs among the statements of batches.
type roundTrips struct{ batches, alone, commits atomic.Int32 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.alone.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.batches.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if d.SQL == "commit" && d.Err == nil {
		r.commits.Add(1)
	}
}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedPool returns a pool on a schema of its own whose round trips
// are counted.
func tracedPool(t *testing.T) (*pgxpool.Pool, *roundTrips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, trips
}

// The delivered transaction of the Kafka path reads the projection's
// parked streams in the round trip of its locks: two round trips in all
// (BEGIN, locks, versions, parked streams; the projector's statements,
// progress rows, COMMIT), where reading them with a query of the runner's
// made three. Each one is latency on every batch of every projection.
func TestReadModels_ApplyDeliveredParked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, trips := tracedPool(t)
	fn := appliedTable(t, pool)
	parkedAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := pool.Exec(ctx, `insert into projection_parked_streams
		(name, stream_id, version, commit_pos, prepare_pos, type, error, parked_at) values ('p', 'x', 3, 7, 7, 't', 'poison', $1)`, parkedAt); err != nil {
		t.Fatal(err)
	}
	// A connection that is open already, and a warm-up: the count is of
	// the transaction alone.
	m := postgres.NewReadModels(pool)
	if _, err := m.ApplyDeliveredParked(ctx, "p", []projections.Delivery{{Partition: 0, Events: []domain.RecordedEvent{rec("w", 1, 1)}}},
		func(projections.DB, []projections.ParkedStream, []domain.RecordedEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	trips.batches.Store(0)
	trips.alone.Store(0)

	var got []projections.ParkedStream
	var applied []string
	done, err := m.ApplyDeliveredParked(ctx, "p", []projections.Delivery{{Partition: 0, Events: []domain.RecordedEvent{rec("a", 1, 2), rec("b", 1, 3)}}},
		func(db projections.DB, parked []projections.ParkedStream, recs []domain.RecordedEvent) error {
			got = parked
			for _, r := range recs {
				applied = append(applied, r.StreamID)
				if err := fn(db, r); err != nil {
					return err
				}
			}
			return nil
		})
	batches, alone := trips.batches.Load(), trips.alone.Load()
	if err != nil || len(done) != 1 || done[0] != 2 {
		t.Fatalf("done, err = %v, %v; want [2], nil", done, err)
	}
	if batches != 2 || alone != 0 {
		t.Errorf("the transaction took %d batches and %d statements alone, want 2 batches and none", batches, alone)
	}
	want := projections.ParkedStream{Projection: "p", Stream: "x", Version: 3, Position: domain.PositionAt(7), Type: "t", Error: "poison", ParkedAt: parkedAt}
	if len(got) != 1 || got[0] != want {
		t.Errorf("parked streams given to fn: %+v, want [%+v]", got, want)
	}
	if len(applied) != 2 {
		t.Errorf("fn applied %v, want a and b", applied)
	}
	if rows, _ := countApplied(t, pool); rows != 2 {
		t.Errorf("applied %d rows, want 2", rows)
	}
}
