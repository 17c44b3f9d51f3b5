package postgres_test

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// Sizes of the replay benchmark and test.
const (
	// replayEvents is the benchmark's log; REPLAY_EVENTS overrides it.
	replayEvents = 1_000_000
	// replayTestEvents is the log of the plain test, which checks the
	// rebuilt read models against the generated log.
	replayTestEvents = 10_000
	// eventsPerShow sets the number of shows: 1,000 for a million events.
	eventsPerShow = 1000
	// baselineBatch is the rows of one INSERT of the baseline.
	baselineBatch = 5000
)

// BenchmarkReplay rebuilds every read model from a log of REPLAY_EVENTS
// events (1,000,000 by default): the projections at once, as `ticketing
// replay` does (rebuildShadows): each into a shadow schema, the log read and
// decoded once for all of them, each verified against the live tables and
// swapped in. Beside it, in the same run, it
// measures the raw batched-insert rate of PostgreSQL: as many rows of a width
// like a read-model row's, 5,000 per INSERT ... SELECT FROM unnest, one
// transaction each, half of them before the rebuild and half after. It also
// reports the CPU time per event of the test process and, when their /proc
// entries can be read, of the pool's server processes: figures that a busy
// machine disturbs less than wall time.
//
// Run it with `make bench-replay`. REPLAY_BATCH sets the events per rebuild
// transaction (projections.DefaultRebuildBatch); REPLAY_ALONE=1 then
// rebuilds each projection alone too and counts its statements.
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	n := envInt(b, "REPLAY_EVENTS", replayEvents)
	batch := envInt(b, "REPLAY_BATCH", projections.DefaultRebuildBatch)
	pool := replayPool(b)

	start := time.Now()
	tally, err := loadReplayLog(ctx, pool, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(start)
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	models := postgres.NewReadModels(pool).ForRebuild()
	head, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	servers, err := serverPIDs(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}

	base1, err := baselineInsert(ctx, pool, "replay_baseline_1", n/2)
	if err != nil {
		b.Fatal(err)
	}
	var res rebuildResult
	var clientCPU, serverCPU time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			if err := emptyReadModels(ctx, pool); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		c0, sampler := processCPU(), sampleServers(ctx, pool)
		if res, err = rebuildShadows(ctx, pool, store, head, batch); err != nil {
			b.Fatal(err)
		}
		clientCPU, serverCPU = processCPU()-c0, sampler.Stop()
	}
	b.StopTimer()
	if err := tally.check(ctx, pool); err != nil {
		b.Fatal(err)
	}
	base2, err := baselineInsert(ctx, pool, "replay_baseline_2", n-n/2)
	if err != nil {
		b.Fatal(err)
	}

	rate := float64(n) / res.wall.Seconds()
	baseRate := float64(n) / (base1 + base2).Seconds()
	perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(baseRate, "baseline-rows/s")
	b.ReportMetric(rate/baseRate, "x-baseline")
	b.ReportMetric(perEvent(clientCPU), "client-cpu-us/event")
	if servers != nil {
		b.ReportMetric(perEvent(serverCPU), "server-cpu-us/event")
	}
	var t strings.Builder
	fmt.Fprintf(&t, "replay of %d events: %d shows, %d orders; generated and loaded in %.1fs\n",
		n, tally.shows, tally.placed, loaded.Seconds())
	fmt.Fprintf(&t, "  %-34s %8s %12s\n", "", "time", "rate")
	fmt.Fprintf(&t, "  %-34s %7.1fs %12.0f rows/s  (%.0f before, %.0f after)\n", "baseline: batched INSERT",
		(base1 + base2).Seconds(), baseRate, float64(n/2)/base1.Seconds(), float64(n-n/2)/base2.Seconds())
	fmt.Fprintf(&t, "  %-34s %7.1fs %12.0f events/s  %.3f x baseline\n",
		fmt.Sprintf("replay, %d projections at once", len(res.each)), res.wall.Seconds(), rate, rate/baseRate)
	for _, p := range projections.All() {
		fmt.Fprintf(&t, "    %-32s %7.1fs  (of which swap %.1fs)\n", p.Name()+" done after", res.each[p.Name()].Seconds(), res.swap[p.Name()].Seconds())
	}
	fmt.Fprintf(&t, "  CPU per event: %.0f µs in this process", perEvent(clientCPU))
	if servers != nil {
		fmt.Fprintf(&t, ", %.0f µs in PostgreSQL", perEvent(serverCPU))
	}
	fmt.Fprintf(&t, "\n")
	if os.Getenv("REPLAY_ALONE") != "" {
		fmt.Fprintf(&t, "  each alone, with INSERTs only then with COPY (Exec queued; QueryRow a round trip each):\n")
		for _, p := range projections.All() {
			for _, m := range []struct {
				name   string
				models *postgres.ReadModels
			}{{"insert", models.WithCopyMin(0)}, {"copy", models}} {
				if err := emptyReadModels(ctx, pool); err != nil {
					b.Fatal(err)
				}
				counts := &statementCounts{}
				c0, s0 := processCPU(), serverCPUTime(servers)
				start := time.Now()
				if _, err := rebuildOne(ctx, store, countingStore{m.models, counts}, p, batch); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				fmt.Fprintf(&t, "    %-32s %7.1fs %12.0f events/s  %d Exec, %d QueryRow, %d COPY; CPU per event %.0f µs + %.0f µs\n",
					p.Name()+" "+m.name, d.Seconds(), float64(n)/d.Seconds(), counts.exec.Load(), counts.queryRow.Load(), counts.copy.Load(),
					perEvent(processCPU()-c0), perEvent(serverCPUTime(servers)-s0))
			}
		}
	}
	b.Logf("\n%s", t.String())
}

