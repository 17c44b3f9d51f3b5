package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/commands/groupcommit"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
)

var _ commands.EventStore = (*Store)(nil)

const (
	// followBatch is the largest batch Follow hands to its handler.
	followBatch = 2000
	// defaultPollInterval bounds how long Follow waits for a notification
	// before it looks at the log anyway.
	defaultPollInterval = 500 * time.Millisecond
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

	groups *groupcommit.Batcher[struct{}, *appendReq] // the commit queue

	recent recentEvents // the events followers read last, and this Store appended

	// appended is closed, and replaced, when this Store commits an append:
	// its followers wake without waiting for the notification.
	appendedMu sync.Mutex
	appended   chan struct{}

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
	s := &Store{pool: pool, channel: channelName(*schema), pollInterval: defaultPollInterval, appended: make(chan struct{})}
	s.groups = groupcommit.New(maxGroup, (*appendReq).events, s.lead)
	return s, nil
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

// queueFound queues the query that fills found with where each of ids was
// appended; an id not in the log is left out.
func queueFound(b *pgx.Batch, ids []uuid.UUID, found map[uuid.UUID]storedEvent) {
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

// Append adds events to the end of a stream; see commands.EventStore.
//
// Concurrent appends of one Store commit together (group commit): the first
// caller leads and writes every append queued meanwhile in one transaction,
// with one log_head lock and one commit for the lot, then hands the lead to
// the next caller in the queue. Each append is still decided on its own
// against its expected version; a conflict or an idempotent retry in a group
// does not affect the others.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	if len(events) == 0 {
		current, last, _, err := s.state(ctx, s.pool, stream, nil)
		if err != nil {
			return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected, Err: err}
		}
		if expected != domain.AnyVersion && expected != current {
			return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
		}
		return commands.AppendResult{Version: current, Position: domain.PositionAt(uint64(last))}, nil
	}
	res, err := s.AppendMulti(ctx, []commands.StreamAppend{{Stream: stream, Expected: expected, Events: events}})
	if err != nil {
		return commands.AppendResult{}, err
	}
	return res[0], nil
}

var _ commands.MultiAppender = (*Store)(nil)

