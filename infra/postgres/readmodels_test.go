package postgres_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

func TestReadModels_Checkpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := postgres.NewReadModels(pgtest.NewPool(t))

	t.Run("unknown projection starts at the start", func(t *testing.T) {
		got, err := m.Checkpoint(ctx, "nothing-yet")
		if err != nil {
			t.Fatal(err)
		}
		if got != domain.Start {
			t.Errorf("got %v, want %v", got, domain.Start)
		}
	})
	t.Run("after apply", func(t *testing.T) {
		want := domain.Position{Commit: 42, Prepare: 41}
		if err := m.Apply(ctx, "p", want, func(projections.DB, domain.Position) error { return nil }); err != nil {
			t.Fatal(err)
		}
		got, err := m.Checkpoint(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestReadModels_Checkpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := postgres.NewReadModels(pgtest.NewPool(t))
	want := map[string]domain.Position{"a": domain.PositionAt(3), "b": domain.PositionAt(math.MaxInt64)}
	for name, pos := range want {
		if err := m.Apply(ctx, name, pos, func(projections.DB, domain.Position) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("got %v, want %v", got, want)
	}
}

// holdCount counts the rows of hold_deadlines, a read model table.
func holdCount(t *testing.T, db projections.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `select count(*) from hold_deadlines`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertHold(ctx context.Context, db projections.DB) error {
	return db.Exec(ctx, `insert into hold_deadlines (order_id, show_id, expires_at) values ($1, $2, $3)`,
		uuid.New(), uuid.New(), time.Now())
}

func TestReadModels_Apply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("commits the changes with the checkpoint", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		if err := m.Apply(ctx, "p", domain.PositionAt(7), func(db projections.DB, _ domain.Position) error { return insertHold(ctx, db) }); err != nil {
			t.Fatal(err)
		}
		if got, want := holdCount(t, m.DB()), 1; got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
		if got, _ := m.Checkpoint(ctx, "p"); got != domain.PositionAt(7) {
			t.Errorf("checkpoint: got %v, want 7", got)
		}
	})
	t.Run("a failing fn leaves neither the rows nor the checkpoint", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		if err := m.Apply(ctx, "p", domain.PositionAt(1), func(db projections.DB, _ domain.Position) error { return nil }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err := m.Apply(ctx, "p", domain.PositionAt(2), func(db projections.DB, _ domain.Position) error {
			if err := insertHold(ctx, db); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
		if got, want := holdCount(t, m.DB()), 0; got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
		if got, _ := m.Checkpoint(ctx, "p"); got != domain.PositionAt(1) {
			t.Errorf("checkpoint: got %v, want 1", got)
		}
	})
	t.Run("a failing statement rolls back the statements before it", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		err := m.Apply(ctx, "p", domain.PositionAt(2), func(db projections.DB, _ domain.Position) error {
			if err := insertHold(ctx, db); err != nil {
				return err
			}
			return db.Exec(ctx, `insert into no_such_table values (1)`)
		})
		if err == nil {
			t.Fatal("got nil, want an error")
		}
		if got, want := holdCount(t, m.DB()), 0; got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
		if got, _ := m.Checkpoint(ctx, "p"); got != domain.Start {
			t.Errorf("checkpoint: got %v, want start", got)
		}
	})
	t.Run("events at or before the checkpoint are not applied again", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		apply := func(to uint64) {
			t.Helper()
			if err := m.Apply(ctx, "p", domain.PositionAt(to), func(db projections.DB, _ domain.Position) error { return insertHold(ctx, db) }); err != nil {
				t.Fatal(err)
			}
		}
		apply(5)
		apply(5)
		apply(3)
		if got, want := holdCount(t, m.DB()), 1; got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
		if got, _ := m.Checkpoint(ctx, "p"); got != domain.PositionAt(5) {
			t.Errorf("checkpoint: got %v, want 5", got)
		}
	})
	t.Run("fn gets the checkpoint to apply after", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		var got []domain.Position
		for _, to := range []domain.Position{domain.PositionAt(4), {Commit: 9, Prepare: 8}} {
			if err := m.Apply(ctx, "p", to, func(_ projections.DB, after domain.Position) error {
				got = append(got, after)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if want := []domain.Position{domain.Start, domain.PositionAt(4)}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("concurrent applies of one projection run one after the other", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		// Two processes with overlapping batches, (0, 9] and (0, 12]: the
		// second to take the lock sees the first's checkpoint.
		errs := make(chan error, 2)
		var mu sync.Mutex
		var afters []domain.Position
		for _, to := range []uint64{9, 12} {
			go func() {
				errs <- m.Apply(ctx, "p", domain.PositionAt(to), func(db projections.DB, after domain.Position) error {
					mu.Lock()
					afters = append(afters, after)
					mu.Unlock()
					return insertHold(ctx, db)
				})
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got, _ := m.Checkpoint(ctx, "p")
		switch {
		case got == domain.PositionAt(12) && len(afters) == 2:
			// (0, 9] first, then (9, 12]
			if afters[0] != domain.Start || afters[1] != domain.PositionAt(9) {
				t.Errorf("afters: got %v, want [0 9]", afters)
			}
		case got == domain.PositionAt(12) && len(afters) == 1:
			// (0, 12] first; (0, 9] was already applied
			if afters[0] != domain.Start {
				t.Errorf("afters: got %v, want [0]", afters)
			}
		default:
			t.Errorf("checkpoint %v after %v, want 12", got, afters)
		}
		if got, want := holdCount(t, m.DB()), len(afters); got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
	})
	t.Run("a position beyond bigint is refused", func(t *testing.T) {
		t.Parallel()
		m := postgres.NewReadModels(pgtest.NewPool(t))
		called := false
		err := m.Apply(ctx, "p", domain.PositionAt(math.MaxInt64+1), func(projections.DB, domain.Position) error { called = true; return nil })
		if err == nil || called {
			t.Errorf("got err %v, called %v; want an error and no call", err, called)
		}
	})
}

func TestReadModels_DB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := postgres.NewReadModels(pgtest.NewPool(t))
	db := m.DB()

	t.Run("no row is ErrNotFound", func(t *testing.T) {
		var id uuid.UUID
		err := db.QueryRow(ctx, `select order_id from hold_deadlines where order_id = $1`, uuid.New()).Scan(&id)
		if !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("got %v, want %v", err, projections.ErrNotFound)
		}
	})
	t.Run("rows", func(t *testing.T) {
		for range 3 {
			if err := insertHold(ctx, db); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := db.Query(ctx, `select order_id from hold_deadlines`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if got, want := n, 3; got != want {
			t.Errorf("got %d rows, want %d", got, want)
		}
	})
	t.Run("a bad statement fails", func(t *testing.T) {
		if err := db.Exec(ctx, `select * from no_such_table`); err == nil {
			t.Error("got nil, want an error")
		}
		if _, err := db.Query(ctx, `select * from no_such_table`); err == nil {
			t.Error("got nil, want an error")
		}
	})
}
