package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/esdb"
	"github.com/ticketing/ticketing/infra/postgres"
)

// eventStore is what the engine needs of an event store: the commands' port
// and the head of the global log (for lag).
type eventStore interface {
	commands.EventStore
	// Head returns the position of the last event of the global log.
	Head(ctx context.Context) (domain.Position, error)
}

var (
	_ eventStore = (*postgres.Store)(nil)
	_ eventStore = (*esdb.Store)(nil)
)

// esdbOpenTimeout bounds how long the engine waits for EventStoreDB to answer
// at start.
const esdbOpenTimeout = 30 * time.Second

// openStore opens the event store c names (EVENTSTORE):
//
//	postgres  (the default) the events table in the database of pool
//	esdb      the EventStoreDB server ESDB_URL names, for example
//	          esdb://eventstore:2113?tls=false; ESDB_NAMESPACE, if set,
//	          prefixes the engine's stream names and narrows its global log
//	          to them, for several engines on one server
//
// Read models, users, idempotency keys and checkpoints stay in PostgreSQL
// either way.
func openStore(ctx context.Context, pool *pgxpool.Pool, c storeConfig, log *slog.Logger) (eventStore, error) {
	switch c.Kind {
	case "postgres", "":
		return postgres.NewStore(ctx, pool)
	case "esdb":
		if c.URL == "" {
			return nil, errors.New("EVENTSTORE=esdb needs ESDB_URL, for example esdb://localhost:2113?tls=false")
		}
		ctx, cancel := context.WithTimeout(ctx, esdbOpenTimeout)
		defer cancel()
		s, err := esdb.Open(ctx, c.URL, esdb.Options{Namespace: c.Namespace, Log: log})
		if err != nil {
			return nil, fmt.Errorf("ESDB_URL: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("EVENTSTORE: unknown event store %q (want postgres or esdb)", c.Kind)
	}
}