// AppendMulti appends to several streams in one transaction, all or none;
// see commands.MultiAppender. It goes through the same group commit as
// Append.
func (s *Store) AppendMulti(ctx context.Context, parts []commands.StreamAppend) ([]commands.AppendResult, error) {
	// Checked here, so that a bad append cannot fail the others of its group.
	for _, p := range parts {
		fail := func(err error) ([]commands.AppendResult, error) {
			return nil, &commands.StoreError{Op: "append", Stream: p.Stream, Version: p.Expected, Err: err}
		}
		if len(p.Events) == 0 {
			return fail(errors.New("no events"))
		}
		for _, e := range p.Events {
			if !json.Valid(e.Data) || (len(e.Metadata) > 0 && !json.Valid(e.Metadata)) {
				return fail(fmt.Errorf("event %s: data and metadata must be JSON", e.ID))
			}
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	req := &appendReq{parts: parts}
	// Once queued, an append is written even if its caller goes away.
	if err := s.groups.Do(context.WithoutCancel(ctx), struct{}{}, req); err != nil {
		return nil, &commands.StoreError{Op: "append", Stream: parts[0].Stream, Version: parts[0].Expected, Err: err}
	}
	return req.res, req.err
}

// appendReq is an append waiting for its group.
type appendReq struct {
	parts []commands.StreamAppend
	res   []commands.AppendResult
	err   error
}

// events counts the events of an append.
func (r *appendReq) events() int {
	n := 0
	for _, p := range r.parts {
		n += len(p.Events)
	}
	return n
}

// maxGroup bounds the events written in one transaction; a single append
// larger than it is written alone.
const maxGroup = 2048

// lead writes one group of the commit queue and gives each append of it
// its answer. ctx does not end with the leader's caller's: the others are
// waiting for it.
func (s *Store) lead(ctx context.Context, _ struct{}, group []*appendReq) error {
	gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	start, err := s.writeGroup(gctx, group)
	cancel()
	for _, r := range group {
		// On failure, every answer that relied on what the group was to
		// write becomes the error; conflicts and retries of earlier
		// appends stand.
		if err != nil && r.err == nil && r.reliesOn(start) {
			p := r.parts[0]
			r.res, r.err = nil, &commands.StoreError{Op: "append", Stream: p.Stream, Version: p.Expected, Err: err}
		}
	}
	return nil
}

// reliesOn reports whether an append's answer relies on a group that
// started after position start: it has none yet, or one past start.
func (r *appendReq) reliesOn(start int64) bool {
	if r.res == nil {
		return true
	}
	for _, res := range r.res {
		if res.Position.Commit > uint64(start) {
			return true
		}
	}
	return false
}

// writeGroup decides and writes a group of appends in one transaction.
// It returns the head of the log before the group.
//
// It first tries optimistically: it reads only the versions of the streams
// expected at a version, takes new streams (NoStream) to be new and event
// ids to be new, and lets the unique constraints on (stream_id, version) and
// event_id catch a stream or an event that exists. That saves two index
// probes per event on the usual path; when a constraint fires, the group is
// rolled back and decided again from what the log holds.
func (s *Store) writeGroup(ctx context.Context, group []*appendReq) (start int64, err error) {
	start, err = s.writeGroupOnce(ctx, group, false)
	if !isUniqueViolation(err) && !isBehindExpected(err) {
		return start, err
	}
	for _, r := range group {
		r.res, r.err = nil, nil
	}
	return s.writeGroupOnce(ctx, group, true)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isBehindExpected reports the failure of expect_versions: a stream of a
// group written blind is behind the version its append expects.
func isBehindExpected(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "TK409"
}

// writeGroupOnce writes a group; careful reads every stream's version and
// every event id first.
func (s *Store) writeGroupOnce(ctx context.Context, group []*appendReq, careful bool) (start int64, err error) {
	start = math.MaxInt64
	// The transaction is pipelined: BEGIN goes with the reads and COMMIT
	// with the writes, two round trips in all.
	err = withPipelinedTx(ctx, s.pool, func(tx *pipeTx) error {
		var err error
		start, err = s.writeGroupTx(ctx, tx, group, careful)
		return err
	})
	return start, err
}

// writeGroupTx is writeGroupOnce in the pipelined transaction tx; it commits
// tx when it writes.
func (s *Store) writeGroupTx(ctx context.Context, tx *pipeTx, group []*appendReq, careful bool) (start int64, err error) {
	start = math.MaxInt64
	// The row lock on log_head serializes writers, across processes too,
	// from here to commit: positions become visible in order.
	var (
		head     int64
		at       time.Time
		versions map[string]int64
		found    map[uuid.UUID]storedEvent
		b        *pgx.Batch
	)
	blind := !careful && blindable(group)
	if blind {
		// One round trip: the positions below are offsets from the head
		// the insert finds; until it is known, every answer relies on
		// the group.
		versions, found, b = expectedVersions(group), map[uuid.UUID]storedEvent{}, tx.begin()
		start = 0
	} else {
		if versions, found, err = s.groupState(ctx, tx, group, &head, &at, careful); err != nil {
			return start, err
		}
		start, b = head, &pgx.Batch{}
	}
	n, size := 0, 0
	for _, r := range group {
		n += r.events()
		size += r.size() // issue 17: feed2
	}
	// Sized once for the whole group: appending grew each of the seven
	// columns a dozen times for a group of hundreds of holds.
	var (
		positions, versionsOut = make([]int64, 0, n), make([]int64, 0, n)
		streams, types         = make([]string, 0, n), make([]string, 0, n)
		ids                    = make([]pgtype.UUID, 0, n)         // encoded without going through text
		data, metadata         = newJoined(size), newJoined(n * 3) // issue 17: feed2: mostly "{}"
		written                = make([]*appendReq, 0, len(group))
		recs                   = make([]domain.RecordedEvent, 0, n) // for recent, once committed
	)
	for _, r := range group {
		if res, done, err := decideParts(r.parts, versions, found); done {
			r.res, r.err = res, err
			continue
		}
		r.res = make([]commands.AppendResult, len(r.parts))
		for j, p := range r.parts {
			current := versions[p.Stream]
			for i, e := range p.Events {
				head++
				v := current + int64(i) + 1
				positions, versionsOut = append(positions, head), append(versionsOut, v)
				streams, types, ids = append(streams, p.Stream), append(types, e.Type), append(ids, pgtype.UUID{Bytes: e.ID, Valid: true})
				md := e.Metadata
				if len(md) == 0 {
					md = emptyJSON
				}
				data.add(e.Data)
				metadata.add(md)
				recs = append(recs, domain.RecordedEvent{ID: e.ID, StreamID: p.Stream, Version: v,
					Position: domain.PositionAt(uint64(head)), Type: e.Type, Data: e.Data, Metadata: md, RecordedAt: at})
				found[e.ID] = storedEvent{stream: p.Stream, version: v, position: head}
			}
			versions[p.Stream] = current + int64(len(p.Events))
			r.res[j] = commands.AppendResult{Version: versions[p.Stream], Position: domain.PositionAt(uint64(head))}
		}
		written = append(written, r)
	}
	if len(written) == 0 {
		if blind {
			tx.unsent()
		}
		return start, nil // withPipelinedTx rolls the transaction back
	}
	if blind {
		s.queueBlind(b, group, positions, ids, streams, versionsOut, types, data, metadata, &start, &at)
	} else {
		s.queueWrite(b, positions, ids, streams, versionsOut, types, data, metadata, head, at)
	}
	if s.beforeCommit != nil {
		if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
			return start, err
		}
		for _, r := range written {
			for _, p := range r.parts {
				if err := s.beforeCommit(ctx, p.Stream); err != nil {
					return start, err
				}
			}
		}
		b = &pgx.Batch{}
	}
	if _, err = tx.commit(ctx, b); err != nil {
		return start, err
	}
	if blind {
		// The offsets become positions, and the events get their time.
		for i := range recs {
			recs[i].Position, recs[i].RecordedAt = domain.PositionAt(uint64(start)+recs[i].Position.Commit), at
		}
		for _, r := range group { // those written, and retries of them in the group
			for j := range r.res {
				r.res[j].Position = domain.PositionAt(uint64(start) + r.res[j].Position.Commit)
			}
		}
	}
	s.recent.add(recs)
	s.wakeFollowers()
	return start, nil
}

// blindable reports whether a group can be written without reading the
// log first: no append of it skips the version check, so each stream's
// version is the one its first append expects, or the group fails.
func blindable(group []*appendReq) bool {
	for _, r := range group {
		for _, p := range r.parts {
			if p.Expected == domain.AnyVersion {
				return false
			}
		}
	}
	return true
}

// expectedVersions returns the version of each stream of group that its
// first append expects.
func expectedVersions(group []*appendReq) map[string]int64 {
	versions := map[string]int64{}
	for _, r := range group {
		for _, p := range r.parts {
			if _, ok := versions[p.Stream]; !ok {
				versions[p.Stream] = p.Expected
			}
		}
	}
	return versions
}

// blindInsert moves log_head past a group's events and writes them at
// their offsets ($1) from the head it found, recorded at the time its lock
// was granted (RETURNING is evaluated after the row lock is), and returns
// that head and time.
const blindInsert = `with h as (update log_head set position = position + $8 returning position - $8 as start, clock_timestamp() as at),
	ins as (insert into events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		select h.start + u.position, u.event_id, u.stream_id, u.version, u.type, u.data::json, u.metadata::json, h.at
		from h, unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[],
			string_to_array($6::text, chr(30)), string_to_array($7::text, chr(30)))
			as u(position, event_id, stream_id, version, type, data, metadata))
	select start, at from h`

// queueBlind queues the writes of a group written in one round trip: the
// insert at offsets, the check that no stream is behind the version its
// first append expects (expect_versions, migration 00028; one past it the
// unique key refuses), and the notification of the new head.
func (s *Store) queueBlind(b *pgx.Batch, group []*appendReq, offsets []int64, ids []pgtype.UUID, streams []string, versions []int64,
	types []string, data, metadata *joined, start *int64, at *time.Time) {
	b.Queue(blindInsert, offsets, ids, streams, versions, types, data.String(), metadata.String(), int64(len(offsets))).
		QueryRow(func(row pgx.Row) error { return row.Scan(start, at) })
	var checked []string
	var expected []int64
	for stream, v := range expectedVersions(group) {
		if v > 0 {
			checked, expected = append(checked, stream), append(expected, v)
		}
	}
	if len(checked) > 0 {
		b.Queue("select expect_versions($1, $2)", checked, expected)
	}
	b.Queue("select pg_notify($1, (select position::text from log_head))", s.channel)
}

// queueWrite queues the writes of a group whose state was read: the
// insert at its positions, log_head's new position and the notification.
func (s *Store) queueWrite(b *pgx.Batch, positions []int64, ids []pgtype.UUID, streams []string, versions []int64,
	types []string, data, metadata *joined, head int64, at time.Time) {
	b.Queue(`insert into events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		select u.position, u.event_id, u.stream_id, u.version, u.type, u.data::json, u.metadata::json, $8
		from unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[],
			string_to_array($6::text, chr(30)), string_to_array($7::text, chr(30)))
			as u(position, event_id, stream_id, version, type, data, metadata)`,
		positions, ids, streams, versions, types, data.String(), metadata.String(), at)
	b.Queue("update log_head set position = $1", head)
	// The payload is the log's new head: a follower that has read that far
	// (from recent, in this process) need not read the log again.
	b.Queue("select pg_notify($1, $2)", s.channel, strconv.FormatInt(head, 10))
}

// wakeFollowers wakes this Store's followers: it appended.
func (s *Store) wakeFollowers() {
	s.appendedMu.Lock()
	close(s.appended)
	s.appended = make(chan struct{})
	s.appendedMu.Unlock()
}

// appendedSignal returns a channel closed when this Store next appends.
func (s *Store) appendedSignal() <-chan struct{} {
	s.appendedMu.Lock()
	defer s.appendedMu.Unlock()
	return s.appended
}

// streamVersions reads the version of each stream of $1 that has events:
// one backward step of the (stream_id, version) index per stream. It was
// max(version) … group by stream_id, which read every version of every
// stream, so an append to a show of 10,000 events read 10,000 index entries
// while it held log_head's lock, and every other append waited.
const streamVersions = `select s.id, v.version from unnest($1::text[]) s(id)
	cross join lateral (select version from events where stream_id = s.id order by version desc limit 1) v`

// groupState locks log_head and reads its position into head, then returns
// the version of the streams of a group and where the event ids of the group
// were already appended: one round trip. Unless careful, it reads only the
// versions of streams expected at a version, and no event ids.
func (s *Store) groupState(ctx context.Context, tx *pipeTx, group []*appendReq, head *int64, at *time.Time, careful bool) (map[string]int64, map[uuid.UUID]storedEvent, error) {
	var streams []string
	var ids []uuid.UUID
	versions := map[string]int64{}
	for _, r := range group {
		for _, p := range r.parts {
			if _, ok := versions[p.Stream]; !ok {
				versions[p.Stream] = 0
				if careful || p.Expected != domain.NoStream {
					streams = append(streams, p.Stream)
				}
			}
			if careful {
				for _, e := range p.Events {
					ids = append(ids, e.ID)
				}
			}
		}
	}
	found := map[uuid.UUID]storedEvent{}
	// The lock comes first: the reads after it see every earlier writer.
	b := tx.begin()
	b.Queue("select position from log_head for update").QueryRow(func(row pgx.Row) error { return row.Scan(head) })
	// The group's events are recorded at this time, taken once the lock is
	// held (a separate statement: the lock's own target list is evaluated
	// before the lock is granted): recorded_at never goes back in log
	// order, and the events kept in recent carry the time stored.
	b.Queue("select clock_timestamp()").QueryRow(func(row pgx.Row) error { return row.Scan(at) })
	if len(streams) > 0 {
		b.Queue(streamVersions, streams).
			Query(func(rows pgx.Rows) error {
				var stream string
				var v int64
				_, err := pgx.ForEachRow(rows, []any{&stream, &v}, func() error { versions[stream] = v; return nil })
				return err
			})
	}
	if !careful {
		if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
			return nil, nil, err
		}
		return versions, found, nil
	}
	queueFound(b, ids, found)
	if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	return versions, found, nil
}

// decideParts applies the append rules to every part of an append. done
// reports that the append must not write: every part is a retry (res holds
// the original results) or one part conflicts (err). A part that appears
// twice is decided against the version the first leaves.
func decideParts(parts []commands.StreamAppend, versions map[string]int64, found map[uuid.UUID]storedEvent) (res []commands.AppendResult, done bool, err error) {
	after := map[string]int64{}
	current := func(stream string) int64 {
		if v, ok := after[stream]; ok {
			return v
		}
		return versions[stream]
	}
	if len(parts) > 1 {
		seen := map[uuid.UUID]bool{}
		for _, p := range parts {
			for _, e := range p.Events {
				if seen[e.ID] {
					return nil, true, &commands.ConflictError{Stream: p.Stream, Expected: p.Expected, Actual: current(p.Stream)}
				}
				seen[e.ID] = true
			}
		}
	}
	var retried []commands.AppendResult
	for _, p := range parts {
		r, done, err := decide(p.Stream, p.Expected, current(p.Stream), p.Events, found)
		if err != nil {
			return nil, true, err
		}
		if done {
			retried = append(retried, r)
			continue
		}
		after[p.Stream] = current(p.Stream) + int64(len(p.Events))
	}
	switch len(retried) {
	case 0:
		return nil, false, nil
	case len(parts):
		return retried, true, nil
	default: // only some were written before: not the same append
		p := parts[0]
		return nil, true, &commands.ConflictError{Stream: p.Stream, Expected: p.Expected, Actual: versions[p.Stream]}
	}
}

// decide applies the append rules to the state of the stream. done reports
// that the append must not write: it is a retry (res is the original result)
// or a conflict (err).
func decide(stream string, expected, current int64, events []domain.EventData, found map[uuid.UUID]storedEvent) (res commands.AppendResult, done bool, err error) {
	conflict := func() (commands.AppendResult, bool, error) { // made only when it is one: a group decides hundreds
		return commands.AppendResult{}, true, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
	}
	if first, retry := found[events[0].ID]; retry {
		for i, e := range events {
			got, ok := found[e.ID]
			if !ok || got.stream != stream || got.version != first.version+int64(i) {
				return conflict()
			}
		}
		last := found[events[len(events)-1].ID]
		return commands.AppendResult{Version: last.version, Position: domain.PositionAt(uint64(last.position))}, true, nil
	}
	var seen map[uuid.UUID]bool // one event (an order's opening) has no twin to look for
	if len(events) > 1 {
		seen = make(map[uuid.UUID]bool, len(events))
	}
	for _, e := range events {
		if _, dup := found[e.ID]; dup || seen[e.ID] {
			return conflict()
		}
		if seen != nil {
			seen[e.ID] = true
		}
	}
	if expected != domain.AnyVersion && expected != current {
		return conflict()
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
		queueFound(b, ids, found)
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
	// An attempt that got as far as listening made progress.
	return follow.Reconnect(ctx, func() (bool, error) { return s.follow(ctx, &after, handle) }, transient, nil)
}

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
	// read: the log may hold events past after that recent does not.
	read := true
	for {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		// Taken before recent is looked at: an append committed after
		// the look closes it.
		appended := s.appendedSignal()
		batch := s.recent.after(*after, followBatch)
		if len(batch) == 0 && read {
			if batch, err = readAll(ctx, conn, *after, followBatch); err != nil {
				return true, err
			}
			s.recent.add(batch)
			read = len(batch) == followBatch
		}
		if len(batch) > 0 {
			if err := handle(ctx, batch); err != nil {
				return true, follow.HandlerError{Err: err}
			}
			*after = batch[len(batch)-1].Position
			continue
		}
		// Wait for a notification of an append, from any process, or for
		// an append of this Store, or for the poll interval.
		wait, cancel := context.WithTimeout(ctx, s.pollInterval)
		woken := make(chan struct{})
		go func() {
			defer close(woken)
			select {
			case <-appended:
				cancel()
			case <-wait.Done():
			}
		}()
		n, err := conn.WaitForNotification(wait)
		cancel()
		<-woken
		switch {
		case err == nil:
			read = notified(conn, n, *after) || read
		case ctx.Err() != nil || wait.Err() == nil || conn.IsClosed():
			return true, err
		case errors.Is(wait.Err(), context.DeadlineExceeded):
			read = true // the poll: look at the log anyway
		}
	}
}

// notified reports whether the notification n, or one conn already received
// after it, announces a head of the log past after (or one it cannot read):
// the log must be read. Notifications of appends whose events the follower
// already has, from recent, need no read.
func notified(conn *pgx.Conn, n *pgconn.Notification, after domain.Position) bool {
	past := func(n *pgconn.Notification) bool {
		head, err := strconv.ParseInt(n.Payload, 10, 64)
		return err != nil || after.Prepare < after.Commit || uint64(head) > after.Commit
	}
	read := past(n)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		n, err := conn.WaitForNotification(done)
		if err != nil {
			return read
		}
		read = past(n) || read
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
