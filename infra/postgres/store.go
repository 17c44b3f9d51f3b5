package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

var _ commands.EventStore = (*Store)(nil)

const (
	// followBatch is the largest batch Follow hands to its handler.
	followBatch = 1000
	// defaultPollInterval bounds how long Follow waits for a notification
	// before it looks at the log anyway.
	defaultPollInterval = 500 * time.Millisecond
	// Follow reconnects after these delays, doubling, when its connection
	// breaks.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Store is the PostgreSQL event store, in the tables events and log_head of
// the pool's current schema.
//
// Its global log is dense and never skips a committed event: an append takes
// its positions from log_head under that row's lock and holds the lock until
// it commits, so appends commit one at a time in position order, and an append
// that rolls back leaves its positions to the next one.
type Store struct {
	pool    *pgxpool.Pool
	channel string // NOTIFY channel of this schema

	// Test hooks, set through export_test.go.
	beforeCommit func(ctx context.Context, stream string) error
	onListen     func(pid uint32)
	pollInterval time.Duration
}

// NewStore returns the event store in the current schema of pool (its
// search_path), which Migrate has prepared.
func NewStore(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	var schema *string
	if err := pool.QueryRow(ctx, "select current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if schema == nil {
		return nil, errors.New("postgres store: no current schema: check search_path")
	}
	return &Store{pool: pool, channel: channelName(*schema), pollInterval: defaultPollInterval}, nil
}

// channelName returns the NOTIFY channel of a schema. Channel names are
// identifiers: at most 63 bytes.
func channelName(schema string) string {
	const prefix = "ticketing_events_"
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("%s%016x", prefix, h.Sum64())
}

// storedEvent is where an event id was appended.
type storedEvent struct {
	stream   string
	version  int64
	position int64
}

// Append adds events to the end of a stream; see commands.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	fail := func(err error) (commands.AppendResult, error) {
		return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected, Err: err}
	}
	if len(events) == 0 {
		current, last, _, err := s.state(ctx, s.pool, stream, nil)
		if err != nil {
			return fail(err)
		}
		if expected != domain.AnyVersion && expected != current {
			return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
		}
		return commands.AppendResult{Version: current, Position: domain.PositionAt(uint64(last))}, nil
	}

	res, err := s.append(ctx, stream, expected, events)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// Unreachable while every writer takes the log_head lock first.
		switch pgErr.ConstraintName {
		case "events_event_id_key":
			current, _, found, err := s.state(ctx, s.pool, stream, events)
			if err != nil {
				return fail(err)
			}
			if res, done, err := decide(stream, expected, current, events, found); done {
				return res, err
			}
			return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
		case "events_stream_version_key":
			return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: -1}
		}
	}
	var conflict *commands.ConflictError
	if err != nil && !errors.As(err, &conflict) {
		return fail(err)
	}
	return res, err
}

// append appends in one transaction; it returns a *ConflictError or the raw
// database error.
func (s *Store) append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return commands.AppendResult{}, err
	}
	defer tx.Rollback(ctx)

	// The row lock on log_head serializes appends from here to commit.
	var head int64
	err = tx.QueryRow(ctx, "update log_head set position = position + $1 returning position", len(events)).Scan(&head)
	if err != nil {
		return commands.AppendResult{}, err
	}
	current, _, found, err := s.state(ctx, tx, stream, events)
	if err != nil {
		return commands.AppendResult{}, err
	}
	if res, done, err := decide(stream, expected, current, events, found); done {
		return res, err
	}

	n := len(events)
	positions := make([]int64, n)
	ids := make([]uuid.UUID, n)
	versions := make([]int64, n)
	types := make([]string, n)
	data := make([]string, n)
	metadata := make([]string, n)
	for i, e := range events {
		positions[i] = head - int64(n) + int64(i) + 1
		ids[i] = e.ID
		versions[i] = current + int64(i) + 1
		types[i] = e.Type
		data[i] = string(e.Data)
		metadata[i] = string(e.Metadata)
		if len(e.Metadata) == 0 {
			metadata[i] = "{}"
		}
	}
	b := &pgx.Batch{}
	b.Queue(`insert into events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		select u.position, u.event_id, $1, u.version, u.type, u.data::jsonb, u.metadata::jsonb, clock_timestamp()
		from unnest($2::bigint[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[])
			as u(position, event_id, version, type, data, metadata)`,
		stream, positions, ids, versions, types, data, metadata)
	b.Queue("select pg_notify($1, '')", s.channel)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return commands.AppendResult{}, err
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx, stream); err != nil {
			return commands.AppendResult{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return commands.AppendResult{}, err
	}
	return commands.AppendResult{Version: versions[n-1], Position: domain.PositionAt(uint64(head))}, nil
}

// decide applies the append rules to the state of the stream. done reports
// that the append must not write: it is a retry (res is the original result)
// or a conflict (err).
func decide(stream string, expected, current int64, events []domain.EventData, found map[uuid.UUID]storedEvent) (res commands.AppendResult, done bool, err error) {
	conflict := &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
	if first, retry := found[events[0].ID]; retry {
		for i, e := range events {
			got, ok := found[e.ID]
			if !ok || got.stream != stream || got.version != first.version+int64(i) {
				return commands.AppendResult{}, true, conflict
			}
		}
		last := found[events[len(events)-1].ID]
		return commands.AppendResult{Version: last.version, Position: domain.PositionAt(uint64(last.position))}, true, nil
	}
	seen := make(map[uuid.UUID]bool, len(events))
	for _, e := range events {
		if _, dup := found[e.ID]; dup || seen[e.ID] {
			return commands.AppendResult{}, true, conflict
		}
		seen[e.ID] = true
	}
	if expected != domain.AnyVersion && expected != current {
		return commands.AppendResult{}, true, conflict
	}
	return commands.AppendResult{}, false, nil
}