// processCPU returns the CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverPIDs opens every connection of the pool and returns the process ids
// of their servers, or nil when their /proc entries cannot be read (another
// host, another system).
func serverPIDs(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	conns := make([]*pgxpool.Conn, 0, pool.Config().MaxConns)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	var pids []int
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		var pid int
		if err := c.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
			return nil, err
		}
		if _, err := serverCPU(pid); err != nil {
			return nil, nil
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// serverSampler adds up the CPU time of the server processes of the pool's
// database while it runs, those of pools opened later (the shadows') too: it
// looks for them every 100 ms. A backend that starts and ends between two
// looks is missed.
type serverSampler struct {
	pool       *pgxpool.Pool
	base, last map[int]time.Duration
	stop, done chan struct{}
}

func sampleServers(ctx context.Context, pool *pgxpool.Pool) *serverSampler {
	s := &serverSampler{pool: pool, base: map[int]time.Duration{}, last: map[int]time.Duration{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, pid := range s.pids(ctx) {
		s.base[pid], _ = serverCPU(pid)
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			s.look(ctx)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *serverSampler) pids(ctx context.Context) []int {
	rows, err := s.pool.Query(ctx, `select pid from pg_stat_activity where datname = current_database()`)
	if err != nil {
		return nil
	}
	pids, _ := pgx.CollectRows(rows, pgx.RowTo[int])
	return pids
}

func (s *serverSampler) look(ctx context.Context) {
	for _, pid := range s.pids(ctx) {
		if d, err := serverCPU(pid); err == nil {
			s.last[pid] = d
		}
	}
}

// Stop stops looking and returns the CPU time the processes used.
func (s *serverSampler) Stop() time.Duration {
	close(s.stop)
	<-s.done
	var sum time.Duration
	for pid, d := range s.last {
		sum += d - s.base[pid]
	}
	return sum
}

// serverCPUTime returns the CPU time the processes pids used so far.
func serverCPUTime(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		d, _ := serverCPU(pid)
		sum += d
	}
	return sum
}

// serverCPU returns the CPU time (user and system) of process pid, from
// /proc/pid/stat, in clock ticks of 10 ms.
func serverCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses: state is
	// the first, utime the 12th and stime the 13th.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// TestReplay_RebuildMatchesLog rebuilds the read models from a generated log
// and checks their figures against what the log holds.
func TestReplay_RebuildMatchesLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []string{"live", "rebuild"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			pool := replayPool(t)
			tally, err := loadReplayLog(ctx, pool, replayTestEvents, 2)
			if err != nil {
				t.Fatal(err)
			}
			store, err := postgres.NewStore(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			models := postgres.NewReadModels(pool)
			if mode == "rebuild" {
				models = models.ForRebuild()
			}
			// Small batches: many transactions, each flushing its queue.
			if _, err := rebuildAll(ctx, store, models, 777); err != nil {
				t.Fatal(err)
			}
			if err := tally.check(ctx, pool); err != nil {
				t.Error(err)
			}
			for _, p := range projections.All() {
				got, err := models.Checkpoint(ctx, p.Name())
				if err != nil {
					t.Fatal(err)
				}
				if want := domain.PositionAt(replayTestEvents); got != want {
					t.Errorf("checkpoint of %s: got %v, want %v", p.Name(), got, want)
				}
			}
		})
	}
}

func TestReadModels_ApplyQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a query sees the statements queued before it", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		var seen int
		var missing error
		err := m.Apply(ctx, "p", domain.PositionAt(1), func(db projections.DB, _ domain.Position) error {
			for range 3 {
				if err := insertHold(ctx, db); err != nil {
					return err
				}
			}
			if err := db.QueryRow(ctx, `select count(*) from hold_deadlines`).Scan(&seen); err != nil {
				return err
			}
			if err := insertHold(ctx, db); err != nil {
				return err
			}
			var id uuid.UUID
			missing = db.QueryRow(ctx, `select order_id from hold_deadlines where order_id = $1`, uuid.New()).Scan(&id)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != 3 {
			t.Errorf("seen: got %d, want 3", seen)
		}
		if !errors.Is(missing, projections.ErrNotFound) {
			t.Errorf("no row: got %v, want %v", missing, projections.ErrNotFound)
		}
		if got := holdCount(t, m.DB()); got != 4 {
			t.Errorf("rows: got %d, want 4", got)
		}
	})
	t.Run("a failing statement is reported by the call that ran it", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		calls := 0
		var failed string
		err := m.Apply(ctx, "p", domain.PositionAt(1), func(db projections.DB, _ domain.Position) error {
			calls++
			if err := insertHold(ctx, db); err != nil {
				failed = "first insert"
				return err
			}
			if err := db.Exec(ctx, `insert into no_such_table values (1)`); err != nil {
				failed = "bad insert"
				return err
			}
			var n int
			if err := db.QueryRow(ctx, `select count(*) from hold_deadlines`).Scan(&n); err != nil {
				failed = "query"
				return err
			}
			return nil
		})
		if err == nil {
			t.Fatal("got nil, want an error")
		}
		if failed != "bad insert" {
			t.Errorf("failed at %q, want %q", failed, "bad insert")
		}
		if calls != 2 {
			t.Errorf("fn ran %d times, want 2: queued, then one statement at a time", calls)
		}
		if got := holdCount(t, m.DB()); got != 0 {
			t.Errorf("rows: got %d, want 0", got)
		}
		if got, _ := m.Checkpoint(ctx, "p"); got != domain.Start {
			t.Errorf("checkpoint: got %v, want start", got)
		}
	})
	t.Run("a rebuild names the event whose statement failed", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t)).ForRebuild()
		var log sliceLog
		for v := range int64(6) {
			log = append(log, domain.RecordedEvent{StreamID: "s", Version: v + 1, Position: domain.PositionAt(uint64(v + 1)), Type: "order.cancelled", Data: []byte(`{}`)})
		}
		registry := domain.NewRegistry()
		domain.RegisterEvents(registry)
		_, err := projections.Rebuild(ctx, log, m, registry, failAt{4}, 10, nil)
		ae, ok := errors.AsType[*projections.ApplyError](err)
		if !ok || ae.Version != 4 {
			t.Fatalf("got %v, want an *ApplyError at version 4", err)
		}
		if got, _ := m.Checkpoint(ctx, failAt{}.Name()); got != domain.Start {
			t.Errorf("checkpoint: got %v, want start", got)
		}
	})
	t.Run("arguments changed after Exec do not change the statement", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		m := postgres.NewReadModels(pool)
		if _, err := pool.Exec(ctx, `create table args (names text[], ids uuid[], id uuid, ref uuid, label text)`); err != nil {
			t.Fatal(err)
		}
		names, ids, id := []string{"a", "b"}, []uuid.UUID{uuid.New(), uuid.New()}, uuid.New()
		wantNames, wantIDs := slices.Clone(names), slices.Clone(ids)
		var none *uuid.UUID
		err := m.Apply(ctx, "p", domain.PositionAt(1), func(db projections.DB, _ domain.Position) error {
			args := []any{names, ids, &id, none, id}
			err := db.Exec(ctx, `insert into args values ($1, $2, $3, $4, $5)`, args...)
			names[0], ids[0], args[0] = "changed", uuid.Nil, nil
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var gotNames []string
		var gotIDs []uuid.UUID
		var gotID uuid.UUID
		var gotRef *uuid.UUID
		var label string
		if err := pool.QueryRow(ctx, `select names, ids, id, ref, label from args`).Scan(&gotNames, &gotIDs, &gotID, &gotRef, &label); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotNames, wantNames) || !slices.Equal(gotIDs, wantIDs) || gotID != id || gotRef != nil || label != id.String() {
			t.Errorf("got %v %v %v %v %q, want %v %v %v <nil> %q", gotNames, gotIDs, gotID, gotRef, label, wantNames, wantIDs, id, id.String())
		}
	})
}

