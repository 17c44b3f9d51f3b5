package postgres

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands/groupcommit"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

var (
	_ projections.Store               = (*ReadModels)(nil)
	_ projections.DeliveredBatchStore = (*ReadModels)(nil)
	_ projections.Transactor          = (*ReadModels)(nil)
	_ projections.DB                  = rmDB{}
	_ projections.DB                  = (*queueDB)(nil)
	_ projections.Copier              = (*queueDB)(nil)
)

// ReadModels keeps the read models and the projection checkpoints (table
// projection_checkpoints, migration 00002) in PostgreSQL.
type ReadModels struct {
	pool *pgxpool.Pool
	// rebuild: Apply commits without waiting for the WAL flush.
	rebuild bool
	// copyMin is the DB's projections.Copier CopyMin in Apply: zero, no
	// COPY, but in a rebuild (issue 17: rebuilds).
	copyMin int
	// partitions are the rows of projection_partitions known to exist, as
	// partitionKey: a delivery to partitions all known skips the statement
	// that creates them (84 index probes a batch, for seven projections
	// and twelve partitions). Nothing deletes those rows; a delivery that
	// finds one missing forgets the projection's and fails, and the next
	// creates them again.
	partitions sync.Map
	// applies combines the Applies of different projections that wait at
	// the same time into one transaction (nil: each has its own).
	applies *groupcommit.Batcher[struct{}, *applyReq]
}

// errPartitionsMissing says that rows of projection_partitions were not
// there to lock.
var errPartitionsMissing = errors.New("projection partitions missing")

type partitionKey struct {
	name      string
	partition int32
}

// partitionsKnown reports whether every row of names × parts is known to
// exist.
func (m *ReadModels) partitionsKnown(names []string, parts []int32) bool {
	for _, n := range names {
		for _, p := range parts {
			if _, ok := m.partitions.Load(partitionKey{n, p}); !ok {
				return false
			}
		}
	}
	return true
}

// rememberPartitions records that the rows of names × parts exist.
func (m *ReadModels) rememberPartitions(names []string, parts []int32) {
	for _, n := range names {
		for _, p := range parts {
			m.partitions.Store(partitionKey{n, p}, struct{}{})
		}
	}
}

// forgetPartitions forgets every row of names.
func (m *ReadModels) forgetPartitions(names []string) {
	m.partitions.Range(func(k, _ any) bool {
		if slices.Contains(names, k.(partitionKey).name) {
			m.partitions.Delete(k)
		}
		return true
	})
}

// rebuildCopyMin is the fewest rows a projector of a rebuild loads with
// COPY: below it, a COPY's extra round trips (it describes the table first)
// cost more than the INSERT's work per row.
const rebuildCopyMin = 64

// NewReadModels returns the read models in the database of pool.
func NewReadModels(pool *pgxpool.Pool) *ReadModels {
	return (&ReadModels{pool: pool}).combined()
}

// combined returns m with its own queue of Applies to combine.
func (m *ReadModels) combined() *ReadModels {
	m.applies = groupcommit.New(maxCombined, nil, m.serveApplies)
	return m
}

// keyedOnly keeps a projection's transaction on the indexes. A read-model
// table grows from empty (a rebuild's shadow table, a new install's table in
// its first ticket drop) faster than autovacuum analyzes it, and a plan
// cached while it was small would then scan it whole at every batch: in a
// rebuild of 1,000,000 events that made the sales projection take three
// times as long as the others. The projectors' statements all find their
// rows by key.
const keyedOnly = "set local enable_seqscan = off"

// ForRebuild returns the read models of m for a rebuild: their Apply commits
// with synchronous_commit off, in its own transactions only, so that a commit
// does not wait for its WAL to reach the disk. A crash may then lose the last
// transactions a rebuild committed, each with its checkpoint, never one
// without the other: the rebuild applies them again. The live path keeps m
// and its durable commits. Its projectors load the rows they know are new
// with COPY (projections.Copier).
func (m *ReadModels) ForRebuild() *ReadModels {
	return &ReadModels{pool: m.pool, rebuild: true, copyMin: rebuildCopyMin}
}

