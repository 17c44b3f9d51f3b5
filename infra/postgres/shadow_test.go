package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// TestShadow_CompareCounts checks the rows Swap's comparison finds on one
// side only: when the live table is empty (a first rebuild), when both
// sides differ, and when they are the same.
func TestShadow_CompareCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	insert := func(p *pgxpool.Pool, table string, ids ...uuid.UUID) {
		t.Helper()
		for _, id := range ids {
			if _, err := p.Exec(ctx, `insert into `+table+` (order_id, show_id, expires_at) values ($1, $1, $2)`,
				id, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare := func() postgres.TableDiff {
		t.Helper()
		shadow, err := postgres.NewShadow(ctx, pool, "holds", []string{"hold_deadlines"})
		if err != nil {
			t.Fatal(err)
		}
		defer shadow.Close(ctx)
		schema := shadowSchemaOf(t, pool, "holds")
		insert(pool, schema+".hold_deadlines", a, c)
		res, err := shadow.Swap(ctx, postgres.SwapOptions{DryRun: true,
			CatchUp: func(context.Context, domain.Position) (domain.Position, error) { return domain.Start, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diffs) != 1 {
			t.Fatalf("diffs: %+v", res.Diffs)
		}
		return res.Diffs[0]
	}
	// The shadow holds a and c.
	if d := compare(); d.Same() || d.LiveRows != 0 || d.ShadowRows != 2 || d.OnlyLive != 0 || d.OnlyShadow != 2 {
		t.Errorf("live empty: %+v", d)
	}
	insert(pool, "hold_deadlines", a, b)
	if d := compare(); d.Same() || d.LiveRows != 2 || d.ShadowRows != 2 || d.OnlyLive != 1 || d.OnlyShadow != 1 {
		t.Errorf("b live only, c rebuilt only: %+v", d)
	}
	if _, err := pool.Exec(ctx, `update hold_deadlines set order_id = $1, show_id = $1 where order_id = $2`, c, b); err != nil {
		t.Fatal(err)
	}
	if d := compare(); !d.Same() || d.OnlyLive != 0 || d.OnlyShadow != 0 {
		t.Errorf("the same rows: %+v", d)
	}
}

// shadowSchemaOf returns the shadow schema of projection, beside pool's.
func shadowSchemaOf(t *testing.T, pool *pgxpool.Pool, projection string) string {
	t.Helper()
	var live string
	if err := pool.QueryRow(context.Background(), `select current_schema()`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	return `"` + live + "_replay_" + projection + `"`
}
