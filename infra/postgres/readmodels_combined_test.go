package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
)

// The Applies of different projections that wait at the same time are one
// transaction, one COMMIT; when one of them fails (its fn, or a statement it
// queued), none of the combined transaction is kept and each is made alone:
// the others commit, each once, and the failing ones get their own errors
// with their checkpoints unmoved. An Apply at or before its checkpoint
// commits nothing, combined or not.
func TestReadModels_ApplyCombined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, trips := tracedPool(t)
	if _, err := pool.Exec(ctx, `create table applied (name text, pos bigint, primary key (name, pos))`); err != nil {
		t.Fatal(err)
	}
	m := postgres.NewReadModels(pool)
	names := []string{"p0", "p1", "p2", "p3", "p4"}
	calls := map[string]int{}
	var mu sync.Mutex
	insert := func(name string, pos uint64) func(projections.DB, domain.Position) error {
		return func(db projections.DB, after domain.Position) error {
			mu.Lock()
			calls[name]++
			mu.Unlock()
			if after.Commit >= pos {
				return fmt.Errorf("%s: fn called at %v for %d", name, after, pos)
			}
			return db.Exec(ctx, `insert into applied values ($1, $2)`, name, int64(pos))
		}
	}
	for _, n := range names { // the checkpoints are created, alone
		if err := m.Apply(ctx, n, domain.PositionAt(1), insert(n, 1)); err != nil {
			t.Fatal(err)
		}
	}

	// round runs the Applies of fns at pos while p0's, at pos0, holds the
	// queue, so that the others wait together; it returns their errors.
	round := func(pos0, pos uint64, fns map[string]func(projections.DB, domain.Position) error) map[string]error {
		t.Helper()
		trips.commits.Store(0)
		release, held := make(chan struct{}), make(chan struct{})
		errs := map[string]error{}
		var wg sync.WaitGroup
		wg.Go(func() {
			err := m.Apply(ctx, "p0", domain.PositionAt(pos0), func(db projections.DB, after domain.Position) error {
				close(held)
				<-release
				return insert("p0", pos0)(db, after)
			})
			mu.Lock()
			errs["p0"] = err
			mu.Unlock()
		})
		<-held
		for n, fn := range fns {
			wg.Go(func() {
				err := m.Apply(ctx, n, domain.PositionAt(pos), fn)
				mu.Lock()
				errs[n] = err
				mu.Unlock()
			})
		}
		time.Sleep(300 * time.Millisecond) // they queue behind p0's
		close(release)
		wg.Wait()
		return errs
	}

	// Four together after p0 alone: two COMMITs.
	fns := map[string]func(projections.DB, domain.Position) error{}
	for _, n := range names[1:] {
		fns[n] = insert(n, 2)
	}
	for n, err := range round(2, 2, fns) {
		if err != nil {
			t.Errorf("%s at 2: %v", n, err)
		}
	}
	if c := trips.commits.Load(); c != 2 {
		t.Errorf("five Applies, four of them waiting together, made %d COMMITs, want 2", c)
	}

	// p3's fn fails, p4's queued statement fails: p1 and p2, whose fns
	// ran in the combined attempt, are made alone after it and commit once.
	boom := errors.New("boom")
	fns = map[string]func(projections.DB, domain.Position) error{
		"p1": insert("p1", 3),
		"p2": insert("p2", 3),
		"p3": func(projections.DB, domain.Position) error { return boom },
		"p4": func(db projections.DB, _ domain.Position) error {
			return db.Exec(ctx, `insert into missing_table values (1)`)
		},
	}
	mu.Lock()
	clear(calls)
	mu.Unlock()
	errs := round(3, 3, fns)
	if !errors.Is(errs["p3"], boom) {
		t.Errorf("p3 at 3: %v, want its fn's error", errs["p3"])
	}
	if err := errs["p4"]; err == nil || !strings.Contains(err.Error(), "missing_table") {
		t.Errorf("p4 at 3: %v, want the failed statement's error", err)
	}
	for _, n := range []string{"p0", "p1", "p2"} {
		if errs[n] != nil {
			t.Errorf("%s at 3: %v", n, errs[n])
		}
	}
	if calls["p1"] != 2 || calls["p2"] != 2 {
		t.Errorf("fn calls: %v; p1 and p2 want 2 each (combined, then alone)", calls)
	}

	// At or before the checkpoint: nothing, and no fn.
	fns = map[string]func(projections.DB, domain.Position) error{}
	for _, n := range []string{"p1", "p2"} {
		fns[n] = func(projections.DB, domain.Position) error {
			return fmt.Errorf("%s: fn called behind its checkpoint", n)
		}
	}
	for n, err := range round(4, 3, fns) {
		if err != nil {
			t.Errorf("%s again at 3: %v", n, err)
		}
	}

	want := map[string]uint64{"p0": 4, "p1": 3, "p2": 3, "p3": 2, "p4": 2}
	got, err := m.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n, pos := range want {
		if got[n] != domain.PositionAt(pos) {
			t.Errorf("checkpoint of %s at %v, want %d", n, got[n], pos)
		}
		var rows int
		if err := pool.QueryRow(ctx, `select count(*) from applied where name = $1`, n).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != int(pos) {
			t.Errorf("%s applied %d rows, want %d (one per committed Apply)", n, rows, pos)
		}
	}
}

