package main

// issue 16: vocab. The engine's part of one vocabulary: a show's version,
// the ETag of GET /v1/shows/{id}.

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
)

// showVersions tells a show's stream version (readapi.ShowVersions): with
// the PostgreSQL store, one indexed look-up of the stream's last version;
// with another store, by loading the show.
type showVersions struct {
	pool     *pgxpool.Pool // nil: load the show
	commands *commands.Handler
}

func newShowVersions(e *engine) showVersions {
	v := showVersions{commands: e.commands}
	if _, ok := e.store.(*postgres.Store); ok {
		v.pool = e.pool
	}
	return v
}

// ShowVersion returns the version of show id's stream.
func (v showVersions) ShowVersion(ctx context.Context, id uuid.UUID) (int64, error) {
	if v.pool == nil {
		s, err := v.commands.LoadShow(ctx, id)
		if err != nil {
			return 0, err
		}
		return s.Version(), nil
	}
	var version int64
	err := v.pool.QueryRow(ctx, `select coalesce(max(version), $2) from events where stream_id = $1`,
		domain.ShowStream(id), domain.NoStream).Scan(&version)
	return version, err
}
