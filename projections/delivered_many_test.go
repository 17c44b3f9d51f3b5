package projections_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// txCount counts what a pool sends: batches, statements sent alone, and
// COMMITs.
type txCount struct{ batches, alone, commits atomic.Int32 }

func (c *txCount) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.alone.Add(1)
	c.commit(d.SQL)
	return ctx
}
func (c *txCount) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *txCount) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}
func (c *txCount) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.commit(d.SQL)
}
func (c *txCount) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
func (c *txCount) commit(sql string) {
	if strings.EqualFold(strings.TrimSpace(sql), "commit") {
		c.commits.Add(1)
	}
}
func (c *txCount) reset() { c.batches.Store(0); c.alone.Store(0); c.commits.Store(0) }

// boom is a projector that records the events it applies, and fails with a
// division by zero, in a statement queued like the others, on the events of
// one stream.
type boom struct{ stream atomic.Value }

func (*boom) Name() string     { return "boom" }
func (*boom) Tables() []string { return []string{"boom_applied"} }
func (b *boom) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, _ domain.Event) error {
	if s, _ := b.stream.Load().(string); s == rec.StreamID {
		return db.Exec(ctx, `insert into boom_applied values ($1, $2 / 0)`, rec.StreamID, rec.Version)
	}
	return db.Exec(ctx, `insert into boom_applied values ($1, $2)`, rec.StreamID, rec.Version)
}