// batcher is a pool or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// state returns the version of a stream and the position of its last event
// (0 and 0 when it does not exist), and where the ids of events were already
// appended.
func (s *Store) state(ctx context.Context, q batcher, stream string, events []domain.EventData) (current, last int64, found map[uuid.UUID]storedEvent, err error) {
	b := &pgx.Batch{}
	b.Queue("select version, position from events where stream_id = $1 order by version desc limit 1", stream).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&current, &last)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	if len(events) > 0 {
		ids := make([]uuid.UUID, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		found = map[uuid.UUID]storedEvent{}
		b.Queue("select event_id, stream_id, version, position from events where event_id = any($1)", ids).
			Query(func(rows pgx.Rows) error {
				var id uuid.UUID
				var e storedEvent
				_, err := pgx.ForEachRow(rows, []any{&id, &e.stream, &e.version, &e.position}, func() error {
					found[id] = e
					return nil
				})
				return err
			})
	}
	err = q.SendBatch(ctx, b).Close()
	return current, last, found, err
}

const selectEvents = "select event_id, stream_id, version, position, type, data, metadata, recorded_at from events "

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanEvents(ctx context.Context, q querier, sql string, args ...any) ([]domain.RecordedEvent, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.RecordedEvent, error) {
		var e domain.RecordedEvent
		var position int64
		err := row.Scan(&e.ID, &e.StreamID, &e.Version, &position, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt)
		e.Position = domain.PositionAt(uint64(position))
		return e, err
	})
}

// ReadStream returns the events of a stream from version from; see
// commands.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error) {
	events, err := scanEvents(ctx, s.pool, selectEvents+"where stream_id = $1 and version >= $2 order by version", stream, from)
	if err != nil {
		return nil, &commands.StoreError{Op: "read stream", Stream: stream, Version: from, Err: err}
	}
	return events, nil
}

// ReadAll returns up to limit events of the global log after position after;
// see commands.EventStore.
func (s *Store) ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	events, err := readAll(ctx, s.pool, after, limit)
	if err != nil {
		return nil, &commands.StoreError{Op: "read all", Err: err}
	}
	return events, nil
}

func readAll(ctx context.Context, q querier, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	// Every position of this log has Commit == Prepare: the first one after
	// {c, p} is c+1, or c itself when p < c.
	last := after.Commit
	if after.Prepare < after.Commit {
		last--
	}
	if limit <= 0 || last >= math.MaxInt64 {
		return nil, nil
	}
	return scanEvents(ctx, q, selectEvents+"where position > $1 order by position limit $2", int64(last), limit)
}

// Head returns the position of the last committed event of the global log,
// or domain.Start when the log is empty.
func (s *Store) Head(ctx context.Context) (domain.Position, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, "select position from log_head").Scan(&head); err != nil {
		return domain.Position{}, &commands.StoreError{Op: "head", Err: err}
	}
	return domain.PositionAt(uint64(head)), nil
}

// Follow calls handle with every event after position after, as they are
// committed; see commands.EventStore. It listens for the notifications of
// appends on a connection of its own, looks at the log at least every half
// second anyway, and reconnects, with backoff, when that connection breaks.
func (s *Store) Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error {
	backoff := minBackoff
	for {
		listened, err := s.follow(ctx, &after, handle)
		var he handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return &commands.StoreError{Op: "follow", Err: err}
		}
		if listened {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// handlerError carries the error of Follow's handler.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// follow follows the log on one connection until it fails, and advances
// after. listened reports that it got as far as listening.
func (s *Store) follow(ctx context.Context, after *domain.Position, handle func(context.Context, []domain.RecordedEvent) error) (listened bool, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// A listening connection must not go back to the pool.
	conn := pc.Hijack()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(ctx)
	}()
	if _, err := conn.Exec(ctx, "listen "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	if s.onListen != nil {
		s.onListen(conn.PgConn().PID())
	}
	for {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		batch, err := readAll(ctx, conn, *after, followBatch)
		if err != nil {
			return true, err
		}
		if len(batch) > 0 {
			if err := handle(ctx, batch); err != nil {
				return true, handlerError{err}
			}
			*after = batch[len(batch)-1].Position
			continue
		}
		wait, cancel := context.WithTimeout(ctx, s.pollInterval)
		_, err = conn.WaitForNotification(wait)
		cancel()
		if err != nil && (ctx.Err() != nil || wait.Err() == nil || conn.IsClosed()) {
			return true, err
		}
		drainNotifications(conn)
	}
}

// drainNotifications discards the notifications conn already received: one
// read of the log covers them all.
func drainNotifications(conn *pgx.Conn) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		if _, err := conn.WaitForNotification(done); err != nil {
			return
		}
	}
}

// transient reports whether err may go away on a new connection.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57": // connection, rollback, resources, operator intervention
			return true
		}
		return false
	}
	return true
}