// WithCopyMin returns the read models of m whose projectors load runs of
// at least n new rows with COPY; zero never does. Tests use it to take the
// COPY path with few rows.
func (m *ReadModels) WithCopyMin(n int) *ReadModels {
	c := &ReadModels{pool: m.pool, rebuild: m.rebuild, copyMin: n}
	if m.applies != nil {
		c.combined()
	}
	return c
}

// DB returns the read-model database for queries outside a transaction.
func (m *ReadModels) DB() projections.DB { return rmDB{m.pool} }

// InTx runs fn in one transaction and commits it when fn returns nil.
func (m *ReadModels) InTx(ctx context.Context, fn func(db projections.DB) error) error {
	return withTx(ctx, m.pool, func(tx pgx.Tx) error { return fn(rmDB{tx}) })
}

// Checkpoint returns the checkpoint of the projection name, or domain.Start.
func (m *ReadModels) Checkpoint(ctx context.Context, name string) (domain.Position, error) {
	pos, err := queryPosition(ctx, m.pool, `select commit_pos, prepare_pos from projection_checkpoints where name = $1`, name)
	if err != nil {
		return domain.Position{}, fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	return pos, nil
}

// queryPosition reads the position (commit_pos, prepare_pos) the query sql
// selects for name, or domain.Start when it selects no row.
func queryPosition(ctx context.Context, pool *pgxpool.Pool, sql, name string) (domain.Position, error) {
	var c, p int64
	err := pool.QueryRow(ctx, sql, name).Scan(&c, &p)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Start, nil
	}
	if err != nil {
		return domain.Position{}, err
	}
	return rmPosition(c, p), nil
}

