package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
)

// hotConfig sizes the in-memory views of the read API (issue 17: hot
// reads) and its live streams (issue 18).
type hotConfig struct {
	// Shows is how many shows are kept in memory; 0 turns hot reads and
	// live streams off.
	Shows int
	// Streams is how many live streams one client address may hold; 0:
	// no limit.
	Streams int
	// Heartbeat is how often an idle live stream gets a comment.
	Heartbeat time.Duration
	// buffer is how many messages a watcher may fall behind (tests; 0:
	// projections.DefaultLiveBuffer).
	buffer int
}

// newHot returns the in-memory views of a process that serves reads, or
// nil. They follow the PostgreSQL store's log, the same log the relay
// publishes to Kafka, and load shows from the read models: at the
// checkpoints of the in-process projectors or, with Kafka, whose
// projectors record the version they applied of each stream instead, at
// those versions of the show's stream (issue 17: reads; docs/live.md).
//
// The ETag of a show is its stream's version (issue 16: vocab), which the
// views read from the PostgreSQL event store's table at the position they
// load at; with another store, reads go to the read models.
func newHot(c Config, r roles, store eventStore, registry *domain.Registry, queries *projections.Queries, models *postgres.ReadModels, pool *pgxpool.Pool, log *slog.Logger) *projections.Hot {
	if _, ok := store.(*postgres.Store); !ok || !r.Read || c.Hot.Shows == 0 {
		return nil
	}
	versionAt := func(ctx context.Context, id uuid.UUID, at domain.Position) (int64, error) {
		var v int64
		err := pool.QueryRow(ctx, `select coalesce(max(version), $3) from events where stream_id = $1 and position <= $2`,
			domain.ShowStream(id), int64(at.Commit), domain.NoStream).Scan(&v)
		return v, err
	}
	positionOf := func(ctx context.Context, id uuid.UUID, version int64) (domain.Position, error) {
		var p int64
		err := pool.QueryRow(ctx, `select position from events where stream_id = $1 and version = $2`,
			domain.ShowStream(id), version).Scan(&p)
		return domain.PositionAt(uint64(p)), err
	}
	return &projections.Hot{Feed: store, Registry: registry, Snapshot: models.InTx, Queries: queries, VersionAt: versionAt,
		ByStream: c.Kafka != nil, PositionOf: positionOf, Max: c.Hot.Shows, Buffer: c.Hot.buffer, Log: log}
}

// hotFirst routes the GETs of the hot reads (readapi.RegisterHot) by a
// router of their own, with the same middleware, before next: gorilla/mux
// tries its routes in order, one regular expression each, and the hot
// routes come after the write API's, so that matching them took about a
// sixth of a hot read's CPU (docs/live.md). A request the small router
// does not match, or whose method it does not take, goes to next as it
// came.
func hotFirst(read *readapi.API, instrument mux.MiddlewareFunc, next http.Handler) http.Handler {
	hot := mux.NewRouter()
	hot.SkipClean(true) // as routingErrors has the main router
	hot.NotFoundHandler, hot.MethodNotAllowedHandler = next, next
	hot.Use(instrument)
	read.RegisterHot(hot)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && hotPath(r.URL.Path) {
			hot.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hotPath reports whether path has the shape of a hot read's with a show
// id in the usual form: /v1/shows/{36 characters}, with or without
// /seats. Another path, or an id in another form, goes to the main router,
// which has the same two routes: the answer is the same either way.
func hotPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v1/shows/")
	if !ok {
		return false
	}
	id, tail, more := strings.Cut(rest, "/")
	return len(id) == 36 && (!more || tail == "seats")
}

// defaultHot is the hotConfig of LoadConfig. The environment does not set
// it yet: its variables (TICKETING_HOT_SHOWS, TICKETING_LIVE_STREAMS,
// TICKETING_LIVE_HEARTBEAT, docs/live.md) wait for their rows in the
// README's Configuration table.
func defaultHot() hotConfig {
	return hotConfig{Shows: projections.DefaultHotShows, Streams: 32, Heartbeat: 15 * time.Second}
}

// shutdownLive ends the live streams, which would otherwise hold the
// HTTP server's Shutdown until its timeout.
func (e *engine) shutdownLive() {
	if e.hot != nil {
		e.hot.Shutdown()
	}
}
