package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
)

var _ commands.SnapshotStore = (*Snapshots)(nil)

// Snapshots keeps the latest snapshot of each stream (table snapshots).
type Snapshots struct{ pool *pgxpool.Pool }

// NewSnapshots returns the snapshots of pool's database.
func NewSnapshots(pool *pgxpool.Pool) *Snapshots { return &Snapshots{pool: pool} }

// Load returns the latest snapshot of a stream.
func (s *Snapshots) Load(ctx context.Context, stream string) (int64, []byte, bool, error) {
	var version int64
	var data []byte
	err := s.pool.QueryRow(ctx, `select version, data from snapshots where stream_id = $1`, stream).Scan(&version, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("load snapshot %s: %w", stream, err)
	}
	return version, data, true, nil
}

// Save stores a snapshot unless a newer one is there.
func (s *Snapshots) Save(ctx context.Context, stream string, version int64, data []byte) error {
	_, err := s.pool.Exec(ctx, `insert into snapshots (stream_id, version, data) values ($1, $2, $3)
		on conflict (stream_id) do update set version = excluded.version, data = excluded.data, taken_at = now()
		where snapshots.version < excluded.version`, stream, version, data)
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", stream, err)
	}
	return nil
}