func TestReadModels_ForRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	setting := func(m *postgres.ReadModels) string {
		t.Helper()
		var got string
		if err := m.Apply(ctx, "p", domain.PositionAt(uint64(time.Now().UnixNano())), func(db projections.DB, _ domain.Position) error {
			return db.QueryRow(ctx, `select current_setting('synchronous_commit')`).Scan(&got)
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	live := postgres.NewReadModels(pool)
	if got := setting(live.ForRebuild()); got != "off" {
		t.Errorf("rebuild: synchronous_commit %q, want off", got)
	}
	if got := setting(live); got != "on" {
		t.Errorf("live: synchronous_commit %q, want on", got)
	}
	// The setting was local to the rebuild's transaction: no connection of
	// the pool keeps it.
	conns := make([]*pgxpool.Conn, 0, pool.Stat().TotalConns())
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range pool.Stat().TotalConns() {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var got string
		if err := c.QueryRow(ctx, `show synchronous_commit`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != "on" {
			t.Errorf("a pooled connection: synchronous_commit %q, want on", got)
		}
	}
}

// sliceLog is a global log in memory.
type sliceLog []domain.RecordedEvent

func (l sliceLog) ReadAll(_ context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	i := 0
	for i < len(l) && !after.Less(l[i].Position) {
		i++
	}
	return l[i:min(len(l), i+limit)], nil
}

// failAt is a projector whose statement fails at one stream version.
type failAt struct{ version int64 }

func (failAt) Name() string     { return "fail" }
func (failAt) Tables() []string { return []string{"hold_deadlines"} }

func (f failAt) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, _ domain.Event) error {
	if rec.Version == f.version {
		return db.Exec(ctx, `insert into no_such_table values (1)`)
	}
	return insertHold(ctx, db)
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

// replayPool returns a pool on a fresh schema with room for the rebuilds of
// every projection at once.
func replayPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.SchemaURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// rebuildResult is the wall time of a rebuild of every projection, and of
// each one.
type rebuildResult struct {
	wall time.Duration
	each map[string]time.Duration
	swap map[string]time.Duration // of each, the time Swap took
}

// rebuildAll rebuilds every projection from its checkpoint, all at once, as
// a replay does.
func rebuildAll(ctx context.Context, log projections.Reader, models projections.Store, batch int) (rebuildResult, error) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	res := rebuildResult{each: map[string]time.Duration{}}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	shared := projections.NewSharedLog(log, registry, 0)
	readers := shared.Readers(len(projections.All()))
	for i, p := range projections.All() {
		r := readers[i]
		wg.Go(func() {
			defer r.Close()
			_, err := projections.Rebuild(ctx, r, models, registry, p, batch, nil)
			mu.Lock()
			defer mu.Unlock()
			res.each[p.Name()] = time.Since(start)
			errs = append(errs, err)
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res, errors.Join(errs...)
}

// rebuildShadows rebuilds every projection at once as `ticketing replay`
// does: each into a shadow schema, reading and decoding the log once for
// all, then verified and swapped in. The live projections here are empty and
// not running: their checkpoints are set to the log's head first, as those
// of live projections that have caught up, so that the swap does not wait
// for them.
func rebuildShadows(ctx context.Context, pool *pgxpool.Pool, log projections.Reader, head domain.Position, batch int) (rebuildResult, error) {
	defer projections.RebuildGC()() // as `ticketing replay` does
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	res := rebuildResult{each: map[string]time.Duration{}, swap: map[string]time.Duration{}}
	for _, p := range projections.All() {
		if _, err := pool.Exec(ctx, `insert into projection_checkpoints (name, commit_pos, prepare_pos) values ($1, $2, $3)
			on conflict (name) do update set commit_pos = $2, prepare_pos = $3`, p.Name(), int64(head.Commit), int64(head.Prepare)); err != nil {
			return res, err
		}
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	shared := projections.NewSharedLog(log, registry, projections.SharedPagesFor(batch))
	readers := shared.Readers(len(projections.All()))
	for i, p := range projections.All() {
		r := readers[i]
		wg.Go(func() {
			var swap time.Duration
			err := func() error {
				defer r.Close()
				shadow, err := postgres.NewShadow(ctx, pool, p.Name(), p.Tables())
				if err != nil {
					return err
				}
				defer shadow.Close(context.WithoutCancel(ctx))
				models := shadow.Store()
				if _, err := projections.Rebuild(ctx, r, models, registry, p, batch, nil); err != nil {
					return err
				}
				swapStart := time.Now()
				_, err = shadow.Swap(ctx, postgres.SwapOptions{CatchUp: func(ctx context.Context, until domain.Position) (domain.Position, error) {
					return projections.RebuildUntil(ctx, r, models, registry, p, batch, until, nil)
				}})
				swap = time.Since(swapStart)
				return err
			}()
			mu.Lock()
			defer mu.Unlock()
			res.each[p.Name()], res.swap[p.Name()] = time.Since(start), swap
			errs = append(errs, err)
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res, errors.Join(errs...)
}

// rebuildOne rebuilds one projection from its checkpoint.
func rebuildOne(ctx context.Context, log projections.Reader, models projections.Store, p projections.Projector, batch int) (domain.Position, error) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	return projections.Rebuild(ctx, log, models, registry, p, batch, nil)
}

// statementCounts counts the statements projectors run.
type statementCounts struct{ exec, queryRow, copy atomic.Int64 }

// countingStore counts the statements run through the DB of its Apply.
type countingStore struct {
	projections.Store
	counts *statementCounts
}

func (s countingStore) Apply(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error) error {
	return s.Store.Apply(ctx, name, to, func(db projections.DB, after domain.Position) error {
		return fn(countingDB{db, s.counts}, after)
	})
}

type countingDB struct {
	projections.DB
	counts *statementCounts
}

func (d countingDB) Exec(ctx context.Context, sql string, args ...any) error {
	d.counts.exec.Add(1)
	return d.DB.Exec(ctx, sql, args...)
}

func (d countingDB) QueryRow(ctx context.Context, sql string, args ...any) projections.Row {
	d.counts.queryRow.Add(1)
	return d.DB.QueryRow(ctx, sql, args...)
}

// CopyMin is the DB's, when it is a projections.Copier.
func (d countingDB) CopyMin() int {
	if c, ok := d.DB.(projections.Copier); ok {
		return c.CopyMin()
	}
	return 0
}

func (d countingDB) Try(ctx context.Context, fn func() error) error {
	return d.DB.(projections.Copier).Try(ctx, fn)
}

func (d countingDB) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error {
	d.counts.copy.Add(1)
	return d.DB.(projections.Copier).CopyFrom(ctx, table, columns, rows)
}

// emptyReadModels drops every read-model row and checkpoint.
func emptyReadModels(ctx context.Context, pool *pgxpool.Pool) error {
	tables := []string{"projection_checkpoints"}
	for _, p := range projections.All() {
		tables = append(tables, p.Tables()...)
	}
	_, err := pool.Exec(ctx, "truncate "+strings.Join(tables, ", "))
	return err
}

// baselineInsert inserts n rows of about the width of a read-model row (an
// rm_orders row, say) into a plain table with a primary key, baselineBatch
// rows per INSERT ... SELECT FROM unnest, each in its own transaction, one
// after the other on one connection. It returns the time taken.
func baselineInsert(ctx context.Context, pool *pgxpool.Pool, table string, n int) (time.Duration, error) {
	if _, err := pool.Exec(ctx, `create table `+table+` (
		id bigint primary key, ref uuid not null, label text not null,
		amount bigint not null, at timestamptz not null, payload jsonb not null)`); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(3, 3))
	ids := make([]int64, 0, baselineBatch)
	refs := make([][16]byte, 0, baselineBatch)
	labels := make([]string, 0, baselineBatch)
	amounts := make([]int64, 0, baselineBatch)
	ats := make([]time.Time, 0, baselineBatch)
	payloads := make([]string, 0, baselineBatch)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	for done := 0; done < n; {
		ids, refs, labels, amounts, ats, payloads = ids[:0], refs[:0], labels[:0], amounts[:0], ats[:0], payloads[:0]
		for ; len(ids) < baselineBatch && done < n; done++ {
			ref := randomID(rng)
			ids = append(ids, int64(done+1))
			refs = append(refs, ref)
			labels = append(labels, "order "+ref.String()[:13])
			amounts = append(amounts, rng.Int64N(100_000))
			ats = append(ats, at.Add(time.Duration(done)*time.Millisecond))
			payloads = append(payloads, fmt.Sprintf(`[{"section": "floor", "quantity": %d, "unit_price_cents": %d}, {"section": "stalls", "row": "C", "seat": %d, "price_cents": 8000}]`,
				rng.IntN(4)+1, rng.IntN(9000)+1000, rng.IntN(25)+1))
		}
		if _, err := pool.Exec(ctx, `insert into `+table+` (id, ref, label, amount, at, payload)
			select i, r, l, a, t, p::jsonb from unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[]) as u(i, r, l, a, t, p)`,
			ids, refs, labels, amounts, ats, payloads); err != nil {
			return 0, fmt.Errorf("baseline: %w", err)
		}
	}
	return time.Since(start), nil
}

// loadReplayLog generates a log of n events (see replayGen) and loads it
// with COPY into the events table, with dense positions 1..n, as test data:
// the engine's append path is not what is measured. It returns what the log
// holds.
func loadReplayLog(ctx context.Context, pool *pgxpool.Pool, n int, seed uint64) (*replayTally, error) {
	rows := make(chan [][]any, 16)
	g := newReplayGen(n, seed, rows)
	genErr := make(chan error, 1)
	go func() {
		defer close(rows)
		genErr <- g.run()
	}()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// The unique indexes are built after the COPY, in one sort each: four
	// times faster than keeping them up to date row by row.
	restore, err := dropSecondaryIndexes(ctx, conn.Conn(), "events")
	if err != nil {
		return nil, err
	}
	src := &chanSource{ch: rows}
	copied, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"position", "event_id", "stream_id", "version", "type", "data", "metadata", "recorded_at"}, src)
	for range rows { // let the generator finish when COPY failed
	}
	if gerr := <-genErr; gerr != nil {
		return nil, fmt.Errorf("generate the log: %w", gerr)
	}
	if err != nil {
		return nil, fmt.Errorf("copy the log: %w", err)
	}
	if copied != int64(n) {
		return nil, fmt.Errorf("copied %d events, want %d", copied, n)
	}
	for _, q := range restore {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("restore the indexes of the log: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `update log_head set position = $1`, n); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `analyze events`); err != nil {
		return nil, err
	}
	return &g.tally, nil
}

// dropSecondaryIndexes drops the indexes of table other than its primary
// key, and the constraints they enforce, and returns the statements that
// create them again as they were.
func dropSecondaryIndexes(ctx context.Context, conn *pgx.Conn, table string) ([]string, error) {
	rows, err := conn.Query(ctx, `select i.indexrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)
		from pg_index i left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid
		where i.indrelid = $1::regclass and not i.indisprimary`, table)
	if err != nil {
		return nil, err
	}
	type index struct{ name, constraint, constraintDef, indexDef *string }
	var found []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.constraint, &ix.constraintDef, &ix.indexDef); err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, ix)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var restore []string
	for _, ix := range found {
		drop := "drop index " + *ix.name
		again := *ix.indexDef
		if ix.constraint != nil {
			c := pgx.Identifier{*ix.constraint}.Sanitize()
			drop = fmt.Sprintf("alter table %s drop constraint %s", table, c)
			again = fmt.Sprintf("alter table %s add constraint %s %s", table, c, *ix.constraintDef)
		}
		if _, err := conn.Exec(ctx, drop); err != nil {
			return nil, err
		}
		restore = append(restore, again)
	}
	return restore, nil
}

// chanSource is a pgx.CopyFromSource over chunks of rows.
type chanSource struct {
	ch    <-chan [][]any
	chunk [][]any
	row   []any
}

func (s *chanSource) Next() bool {
	for len(s.chunk) == 0 {
		c, ok := <-s.ch
		if !ok {
			return false
		}
		s.chunk = c
	}
	s.row, s.chunk = s.chunk[0], s.chunk[1:]
	return true
}

func (s *chanSource) Values() ([]any, error) { return s.row, nil }
func (s *chanSource) Err() error             { return nil }

// Shape of the generated traffic.
const (
	genStep      = 20 * time.Millisecond // simulated time between two actions
	genHoldTTL   = 10 * time.Minute
	genRows      = 12 // rows of the seated section, of genRowSeats seats
	genRowSeats  = 25
	genChunkRows = 4096
)

// replayGen generates the traffic of a box office with the domain
// aggregates, so that every event is one the engine would have written: shows
// created and put on sale over the first half of the log, with two
// general-admission sections and a seated one, some with a price change
// later; buyers holding units or adjacent seats (SeatsHeld, then
// OrderPlaced), of which 80% pay within minutes (OrderConfirmed, then
// SeatsSold), 12% cancel (OrderCancelled, SeatsReleased) and 8% let the hold
// run out (OrderExpired, SeatsReleased); and a few check-ins. The log is cut
// at exactly n events: a prefix of a valid log is valid.
type replayGen struct {
	n     int
	rng   *rand.Rand
	now   time.Time
	meta  domain.Metadata
	shows []*genShow
	due   genQueue
	pos   int64
	chunk [][]any
	out   chan<- [][]any
	tally replayTally
}

type genShow struct {
	id      uuid.UUID
	agg     *domain.Show
	version int64
	seen    int // changes of agg already emitted
}

type genOrder struct {
	id      uuid.UUID
	show    *genShow
	agg     *domain.Order
	version int64
	seen    int
}

// Kinds of scheduled actions.
const (
	genPay = iota
	genCancel
	genExpire
	genCheckIn
	genReprice
)

type genAction struct {
	at    time.Time
	seq   int64 // ties keep the order of scheduling
	kind  int
	order *genOrder
	show  *genShow
}

// genQueue is a heap of actions by due time.
type genQueue []*genAction

func (q genQueue) Len() int { return len(q) }
func (q genQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q genQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *genQueue) Push(x any)   { *q = append(*q, x.(*genAction)) }
func (q *genQueue) Pop() any {
	old := *q
	a := old[len(old)-1]
	*q = old[:len(old)-1]
	return a
}

func newReplayGen(n int, seed uint64, out chan<- [][]any) *replayGen {
	return &replayGen{
		n: n, rng: rand.New(rand.NewPCG(seed, 42)), out: out,
		now:  time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC),
		meta: domain.Metadata{CorrelationID: "replay-bench"},
	}
}

func (g *replayGen) run() error {
	numShows := max(5, g.n/eventsPerShow)
	var seq int64
	schedule := func(a *genAction) {
		seq++
		a.seq = seq
		heap.Push(&g.due, a)
	}
	for g.pos < int64(g.n) {
		g.now = g.now.Add(genStep)
		var err error
		switch {
		case len(g.shows) == 0 || len(g.shows) < numShows && g.pos >= int64(len(g.shows)*g.n/(2*numShows)):
			err = g.createShow(schedule)
		case g.due.Len() > 0 && !g.due[0].at.After(g.now):
			err = g.act(heap.Pop(&g.due).(*genAction), schedule)
		default:
			err = g.placeOrder(schedule)
		}
		if err != nil {
			return err
		}
	}
	if len(g.chunk) > 0 {
		g.out <- g.chunk
	}
	return nil
}

func (g *replayGen) createShow(schedule func(*genAction)) error {
	id := randomID(g.rng)
	s := &genShow{id: id, agg: domain.NewShow()}
	rows := make([]domain.RowSpec, genRows)
	for i := range rows {
		rows[i] = domain.RowSpec{Label: string(rune('A' + i)), Seats: genRowSeats}
	}
	err := s.agg.Create(domain.CreateShow{
		ShowID: id, OrganizerID: randomID(g.rng), Title: fmt.Sprintf("Show %d", len(g.shows)+1), Venue: "Hall " + strconv.Itoa(g.rng.IntN(50)),
		StartsAt: g.now.Add(30 * 24 * time.Hour),
		Sections: []domain.SectionSpec{
			{Name: "floor", PriceCents: 4500, Capacity: 5000},
			{Name: "balcony", PriceCents: 3000, Capacity: 3000},
			{Name: "stalls", PriceCents: 8000, Rows: rows},
		},
	}, g.now)
	if err == nil {
		err = s.agg.Publish(g.now)
	}
	if err != nil {
		return err
	}
	g.shows = append(g.shows, s)
	if g.rng.IntN(10) < 3 {
		schedule(&genAction{at: g.now.Add(time.Duration(1+g.rng.IntN(5)) * time.Hour), kind: genReprice, show: s})
	}
	return g.emitShow(s)
}

func (g *replayGen) placeOrder(schedule func(*genAction)) error {
	s := g.shows[g.rng.IntN(len(g.shows))]
	req := domain.HoldRequest{OrderID: randomID(g.rng), BuyerID: randomID(g.rng)}
	k := 1 + g.rng.IntN(4)
	if g.rng.IntN(10) < 4 {
		row, first := string(rune('A'+g.rng.IntN(genRows))), 1+g.rng.IntN(genRowSeats-k+1)
		for i := range k {
			req.Seats = append(req.Seats, domain.SeatRef{Section: "stalls", Row: row, Seat: first + i})
		}
	} else {
		req.Items = []domain.ItemRequest{{Section: []string{"floor", "balcony"}[g.rng.IntN(2)], Quantity: k}}
	}
	err := s.agg.Hold(req, g.now, genHoldTTL)
	if _, taken := errors.AsType[*domain.SeatTakenError](err); taken {
		req.Seats, req.Items = nil, []domain.ItemRequest{{Section: "floor", Quantity: k}}
		err = s.agg.Hold(req, g.now, genHoldTTL)
	}
	if errors.Is(err, domain.ErrSoldOut) {
		return nil // this buyer goes home
	}
	if err != nil {
		return err
	}
	changes := s.agg.Changes()
	held := changes[len(changes)-1].(domain.SeatsHeld)
	if err := g.emitShow(s); err != nil {
		return err
	}
	o := &genOrder{id: req.OrderID, show: s, agg: domain.NewOrder()}
	if err := o.agg.Place(held); err != nil {
		return err
	}
	if err := g.emitOrder(o); err != nil {
		return err
	}
	switch r := g.rng.IntN(100); {
	case r < 80:
		schedule(&genAction{at: g.now.Add(time.Duration(5+g.rng.IntN(180)) * time.Second), kind: genPay, order: o})
	case r < 92:
		schedule(&genAction{at: g.now.Add(time.Duration(10+g.rng.IntN(300)) * time.Second), kind: genCancel, order: o})
	default:
		schedule(&genAction{at: held.ExpiresAt.Add(time.Duration(1+g.rng.IntN(30)) * time.Second), kind: genExpire, order: o})
	}
	return nil
}

func (g *replayGen) act(a *genAction, schedule func(*genAction)) error {
	o := a.order
	switch a.kind {
	case genPay:
		err := o.agg.Confirm("ch_"+hex.EncodeToString(randomID(g.rng).NodeID()), g.now, func() uuid.UUID { return randomID(g.rng) })
		if err == nil {
			err = g.emitOrder(o)
		}
		if err == nil {
			err = o.show.agg.Sell(o.id, g.now)
		}
		if err != nil {
			return err
		}
		if g.rng.IntN(100) < 3 {
			schedule(&genAction{at: g.now.Add(time.Duration(10+g.rng.IntN(120)) * time.Minute), kind: genCheckIn, order: o})
		}
		return g.emitShow(o.show)
	case genCancel, genExpire:
		reason, err := domain.ReleaseCancelled, error(nil)
		if a.kind == genExpire {
			reason, err = domain.ReleaseExpired, o.agg.Expire(o.id, o.show.id, g.now)
		} else {
			err = o.agg.Cancel(g.now)
		}
		if err == nil {
			err = g.emitOrder(o)
		}
		if err != nil {
			return err
		}
		o.show.agg.Release(o.id, reason, g.now)
		return g.emitShow(o.show)
	case genCheckIn:
		if err := o.agg.CheckIn(o.agg.Tickets[0].ID, g.now); err != nil {
			return err
		}
		return g.emitOrder(o)
	case genReprice:
		s := a.show
		if err := s.agg.Edit(domain.EditShow{Prices: map[string]int64{"floor": 4000 + 100*g.rng.Int64N(20)}}, g.now); err != nil {
			return err
		}
		return g.emitShow(s)
	}
	return fmt.Errorf("unknown action %d", a.kind)
}

func (g *replayGen) emitShow(s *genShow) error {
	changes := s.agg.Changes()
	err := g.emit(domain.ShowStream(s.id), &s.version, changes[s.seen:])
	s.seen = len(changes)
	return err
}

func (g *replayGen) emitOrder(o *genOrder) error {
	changes := o.agg.Changes()
	err := g.emit(domain.OrderStream(o.id), &o.version, changes[o.seen:])
	o.seen = len(changes)
	return err
}

// emit appends events to a stream of the log, up to n events in all.
func (g *replayGen) emit(stream string, version *int64, events []domain.Event) error {
	data, err := domain.Encode(events, func() uuid.UUID { return randomID(g.rng) }, g.meta)
	if err != nil {
		return err
	}
	for i, d := range data {
		if g.pos >= int64(g.n) {
			return nil
		}
		g.pos++
		*version++
		g.tally.add(events[i])
		g.chunk = append(g.chunk, []any{g.pos, [16]byte(d.ID), stream, *version, d.Type, d.Data, d.Metadata, g.now})
		if len(g.chunk) == genChunkRows {
			g.out <- g.chunk
			g.chunk = make([][]any, 0, genChunkRows)
		}
	}
	return nil
}

// randomID returns a version 4 UUID from rng, so that a seed gives one log.
func randomID(rng *rand.Rand) uuid.UUID {
	var id uuid.UUID
	binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// replayTally is what a generated log holds, counted from its events: what
// the rebuilt read models must show.
type replayTally struct {
	shows, published, repriced                  int64
	placed, confirmed, cancelled, expired       int64
	tickets, checkedIn                          int64
	holds, unitsHeld, unitsSold, seatsSold      int64
	seatsHeld, revenue, unitsExpired, unitsCanc int64
}

func (t *replayTally) add(e domain.Event) {
	switch e := e.(type) {
	case domain.ShowCreated:
		t.shows++
	case domain.ShowPublished:
		t.published++
	case domain.SectionPriceChanged:
		t.repriced++
	case domain.SeatsHeld:
		t.holds++
		t.unitsHeld += int64(units(e.Items, e.Seats))
		t.seatsHeld += int64(len(e.Seats))
	case domain.SeatsSold:
		n := int64(units(e.Items, e.Seats))
		t.holds--
		t.unitsHeld -= n
		t.unitsSold += n
		t.seatsHeld -= int64(len(e.Seats))
		t.seatsSold += int64(len(e.Seats))
		t.revenue += e.TotalCents
	case domain.SeatsReleased:
		n := int64(units(e.Items, e.Seats))
		t.holds--
		t.unitsHeld -= n
		t.seatsHeld -= int64(len(e.Seats))
		if e.Reason == domain.ReleaseExpired {
			t.unitsExpired += n
		} else {
			t.unitsCanc += n
		}
	case domain.OrderPlaced:
		t.placed++
	case domain.OrderConfirmed:
		t.confirmed++
		t.tickets += int64(len(e.Tickets))
	case domain.OrderCancelled:
		t.cancelled++
	case domain.OrderExpired:
		t.expired++
	case domain.TicketCheckedIn:
		t.checkedIn++
	}
}

func units(items []domain.HeldItem, seats []domain.HeldSeat) int {
	n := len(seats)
	for _, it := range items {
		n += it.Quantity
	}
	return n
}

// check compares the read models with the tally.
func (t *replayTally) check(ctx context.Context, pool *pgxpool.Pool) error {
	checks := []struct {
		what string
		sql  string
		want int64
	}{
		{"shows", `select count(*) from rm_shows`, t.shows},
		{"shows on sale", `select count(*) from rm_shows where status = 'on_sale'`, t.published},
		{"orders", `select count(*) from rm_orders`, t.placed},
		{"held orders", `select count(*) from rm_orders where status = 'held'`, t.placed - t.confirmed - t.cancelled - t.expired},
		{"confirmed orders", `select count(*) from rm_orders where status = 'confirmed'`, t.confirmed},
		{"cancelled orders", `select count(*) from rm_orders where status = 'cancelled'`, t.cancelled},
		{"expired orders", `select count(*) from rm_orders where status = 'expired'`, t.expired},
		{"tickets", `select count(*) from rm_tickets`, t.tickets},
		{"checked-in tickets", `select count(*) from rm_tickets where checked_in_at is not null`, t.checkedIn},
		{"open holds", `select count(*) from hold_deadlines`, t.holds},
		{"seats held", `select count(*) from rm_seats where state = 'held'`, t.seatsHeld},
		{"seats sold", `select count(*) from rm_seats where state = 'sold'`, t.seatsSold},
		{"section units held", `select coalesce(sum(held), 0) from rm_sections`, t.unitsHeld},
		{"section units sold", `select coalesce(sum(sold), 0) from rm_sections`, t.unitsSold},
		{"sales units held", `select coalesce(sum(held), 0) from rm_sales`, t.unitsHeld},
		{"sales units sold", `select coalesce(sum(sold), 0) from rm_sales`, t.unitsSold},
		{"sales revenue", `select coalesce(sum(revenue_cents), 0) from rm_sales`, t.revenue},
		{"sales units expired", `select coalesce(sum(expired), 0) from rm_sales`, t.unitsExpired},
		{"sales units cancelled", `select coalesce(sum(cancelled), 0) from rm_sales`, t.unitsCanc},
		{"sales orders confirmed", `select coalesce(sum(orders_confirmed), 0) from rm_sales`, t.confirmed},
		{"sales orders cancelled", `select coalesce(sum(orders_cancelled), 0) from rm_sales`, t.cancelled},
		{"sales orders expired", `select coalesce(sum(orders_expired), 0) from rm_sales`, t.expired},
	}
	var errs []error
	for _, c := range checks {
		var got int64
		if err := pool.QueryRow(ctx, c.sql).Scan(&got); err != nil {
			return fmt.Errorf("%s: %w", c.what, err)
		}
		if got != c.want {
			errs = append(errs, fmt.Errorf("%s: got %d, want %d", c.what, got, c.want))
		}
	}
	return errors.Join(errs...)
}