// Checkpoints returns the checkpoint of every projection that has one.
func (m *ReadModels) Checkpoints(ctx context.Context) (map[string]domain.Position, error) {
	rows, err := m.pool.Query(ctx, `select name, commit_pos, prepare_pos from projection_checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]domain.Position{}
	for rows.Next() {
		var name string
		var c, p int64
		if err := rows.Scan(&name, &c, &p); err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		out[name] = rmPosition(c, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}

// SQL of the checkpoints, for Apply.
const (
	lockCheckpoint   = `select commit_pos, prepare_pos from projection_checkpoints where name = $1 for update`
	createCheckpoint = `insert into projection_checkpoints (name, commit_pos, prepare_pos) values ($1, 0, 0) on conflict (name) do nothing`
	setCheckpoint    = `update projection_checkpoints set commit_pos = $2, prepare_pos = $3, updated_at = now() where name = $1`
	// The same, for the projections of a combined Apply.
	lockCheckpoints = `select name, commit_pos, prepare_pos from projection_checkpoints
		where name = any($1) order by name for update`
	setCheckpoints = `update projection_checkpoints p set commit_pos = u.c, prepare_pos = u.p, updated_at = now()
		from unnest($1::text[], $2::bigint[], $3::bigint[]) as u(name, c, p) where p.name = u.name`
)

// Apply runs fn and records to as the checkpoint of name in one
// transaction. The checkpoint row is locked first (select ... for update), so
// that the Applies of two processes running one projection take turns, and
// fn gets the checkpoint it must apply the events after. When the checkpoint
// already is at or past to, Apply returns nil without calling fn.
//
// The statements fn runs with Exec are queued and sent together, in one
// round trip, before its next QueryRow or Query and with the checkpoint and
// the COMMIT; so their errors would come late, with a later statement. When
// one fails, Apply therefore rolls back and runs fn again, in a new
// transaction and one statement at a time, so that fn gets each error from
// the statement that caused it, as it would without queueing. fn must thus
// change nothing but db, and must not change the arguments it gave Exec.
//
// The Applies of different projections that wait at the same time (the
// projectors of a process, handed each batch of the log together) are made
// in one transaction: one COMMIT, one statement that locks their
// checkpoints and one that moves them, where each had its own. When that
// transaction fails for any reason (a statement, an fn, a checkpoint not
// created yet), it commits nothing, and each Apply is made alone, as
// above, so that each gets its own answer.
func (m *ReadModels) Apply(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error) error {
	if to.Commit > math.MaxInt64 || to.Prepare > math.MaxInt64 {
		return fmt.Errorf("apply %s: position %s does not fit a bigint", name, to)
	}
	if m.applies == nil {
		return m.applyAlone(ctx, name, to, fn)
	}
	r := &applyReq{ctx: ctx, name: name, to: to, fn: fn}
	if err := m.applies.Do(ctx, struct{}{}, r); err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	return r.err
}

// applyReq is an Apply waiting to be combined with the others of its round.
type applyReq struct {
	ctx  context.Context
	name string
	to   domain.Position
	fn   func(db projections.DB, after domain.Position) error
	err  error
}

// maxCombined bounds the Applies combined in one transaction.
const maxCombined = 64

// serveApplies makes the Applies of batch: those of different projections
// together, when there are several, and otherwise, or when that fails,
// each alone (a second Apply of one projection always alone, after).
func (m *ReadModels) serveApplies(ctx context.Context, _ struct{}, batch []*applyReq) error {
	seen := map[string]bool{}
	var together, alone []*applyReq
	for _, r := range batch {
		if seen[r.name] {
			alone = append(alone, r)
			continue
		}
		seen[r.name] = true
		together = append(together, r)
	}
	if len(together) < 2 || m.applyTogether(ctx, together) != nil {
		alone = append(together, alone...)
	}
	for _, r := range alone {
		r.err = m.applyAlone(r.ctx, r.name, r.to, r.fn)
	}
	return nil
}

// errNotTogether says that a combined Apply found a checkpoint row missing:
// the Apply that creates it is made alone.
var errNotTogether = errors.New("a checkpoint is not created yet")

// applyTogether makes the Applies of reqs, of different projections, in one
// pipelined transaction: BEGIN with the locks of their checkpoints, in the
// order of name, as every Apply takes them (so that two processes' take
// turns and never deadlock); then each fn whose checkpoint is before its
// position, in that order, on one connection; their queued statements, the
// checkpoints and COMMIT. It fails, having committed nothing, when any part
// fails.
func (m *ReadModels) applyTogether(ctx context.Context, reqs []*applyReq) error {
	reqs = slices.Clone(reqs)
	slices.SortFunc(reqs, func(a, b *applyReq) int { return strings.Compare(a.name, b.name) })
	names := make([]string, len(reqs))
	for i, r := range reqs {
		names[i] = r.name
	}
	return withPipelinedTx(ctx, m.pool, func(tx *pipeTx) error {
		after := make(map[string]domain.Position, len(reqs))
		b := tx.begin()
		b.Queue(keyedOnly)
		b.Queue(lockCheckpoints, names).Query(func(rows pgx.Rows) error {
			var name string
			var c, p int64
			_, err := pgx.ForEachRow(rows, []any{&name, &c, &p}, func() error { after[name] = rmPosition(c, p); return nil })
			return err
		})
		var parked map[string][]projections.ParkedStream
		queueParked(b, names, &parked)
		if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if len(after) != len(reqs) {
			return errNotTogether
		}
		db := &queueDB{conn: tx.conn, batch: &pgx.Batch{}, copyMin: m.copyMin, parked: parked}
		var moved []string
		var cs, ps []int64
		for _, r := range reqs {
			if !after[r.name].Less(r.to) {
				continue // applied already: Apply returns nil without calling fn
			}
			if err := r.fn(db, after[r.name]); err != nil {
				return err
			}
			if db.late != nil {
				return db.late
			}
			moved, cs, ps = append(moved, r.name), append(cs, int64(r.to.Commit)), append(ps, int64(r.to.Prepare))
		}
		b, db.batch = db.batch, nil
		b.Queue(setCheckpoints, moved, cs, ps)
		_, err := tx.commit(ctx, b)
		return err
	})
}

// queueParked queues the read of the parked streams of the projections
// names into *parked (every name in it, with or without any), after their
// checkpoints' locks: the runner's loadParked then reads them from there.
func queueParked(b *pgx.Batch, names []string, parked *map[string][]projections.ParkedStream) {
	sql, args := projections.ParkedManyQuery(names)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		byName, err := projections.ScanParkedMany(rows)
		if err != nil {
			return err
		}
		for _, n := range names {
			if _, ok := byName[n]; !ok {
				byName[n] = nil
			}
		}
		*parked = byName
		return nil
	})
}

// applyAlone is Apply in a transaction of its own.
func (m *ReadModels) applyAlone(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error) error {
	late, err := m.apply(ctx, name, to, fn, true)
	if late && ctx.Err() == nil {
		_, err = m.apply(ctx, name, to, fn, false)
	}
	return err
}

// apply is one attempt of Apply, queueing the Execs of fn or not. late says
// that a queued statement of fn failed.
func (m *ReadModels) apply(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error, queue bool) (late bool, err error) {
	ran := false
	err = withPipelinedTx(ctx, m.pool, func(tx *pipeTx) error {
		ran = true
		var err error
		late, err = m.applyTx(ctx, tx, name, to, fn, queue)
		return err
	})
	if err != nil && !ran { // no connection
		return false, fmt.Errorf("apply %s: %w", name, err)
	}
	return late, err
}

// applyTx is apply in the pipelined transaction tx.
func (m *ReadModels) applyTx(ctx context.Context, tx *pipeTx, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error, queue bool) (late bool, err error) {
	fail := func(err error) (bool, error) { return false, fmt.Errorf("apply %s: %w", name, err) }
	conn := tx.conn
	// BEGIN and the lock go in one round trip; the row is created the
	// first time only.
	var c, p int64
	found := false
	b := tx.begin()
	b.Queue(keyedOnly)
	if m.rebuild {
		b.Queue("set local synchronous_commit = off")
	}
	b.Queue(lockCheckpoint, name).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&c, &p)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	var parked map[string][]projections.ParkedStream
	queueParked(b, []string{name}, &parked)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	if !found {
		parked = nil // read before the lock: fn reads them itself
		if _, err := conn.Exec(ctx, createCheckpoint, name); err != nil {
			return fail(err)
		}
		if err := conn.QueryRow(ctx, lockCheckpoint, name).Scan(&c, &p); err != nil {
			return fail(err)
		}
	}
	after := rmPosition(c, p)
	if !after.Less(to) {
		return false, nil
	}
	db := &queueDB{conn: conn, direct: !queue, batch: &pgx.Batch{}, copyMin: m.copyMin, parked: parked}
	if err := fn(db, after); err != nil {
		return db.late != nil, err
	}
	if db.late != nil { // fn went on after a failure
		return true, fmt.Errorf("apply %s: %w", name, db.late)
	}
	// The queued statements, the checkpoint and COMMIT: one round trip.
	n := db.batch.Len()
	b = db.batch
	db.batch = nil
	b.Queue(setCheckpoint, name, int64(to.Commit), int64(to.Prepare))
	if i, err := tx.commit(ctx, b); err != nil {
		return i < n, fmt.Errorf("apply %s: %w", name, err)
	}
	return false, nil
}

func rmPosition(c, p int64) domain.Position {
	return domain.Position{Commit: uint64(c), Prepare: uint64(p)}
}

// rmQuerier is what a pool and a transaction have in common.
type rmQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rmDB adapts a pool or a transaction to projections.DB.
type rmDB struct{ q rmQuerier }

// Exec runs a statement.
func (d rmDB) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := d.q.Exec(ctx, sql, args...)
	return err
}

// Query runs a query.
func (d rmDB) Query(ctx context.Context, sql string, args ...any) (projections.Rows, error) {
	rows, err := d.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// QueryRow runs a query for one row.
func (d rmDB) QueryRow(ctx context.Context, sql string, args ...any) projections.Row {
	return rmRow{d.q.QueryRow(ctx, sql, args...)}
}

// rmRow translates pgx.ErrNoRows to projections.ErrNotFound.
type rmRow struct{ r pgx.Row }

// Scan reads the row, or returns projections.ErrNotFound.
func (r rmRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.ErrNotFound
	}
	return err
}

// ApplyDelivered applies runs of events a broker delivered; see
// projections.Store. The progress rows of the partitions are locked first,
// in partition order, so that two consumers that both hold a partition for
// a moment during a rebalance take turns, and the second one skips what the
// first applied.
func (m *ReadModels) ApplyDelivered(ctx context.Context, name string, deliveries []projections.Delivery, fn func(db projections.DB, rec domain.RecordedEvent) error) ([]int, error) {
	return m.ApplyDeliveredBatch(ctx, name, deliveries, func(db projections.DB, recs []domain.RecordedEvent) error {
		for _, rec := range recs {
			if err := fn(db, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// ApplyDeliveredBatch is ApplyDelivered with one call of fn for every event
// to apply; see projections.DeliveredBatchStore.
//
// As in Apply, the statements fn runs with Exec are queued and sent with the
// progress rows and the COMMIT, in one round trip; when a queued statement
// fails, the transaction is rolled back and run again, one statement at a
// time, so that fn gets each error from the statement that caused it.
func (m *ReadModels) ApplyDeliveredBatch(ctx context.Context, name string, deliveries []projections.Delivery, fn func(db projections.DB, recs []domain.RecordedEvent) error) ([]int, error) {
	return m.applyDeliveredBatch(ctx, name, deliveries, false, func(db projections.DB, _ []projections.ParkedStream, recs []domain.RecordedEvent) error {
		return fn(db, recs)
	})
}

var _ projections.DeliveredParkedStore = (*ReadModels)(nil)

// ApplyDeliveredParked is ApplyDeliveredBatch, with the projection's parked
// streams read in the round trip of the locks; see
// projections.DeliveredParkedStore. The transaction is then two round
// trips: BEGIN, the locks, the versions and the parked streams; then fn's
// statements, the progress rows and COMMIT.
func (m *ReadModels) ApplyDeliveredParked(ctx context.Context, name string, deliveries []projections.Delivery, fn deliveredFn) ([]int, error) {
	return m.applyDeliveredBatch(ctx, name, deliveries, true, fn)
}

// deliveredFn is the function of ApplyDeliveredParked.
type deliveredFn = func(db projections.DB, parked []projections.ParkedStream, recs []domain.RecordedEvent) error

// applyDeliveredBatch is ApplyDeliveredParked, reading the parked streams
// only when readParked (fn gets nil otherwise).
func (m *ReadModels) applyDeliveredBatch(ctx context.Context, name string, deliveries []projections.Delivery, readParked bool, fn deliveredFn) ([]int, error) {
	parts, streams := deliveredKeys(deliveries)
	if len(streams) == 0 {
		return make([]int, len(deliveries)), nil
	}
	at := deliveredAt{name: name, parts: parts, streams: streams, readParked: readParked}
	done, gap, late, err := m.applyDelivered(ctx, at, deliveries, fn, true)
	if late && ctx.Err() == nil {
		done, gap, _, err = m.applyDelivered(ctx, at, deliveries, fn, false)
	}
	if err != nil {
		return done, err
	}
	return done, gap
}

// deliveredAt is what a delivered transaction locks and reads: the
// progress of the projection name in the partitions parts, the versions of
// streams, and, when readParked, the projection's parked streams.
type deliveredAt struct {
	name       string
	parts      []int32
	streams    []string
	readParked bool
}

// applyDelivered is one attempt of ApplyDeliveredBatch, queueing the Execs
// of fn or not. It returns what it did, a gap it found, whether a queued
// statement of fn failed, and its error.
func (m *ReadModels) applyDelivered(ctx context.Context, at deliveredAt, deliveries []projections.Delivery, fn deliveredFn, queue bool) (done []int, gap error, late bool, err error) {
	// BEGIN, the locks and the reads go in one round trip, the writes and
	// COMMIT in another: this runs for every batch a consumer fetches.
	ran := false
	err = withPipelinedTx(ctx, m.pool, func(tx *pipeTx) error {
		ran = true
		var err error
		done, gap, late, err = m.applyDeliveredTx(ctx, tx, at, deliveries, fn, queue)
		return err
	})
	if err != nil {
		if !ran { // no connection
			err = fmt.Errorf("apply delivered %s: %w", at.name, err)
		}
		return make([]int, len(deliveries)), nil, late, err
	}
	return done, gap, false, nil
}

// applyDeliveredTx is applyDelivered in the pipelined transaction tx.
func (m *ReadModels) applyDeliveredTx(ctx context.Context, tx *pipeTx, at deliveredAt, deliveries []projections.Delivery, fn deliveredFn, queue bool) ([]int, error, bool, error) {
	fail := func(late bool, err error) ([]int, error, bool, error) {
		return make([]int, len(deliveries)), nil, late, fmt.Errorf("apply delivered %s: %w", at.name, err)
	}
	versions := make(map[string]int64, len(at.streams))
	names := []string{at.name}
	last, parked, err := lockDelivered(ctx, tx, at, versions, !m.partitionsKnown(names, at.parts))
	if err != nil {
		if errors.Is(err, errPartitionsMissing) {
			m.forgetPartitions(names)
		}
		return fail(false, err)
	}
	done, apply, changed, gap := resolveDelivered(at.name, deliveries, last, versions)
	db := &queueDB{conn: tx.conn, direct: !queue, batch: &pgx.Batch{}}
	if len(apply) > 0 {
		if err := fn(db, parked, apply); err != nil {
			return make([]int, len(deliveries)), nil, db.late != nil, err
		}
		if db.late != nil { // fn went on after a failure
			return fail(true, db.late)
		}
	}
	queued := db.batch.Len()
	if i, err := commitDelivered(ctx, tx, db.batch, at.name, changed, versions, last); err != nil {
		return fail(i < queued, err)
	}
	m.rememberPartitions(names, at.parts)
	return done, gap, false, nil
}

// lockDelivered begins tx, locks the rows of the partitions at.parts
// (creating those never seen before), reads the versions of at.streams
// into versions and, when at.readParked, the parked streams, all in one
// round trip. It returns each partition's last position and the parked
// streams.
func lockDelivered(ctx context.Context, tx *pipeTx, at deliveredAt, versions map[string]int64, create bool) (map[int]domain.Position, []projections.ParkedStream, error) {
	last := map[int]domain.Position{}
	locked := 0
	b := tx.begin()
	b.Queue(keyedOnly)
	// Rows of partitions never seen before are created (unless create is
	// false: all are known to exist), then every row is locked in partition
	// order; "do nothing" neither locks nor waits for a row that exists.
	if create {
		b.Queue(`insert into projection_partitions (name, partition) select $1, unnest($2::int[]) on conflict do nothing`, at.name, at.parts)
	}
	b.Queue(`select partition, commit_pos, prepare_pos from projection_partitions
		where name = $1 and partition = any($2) order by partition for update`, at.name, at.parts).Query(func(rows pgx.Rows) error {
		var part int
		var c, p int64
		_, err := pgx.ForEachRow(rows, []any{&part, &c, &p}, func() error { last[part] = rmPosition(c, p); locked++; return nil })
		return err
	})
	b.Queue(readStreamVersionsOf, at.name, at.streams).Query(func(rows pgx.Rows) error {
		var stream string
		var version int64
		_, err := pgx.ForEachRow(rows, []any{&stream, &version}, func() error { versions[stream] = version; return nil })
		return err
	})
	var parked []projections.ParkedStream
	if at.readParked {
		// After the partitions' locks, as the runner's own read of them was.
		sql, args := projections.ParkedQuery(at.name)
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			var err error
			parked, err = projections.ScanParked(at.name, rows)
			return err
		})
	}
	if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	if locked != len(at.parts) {
		return nil, nil, fmt.Errorf("locked %d of %d partitions: %w", locked, len(at.parts), errPartitionsMissing)
	}
	return last, parked, nil
}

// resolveDelivered picks the events of deliveries to apply: each stream's
// next versions, up to the first gap. It counts what it took of each
// delivery in done, advances versions and last, and names the streams it
// changed.
func resolveDelivered(name string, deliveries []projections.Delivery, last map[int]domain.Position, versions map[string]int64) (done []int, apply []domain.RecordedEvent, changed map[string]bool, gap error) {
	done, changed = make([]int, len(deliveries)), map[string]bool{}
	n := 0
	for _, d := range deliveries {
		n += len(d.Events)
	}
	apply = make([]domain.RecordedEvent, 0, n)
	for i, d := range deliveries {
		for _, rec := range d.Events {
			current := versions[rec.StreamID]
			if rec.Version > current+1 {
				if gap == nil {
					gap = &projections.GapError{Projection: name, Stream: rec.StreamID, Want: current + 1, Got: rec.Version, Position: rec.Position}
				}
				break
			}
			if rec.Version == current+1 {
				apply = append(apply, rec)
				versions[rec.StreamID] = rec.Version
				changed[rec.StreamID] = true
			}
			if last[d.Partition].Less(rec.Position) {
				last[d.Partition] = rec.Position
			}
			done[i]++
		}
	}
	return done, apply, changed, gap
}

// commitDelivered sends the statements b holds, writes the versions of the
// changed streams and the partitions' last positions, and commits tx. On
// failure it returns the index of the statement that failed.
func commitDelivered(ctx context.Context, tx *pipeTx, b *pgx.Batch, name string, changed map[string]bool, versions map[string]int64, last map[int]domain.Position) (int, error) {
	w := streamVersionWrites{}
	for s := range changed {
		w.set(name, s, versions[s])
	}
	pnum, pcs, pps := make([]int32, 0, len(last)), make([]int64, 0, len(last)), make([]int64, 0, len(last))
	for part, pos := range last {
		pnum, pcs, pps = append(pnum, int32(part)), append(pcs, int64(pos.Commit)), append(pps, int64(pos.Prepare))
	}
	w.queue(b)
	b.Queue(`update projection_partitions p set commit_pos = u.c, prepare_pos = u.pp, updated_at = now()
		from unnest($2::int[], $3::bigint[], $4::bigint[]) as u(part, c, pp)
		where p.name = $1 and p.partition = u.part`, name, pnum, pcs, pps)
	return tx.commit(ctx, b)
}

var _ projections.StatusReporter = (*ReadModels)(nil)

// ReportStatus records a projection's state for other processes.
func (m *ReadModels) ReportStatus(ctx context.Context, s projections.ProjectionStatus) error {
	_, err := m.pool.Exec(ctx, `insert into projection_state (name, state, last_error, failures, updated_at)
		values ($1, $2, $3, $4, now())
		on conflict (name) do update set state = excluded.state, last_error = excluded.last_error,
			failures = excluded.failures, updated_at = excluded.updated_at`,
		s.Name, s.State, s.LastError, s.Failures)
	if err != nil {
		return fmt.Errorf("report status %s: %w", s.Name, err)
	}
	return nil
}

// maxQueued is the most statements queueDB queues before it sends them.
const maxQueued = 1024

// queueDB is the projections.DB of Apply's transaction. It queues the
// statements of Exec and sends them in one round trip when it must: before a
// QueryRow (together with it) or a Query, when maxQueued are waiting, and at
// the end of Apply, with the checkpoint and COMMIT. direct runs every
// statement at once instead.
type queueDB struct {
	conn   *pgx.Conn
	direct bool
	batch  *pgx.Batch
	// late is the failure of a queued statement, found when it was sent;
	// the transaction is over.
	late error
	// copyMin is CopyMin; see ReadModels.copyMin.
	copyMin int
	// parked are the parked streams of the transaction's projections, by
	// name, read with their checkpoints' locks; nil when not read.
	parked map[string][]projections.ParkedStream
}

// Parked returns the parked streams of the projection name as the
// transaction read them; see projections.ParkedDB.
func (d *queueDB) Parked(name string) ([]projections.ParkedStream, bool) {
	if d.parked == nil {
		return nil, false
	}
	return d.parked[name], true
}

// CopyMin is the fewest rows worth a COPY; zero: no COPY.
func (d *queueDB) CopyMin() int { return d.copyMin }

// CopyFrom sends the queue, then loads rows into table with COPY. rows
// are the caller's; their uuid.UUIDs are replaced by pgUUIDs.
func (d *queueDB) CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error {
	if err := d.flush(ctx); err != nil {
		return err
	}
	for _, r := range rows {
		for i, v := range r {
			r[i], _ = pgValue(v)
		}
	}
	_, err := d.conn.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

// Try runs fn in a savepoint, the statements it queues sent before the
// savepoint is released; when they fail, it rolls back to the savepoint
// and returns the failure, the transaction usable again.
func (d *queueDB) Try(ctx context.Context, fn func() error) error {
	if err := d.flush(ctx); err != nil {
		return err
	}
	if _, err := d.conn.Exec(ctx, "savepoint projection_try"); err != nil {
		d.late = err
		return err
	}
	err := fn()
	if err == nil {
		err = d.flush(ctx)
	}
	if err == nil {
		if _, err = d.conn.Exec(ctx, "release savepoint projection_try"); err != nil {
			d.late = err
		}
		return err
	}
	d.late, d.batch = nil, &pgx.Batch{}
	if _, rerr := d.conn.Exec(ctx, "rollback to savepoint projection_try"); rerr != nil {
		d.late = rerr
		return rerr
	}
	return err
}

// Exec queues a statement, or runs it when direct.
func (d *queueDB) Exec(ctx context.Context, sql string, args ...any) error {
	if d.late != nil {
		return d.late
	}
	if d.direct {
		_, err := d.conn.Exec(ctx, sql, pgArgs(args)...)
		return err
	}
	d.batch.Queue(sql, queuedArgs(args)...)
	if d.batch.Len() >= maxQueued {
		return d.flush(ctx)
	}
	return nil
}

// Query sends the queue, then runs the query.
func (d *queueDB) Query(ctx context.Context, sql string, args ...any) (projections.Rows, error) {
	if err := d.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := d.conn.Query(ctx, sql, pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// QueryRow sends the queue and the query in one round trip.
func (d *queueDB) QueryRow(ctx context.Context, sql string, args ...any) projections.Row {
	if d.late != nil {
		return rmRow{errRow{d.late}}
	}
	if d.batch.Len() == 0 {
		return rmRow{d.conn.QueryRow(ctx, sql, pgArgs(args)...)}
	}
	b := d.batch
	d.batch = &pgx.Batch{}
	n := b.Len()
	b.Queue(sql, pgArgs(args)...)
	results := d.conn.SendBatch(ctx, b)
	for range n {
		if _, err := results.Exec(); err != nil {
			_ = results.Close()
			d.late = err
			return rmRow{errRow{err}}
		}
	}
	return rmRow{batchRow{results}}
}

// flush sends the queued statements.
func (d *queueDB) flush(ctx context.Context) error {
	if d.late != nil || d.batch.Len() == 0 {
		return d.late
	}
	err := d.conn.SendBatch(ctx, d.batch).Close()
	d.batch = &pgx.Batch{}
	if err != nil {
		d.late = err
	}
	return err
}

// batchRow is the row of a query sent last in a batch.
type batchRow struct{ results pgx.BatchResults }

// Scan reads the row and closes the batch.
func (r batchRow) Scan(dest ...any) error {
	err := r.results.QueryRow().Scan(dest...)
	if cerr := r.results.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row that failed before its query was sent.
type errRow struct{ err error }

// Scan returns the error.
func (r errRow) Scan(...any) error { return r.err }

// queuedArgs copies the arguments of a queued statement, which a caller
// could change before the queue is sent: the argument list and the slices in
// it. It also turns uuid.UUIDs into pgUUIDs.
func queuedArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case []byte:
			a = bytes.Clone(v)
		case []string:
			a = slices.Clone(v)
		case []int32:
			a = slices.Clone(v)
		case []int64:
			a = slices.Clone(v)
		case []int:
			a = slices.Clone(v)
		default:
			a, _ = pgValue(a)
		}
		out[i] = a
	}
	return out
}

// pgArgs returns args with their uuid.UUIDs as pgUUIDs; args is the
// caller's and stays as it is.
func pgArgs(args []any) []any {
	var out []any
	for i, a := range args {
		v, changed := pgValue(a)
		if changed && out == nil {
			out = slices.Clone(args)
		}
		if out != nil {
			out[i] = v
		}
	}
	if out == nil {
		return args
	}
	return out
}

// pgValue returns a uuid.UUID, a non-nil *uuid.UUID or a []uuid.UUID as
// pgUUIDs, and whether it did; any other value as it is.
func pgValue(a any) (any, bool) {
	switch v := a.(type) {
	case uuid.UUID:
		return pgUUID(v), true
	case *uuid.UUID:
		if v != nil {
			return pgUUID(*v), true
		}
	case []uuid.UUID:
		if v != nil {
			out := make([]pgUUID, len(v))
			for i, u := range v {
				out[i] = pgUUID(u)
			}
			return out, true
		}
	}
	return a, false
}

// pgUUID is a uuid.UUID that pgx encodes as it is. A uuid.UUID goes through
// its driver.Valuer: to text, then a failed encoding whose error is built
// with fmt.Errorf, then a parse of the text: a quarter of the client CPU time
// of a rebuild. For parameters of other types than uuid, pgUUID gives what
// uuid.UUID gives.
type pgUUID uuid.UUID

// UUIDValue is the value of a uuid parameter.
func (u pgUUID) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: u, Valid: true}, nil }

// TextValue is the value of a text parameter, as for a uuid.UUID.
func (u pgUUID) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: uuid.UUID(u).String(), Valid: true}, nil
}

// Value is the value of any other parameter, as for a uuid.UUID.
func (u pgUUID) Value() (driver.Value, error) { return uuid.UUID(u).String(), nil }