// An Apply reads its projections' parked streams in the round trip of its
// checkpoints' locks, alone or combined, so that the runner's read of them
// costs no round trip: two round trips a transaction, and fn finds each
// projection's parked streams (none, for one without any).
func TestReadModels_ApplyReadsParked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, trips := tracedPool(t)
	if _, err := pool.Exec(ctx, `insert into projection_parked_streams
		(name, stream_id, version, commit_pos, prepare_pos, type, error, parked_at) values ('p', 'x', 3, 7, 7, 't', 'poison', now())`); err != nil {
		t.Fatal(err)
	}
	m := postgres.NewReadModels(pool)
	// parkedOf checks that fn finds want parked streams of name; a new
	// checkpoint's Apply reads them before its lock exists, so not at all.
	parkedOf := func(name string, want int, read bool) func(projections.DB, domain.Position) error {
		return func(db projections.DB, _ domain.Position) error {
			pdb, ok := db.(projections.ParkedDB)
			if !ok {
				return fmt.Errorf("%s: the DB of Apply is not a ParkedDB", name)
			}
			parked, wasRead := pdb.Parked(name)
			if wasRead != read || len(parked) != want || (want > 0 && parked[0].Stream != "x") {
				return fmt.Errorf("%s: parked %+v (read %v), want %d (read %v)", name, parked, wasRead, want, read)
			}
			return nil
		}
	}
	for _, n := range []string{"p", "q", "r"} { // the checkpoints are created
		if err := m.Apply(ctx, n, domain.PositionAt(1), parkedOf(n, 0, false)); err != nil {
			t.Fatal(err)
		}
	}
	trips.batches.Store(0)
	trips.alone.Store(0)
	if err := m.Apply(ctx, "p", domain.PositionAt(2), parkedOf("p", 1, true)); err != nil {
		t.Fatal(err)
	}
	if b, a := trips.batches.Load(), trips.alone.Load(); b != 2 || a != 0 {
		t.Errorf("an Apply alone: %d batches and %d statements alone, want 2 and 0", b, a)
	}

	// p's Apply holds the queue while q's and r's wait, then go together.
	trips.commits.Store(0)
	release, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = m.Apply(ctx, "p", domain.PositionAt(3), func(db projections.DB, after domain.Position) error {
			close(held)
			<-release
			return parkedOf("p", 1, true)(db, after)
		})
	})
	<-held
	wg.Go(func() { errs[1] = m.Apply(ctx, "q", domain.PositionAt(3), parkedOf("q", 0, true)) })
	wg.Go(func() { errs[2] = m.Apply(ctx, "r", domain.PositionAt(3), parkedOf("r", 0, true)) })
	time.Sleep(300 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Apply %d: %v", i, err)
		}
	}
	if c := trips.commits.Load(); c != 2 {
		t.Errorf("p alone, then q and r together: %d COMMITs, want 2", c)
	}
}
