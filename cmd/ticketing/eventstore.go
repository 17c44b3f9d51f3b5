package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
)

// eventStore is what the engine needs of an event store: the commands' port
// and the head of the global log (for lag).
type eventStore interface {
	commands.EventStore
	// Head returns the position of the last event of the global log.
	Head(ctx context.Context) (domain.Position, error)
}

var _ eventStore = (*postgres.Store)(nil)

// openStore opens the event store EVENTSTORE names: "postgres" (the
// default) in the database of pool.
func openStore(ctx context.Context, pool *pgxpool.Pool) (eventStore, error) {
	switch kind := envOr("EVENTSTORE", "postgres"); kind {
	case "postgres":
		return postgres.NewStore(ctx, pool)
	default:
		return nil, fmt.Errorf("EVENTSTORE: unknown event store %q (want postgres)", os.Getenv("EVENTSTORE"))
	}
}
