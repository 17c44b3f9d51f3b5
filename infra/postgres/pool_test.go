package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// TestGenericPlans checks that the store's append is planned once, not at
// every execution, on a pool GenericPlans configured, and that without it
// PostgreSQL plans the append again each time (what GenericPlans is for).
// A URL that sets plan_cache_mode keeps its own.
func TestGenericPlans(t *testing.T) {
	t.Parallel()
	plans := func(t *testing.T, query string) (mode string, generic, custom int64) {
		// One connection, so that its prepared statements are the ones
		// the appends used.
		pool := pgtest.Connect(t, pgtest.SchemaURL(t)+"&pool_max_conns=1"+query)
		s, err := postgres.NewStore(t.Context(), pool)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			mustAppend(t, s, "s"+string(rune('a'+i)), domain.NoStream, newEvents(1))
		}
		err = pool.QueryRow(t.Context(), `select current_setting('plan_cache_mode'),
			coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			from pg_prepared_statements where statement like '%update log_head%'`).Scan(&mode, &generic, &custom)
		if err != nil {
			t.Fatal(err)
		}
		return mode, generic, custom
	}
	if mode, generic, custom := plans(t, ""); mode != "force_generic_plan" || custom != 0 || generic < 12 {
		t.Errorf("with GenericPlans: plan_cache_mode %s, %d generic and %d custom plans of the append; want force_generic_plan, ≥ 12 and 0", mode, generic, custom)
	}
	if mode, generic, custom := plans(t, "&plan_cache_mode=auto"); mode != "auto" || custom < 12 {
		t.Errorf("plan_cache_mode=auto in the URL: %s, %d generic and %d custom plans; want auto and the append planned each time (≥ 12 custom)", mode, generic, custom)
	}
}

// TestGenericPlans_Config checks that GenericPlans sets the mode on a pool
// config and leaves one the URL set.
func TestGenericPlans_Config(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"postgres://x/y": "force_generic_plan",
		"postgres://x/y?plan_cache_mode=force_custom_plan": "force_custom_plan",
	} {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		postgres.GenericPlans(cfg)
		if got := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; got != want {
			t.Errorf("%s: plan_cache_mode %q, want %q", url, got, want)
		}
	}
}