// Every projection ready for a batch gets it in one transaction: two round
// trips and one COMMIT for all of them, where each had its own. A statement
// that fails in one projection is attributed to its event (the stream is
// parked at that version), and the others' events and progress are as if
// each had been delivered to alone.
func TestRunner_DeliverMany(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	count := &txCount{}
	cfg.ConnConfig.Tracer = count
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `create table boom_applied (stream text, version bigint)`); err != nil {
		t.Fatal(err)
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	b := &boom{}
	projectors := append(projections.All(), b)
	var names []string
	for _, p := range projectors {
		names = append(names, p.Name())
	}
	models := postgres.NewReadModels(pool)
	r := &projections.Runner{Store: models, Registry: registry, Projectors: projectors}
	shows := make([]uuid.UUID, 6)
	var items []any
	for i := range shows {
		shows[i] = uuid.New()
		items = append(items, domain.ShowStream(shows[i]), domain.ShowCreated{ShowID: shows[i], OrganizerID: uuid.New(), Title: "S", Venue: "V",
			StartsAt: t0, CreatedAt: t0, Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 1000, Capacity: 10}}},
			domain.ShowPublished{ShowID: shows[i], At: t0})
	}
	log := logOf(t, items...) // two events per show
	// Shows 0 and 1 on partitions 0 and 1, then shows 2-5 likewise.
	first := []projections.Delivery{{Partition: 0, Events: log[0:2]}, {Partition: 1, Events: log[2:4]}}
	second := []projections.Delivery{{Partition: 0, Events: append(append([]domain.RecordedEvent{}, log[4:6]...), log[8:10]...)},
		{Partition: 1, Events: append(append([]domain.RecordedEvent{}, log[6:8]...), log[10:12]...)}}
	deliverAll := func(what string, deliveries []projections.Delivery) [][]int {
		t.Helper()
		done, errs := r.DeliverMany(ctx, names, deliveries)
		for k, err := range errs {
			if err != nil {
				t.Fatalf("%s: %s: %v", what, names[k], err)
			}
		}
		return done
	}
	deliverAll("warm-up", first) // the pool's connection is open
	count.reset()

	// One transaction for all eight projections.
	done := deliverAll("one transaction", second)
	if got := [3]int32{count.batches.Load(), count.alone.Load(), count.commits.Load()}; got != [3]int32{2, 0, 1} {
		t.Errorf("a delivery to %d projections took %d batches, %d statements alone and %d COMMITs; want 2, 0 and 1", len(names), got[0], got[1], got[2])
	}
	for k := range names {
		if len(done[k]) != 2 || done[k][0] != 4 || done[k][1] != 4 {
			t.Errorf("%s: done %v, want [4 4]", names[k], done[k])
		}
	}
	// Delivered again, everything is skipped as done.
	deliverAll("redelivery", second)
	var rows, distinct int
	if err := pool.QueryRow(ctx, `select count(*), count(distinct (stream, version)) from boom_applied`).Scan(&rows, &distinct); err != nil || rows != 12 || distinct != 12 {
		t.Fatalf("boom applied %d rows, %d distinct (%v); want 12 once each", rows, distinct, err)
	}

	// A failing statement in one projection: its event's stream is parked,
	// the others apply everything.
	more := logOf(t, items...) // the same streams at versions 3 and 4
	for i := range more {
		more[i].Version += 2
		more[i].Position = domain.PositionAt(uint64(100 + i))
	}
	b.stream.Store(domain.ShowStream(shows[3]))
	third := []projections.Delivery{{Partition: 0, Events: more[0:6]}, {Partition: 1, Events: more[6:12]}}
	count.reset()
	done = deliverAll("a failing statement", third)
	for k := range names {
		if len(done[k]) != 2 || done[k][0] != 6 || done[k][1] != 6 {
			t.Errorf("%s: done %v, want [6 6]", names[k], done[k])
		}
	}
	if c := count.commits.Load(); c < 2 {
		t.Errorf("%d COMMITs: the failing projection was not delivered to alone", c)
	}
	got, err := projections.NewQueries(models.DB()).ParkedStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Projection != "boom" || got[0].Stream != domain.ShowStream(shows[3]) || got[0].Version != 3 ||
		got[0].Position != more[6].Position || !strings.Contains(got[0].Error, "division by zero") {
		t.Fatalf("parked: got %+v, want boom's %s at version 3, position %v, division by zero", got, domain.ShowStream(shows[3]), more[6].Position)
	}
	status := map[string]projections.ProjectionStatus{}
	for _, s := range r.Status() {
		status[s.Name] = s
	}
	for _, name := range names {
		if s := status[name]; s.State != projections.StateLive || s.Position != more[11].Position {
			t.Errorf("%s: status %s at %v, want live at %v", name, s.State, s.Position, more[11].Position)
		}
	}
	if err := pool.QueryRow(ctx, `select count(*) from boom_applied`).Scan(&rows); err != nil || rows != 12+10 {
		t.Errorf("boom applied %d rows (%v), want 22: all but the parked stream's two", rows, err)
	}
	var parts int
	if err := pool.QueryRow(ctx, `select count(*) from projection_partitions where name = any($1)
		and commit_pos = case partition when 0 then $2::bigint else $3::bigint end`, names,
		int64(more[5].Position.Commit), int64(more[11].Position.Commit)).Scan(&parts); err != nil || parts != 2*len(names) {
		t.Errorf("%d of %d progress rows at the last event of their partition (%v)", parts, 2*len(names), err)
	}

	// A projection that fails with an error that is not poison stalls; the
	// others go on.
	b.stream.Store("")
	failing := &failFirst{Projector: projections.All()[0]}
	r2 := &projections.Runner{Store: models, Registry: registry, Projectors: append([]projections.Projector{failing}, projectors[1:]...)}
	later := logOf(t, items...)
	for i := range later {
		later[i].Version += 4
		later[i].Position = domain.PositionAt(uint64(200 + i))
	}
	done, errs := r2.DeliverMany(ctx, names, []projections.Delivery{{Partition: 0, Events: later[0:6]}, {Partition: 1, Events: later[6:12]}})
	if !errors.Is(errs[0], errTransient) || done[0][0] != 0 || done[0][1] != 0 {
		t.Errorf("%s: done %v, %v; want none and the transient error", names[0], done[0], errs[0])
	}
	for k := 1; k < len(names); k++ {
		if errs[k] != nil || done[k][0] != 6 || done[k][1] != 6 {
			t.Errorf("%s: done %v, %v; want [6 6]", names[k], done[k], errs[k])
		}
	}
}

var errTransient = errors.New("transient")

// failFirst fails every event with an error that is not poison.
type failFirst struct{ projections.Projector }

func (f *failFirst) Apply(context.Context, projections.DB, domain.RecordedEvent, domain.Event) error {
	return errTransient
}
