package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// GenericPlans makes the connections of cfg plan each prepared statement
// once (plan_cache_mode=force_generic_plan) unless the URL sets
// plan_cache_mode itself.
//
// pgx prepares every statement and PostgreSQL caches its plan, but by
// default it builds a custom plan for each execution whenever the generic
// plan's estimate is higher than the custom plans' mean. The engine's
// statements take their rows as arrays (unnest($1::…[])): a custom plan
// sees how long the arrays are and a generic one guesses, so the guess
// always lost and every execution was planned again. Measured with
// pg_stat_statements over a Kafka row of `make bench-latency`, planning
// took longer than executing: 78 µs a call of the append beside 69 µs of
// execution, 137 µs of the shows projection's insert beside 118. The
// statements look rows up by key and do not need a custom plan: no partial
// index depends on a parameter, and no query has the optional filters
// (`$1 is null or …`) a generic plan cannot prune.
func GenericPlans(cfg *pgxpool.Config) {
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
}
