package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
)

// RelayCheckpoints keeps the Kafka relay's progress (tables
// relay_checkpoints and relay_partitions, migration 00005).
type RelayCheckpoints struct {
	pool *pgxpool.Pool
}

// NewRelayCheckpoints returns the relay checkpoints in the database of pool.
func NewRelayCheckpoints(pool *pgxpool.Pool) *RelayCheckpoints { return &RelayCheckpoints{pool: pool} }

// Load returns the position up to which the relay name published the log,
// or domain.Start.
func (r *RelayCheckpoints) Load(ctx context.Context, name string) (domain.Position, error) {
	pos, err := queryPosition(ctx, r.pool, `select commit_pos, prepare_pos from relay_checkpoints where name = $1`, name)
	if err != nil {
		return domain.Position{}, fmt.Errorf("load relay checkpoint %s: %w", name, err)
	}
	return pos, nil
}

// Save records, in one statement (one round trip, one transaction), the
// relay's position and per partition the position of the last event it
// published there. Positions never move back. It was a transaction of four
// round trips (BEGIN, two upserts, COMMIT), saved after every write the relay
// makes: a quarter of the commits PostgreSQL served in the visibility bench.
//
// It commits without waiting for the disk (synchronous_commit off, for its
// own transaction only): a checkpoint lost in a crash of PostgreSQL means
// events published again, which the consumers skip by their versions, as
// after a relay that stopped between a write and its checkpoint. It was about
// 30 % of the fsyncs PostgreSQL made in the visibility bench's Kafka row,
// and on a virtual disk each is an exit to the hypervisor.
func (r *RelayCheckpoints) Save(ctx context.Context, name string, pos domain.Position, partitions map[int]domain.Position) error {
	parts, commits, prepares := make([]int32, 0, len(partitions)), make([]int64, 0, len(partitions)), make([]int64, 0, len(partitions))
	for part, p := range partitions {
		parts, commits, prepares = append(parts, int32(part)), append(commits, int64(p.Commit)), append(prepares, int64(p.Prepare))
	}
	if _, err := r.pool.Exec(ctx, `with async as (select set_config('synchronous_commit', 'off', true)),
		partitions as (
			insert into relay_partitions (name, partition, commit_pos, prepare_pos)
			select $1, u.p, u.c, u.pp from unnest($4::int[], $5::bigint[], $6::bigint[]) as u(p, c, pp)
			on conflict (name, partition) do update set commit_pos = excluded.commit_pos, prepare_pos = excluded.prepare_pos
			where (relay_partitions.commit_pos, relay_partitions.prepare_pos) < (excluded.commit_pos, excluded.prepare_pos))
		insert into relay_checkpoints (name, commit_pos, prepare_pos) select $1, $2::bigint, $3::bigint from async
		on conflict (name) do update set commit_pos = excluded.commit_pos, prepare_pos = excluded.prepare_pos, updated_at = now()
		where (relay_checkpoints.commit_pos, relay_checkpoints.prepare_pos) < (excluded.commit_pos, excluded.prepare_pos)`,
		name, int64(pos.Commit), int64(pos.Prepare), parts, commits, prepares); err != nil {
		return fmt.Errorf("save relay checkpoint %s: %w", name, err)
	}
	return nil
}
