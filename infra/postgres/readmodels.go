package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

var (
	_ projections.Store = (*ReadModels)(nil)
	_ projections.DB    = rmDB{}
)

// ReadModels keeps the read models and the projection checkpoints (table
// projection_checkpoints, migration 00002) in PostgreSQL.
type ReadModels struct {
	pool *pgxpool.Pool
}

// NewReadModels returns the read models in the database of pool.
func NewReadModels(pool *pgxpool.Pool) *ReadModels {
	return &ReadModels{pool: pool}
}

// DB returns the read-model database for queries outside a transaction.
func (m *ReadModels) DB() projections.DB { return rmDB{m.pool} }

// Checkpoint returns the checkpoint of the projection name, or domain.Start.
func (m *ReadModels) Checkpoint(ctx context.Context, name string) (domain.Position, error) {
	var c, p int64
	err := m.pool.QueryRow(ctx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1`, name).Scan(&c, &p)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Start, nil
	}
	if err != nil {
		return domain.Position{}, fmt.Errorf("read checkpoint %s: %w", name, err)
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

// Apply runs fn and records to as the checkpoint of name in one
// transaction. The checkpoint row is locked first (select ... for update), so
// that the Applies of two processes running one projection take turns, and
// fn gets the checkpoint it must apply the events after. When the checkpoint
// already is at or past to, Apply returns nil without calling fn.
func (m *ReadModels) Apply(ctx context.Context, name string, to domain.Position, fn func(db projections.DB, after domain.Position) error) error {
	if to.Commit > math.MaxInt64 || to.Prepare > math.MaxInt64 {
		return fmt.Errorf("apply %s: position %s does not fit a bigint", name, to)
	}
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	var c, p int64
	if err := lockProgress(ctx, tx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1 for update`,
		`insert into projection_checkpoints (name, commit_pos, prepare_pos) values ($1, 0, 0) on conflict (name) do nothing`,
		[]any{name}, &c, &p); err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	after := rmPosition(c, p)
	if !after.Less(to) {
		return nil
	}
	if err := fn(rmDB{tx}, after); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `update projection_checkpoints set commit_pos = $2, prepare_pos = $3, updated_at = now() where name = $1`,
		name, int64(to.Commit), int64(to.Prepare)); err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	return tx.Commit(ctx)
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
	done := make([]int, len(deliveries))
	fail := func(err error) ([]int, error) {
		return make([]int, len(deliveries)), fmt.Errorf("apply delivered %s: %w", name, err)
	}
	var parts []int32
	var streams []string
	versions := map[string]int64{}
	for _, d := range deliveries {
		parts = append(parts, int32(d.Partition))
		for _, rec := range d.Events {
			if _, ok := versions[rec.StreamID]; !ok {
				versions[rec.StreamID] = 0
				streams = append(streams, rec.StreamID)
			}
		}
	}
	if len(streams) == 0 {
		return done, nil
	}
	// BEGIN, the locks and the reads go in one round trip, the writes and
	// COMMIT in another: this runs for every batch a consumer fetches.
	pc, err := m.pool.Acquire(ctx)
	if err != nil {
		return fail(err)
	}
	defer pc.Release()
	conn := pc.Conn()
	committed := false
	defer func() {
		if !committed && !conn.IsClosed() {
			if _, rerr := conn.Exec(context.WithoutCancel(ctx), "rollback"); rerr != nil {
				_ = conn.Close(ctx)
			}
		}
	}()
	last := map[int]domain.Position{}
	locked := 0
	b := &pgx.Batch{}
	b.Queue("begin")
	// Rows of partitions never seen before are created, then every row is
	// locked in partition order; "do nothing" neither locks nor waits for a
	// row that exists.
	b.Queue(`insert into projection_partitions (name, partition) select $1, unnest($2::int[]) on conflict do nothing`, name, parts)
	b.Queue(`select partition, commit_pos, prepare_pos from projection_partitions
		where name = $1 and partition = any($2) order by partition for update`, name, parts).Query(func(rows pgx.Rows) error {
		var part int
		var c, p int64
		_, err := pgx.ForEachRow(rows, []any{&part, &c, &p}, func() error { last[part] = rmPosition(c, p); locked++; return nil })
		return err
	})
	b.Queue(`select stream_id, version from projection_streams where name = $1 and stream_id = any($2)`, name, streams).Query(func(rows pgx.Rows) error {
		var stream string
		var version int64
		_, err := pgx.ForEachRow(rows, []any{&stream, &version}, func() error { versions[stream] = version; return nil })
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	if locked != len(parts) {
		return fail(fmt.Errorf("locked %d of %d partitions", locked, len(parts)))
	}
	tx := pipelinedTx{conn}
	changed := map[string]bool{}
	var gap error
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
				if err := fn(rmDB{tx}, rec); err != nil {
					return make([]int, len(deliveries)), err
				}
				versions[rec.StreamID] = rec.Version
				changed[rec.StreamID] = true
			}
			if last[d.Partition].Less(rec.Position) {
				last[d.Partition] = rec.Position
			}
			done[i]++
		}
	}
	ids, vs := make([]string, 0, len(changed)), make([]int64, 0, len(changed))
	for s := range changed {
		ids, vs = append(ids, s), append(vs, versions[s])
	}
	pnum, pcs, pps := make([]int32, 0, len(last)), make([]int64, 0, len(last)), make([]int64, 0, len(last))
	for part, pos := range last {
		pnum, pcs, pps = append(pnum, int32(part)), append(pcs, int64(pos.Commit)), append(pps, int64(pos.Prepare))
	}
	b = &pgx.Batch{}
	b.Queue(`insert into projection_streams (name, stream_id, version)
		select $1, s, v from unnest($2::text[], $3::bigint[]) as u(s, v)
		on conflict (name, stream_id) do update set version = excluded.version`, name, ids, vs)
	b.Queue(`update projection_partitions p set commit_pos = u.c, prepare_pos = u.pp, updated_at = now()
		from unnest($2::int[], $3::bigint[], $4::bigint[]) as u(part, c, pp)
		where p.name = $1 and p.partition = u.part`, name, pnum, pcs, pps)
	b.Queue("commit")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	committed = true
	return done, gap
}

// pipelinedTx runs statements on a connection inside a transaction that was
// begun by a pipelined BEGIN.
type pipelinedTx struct{ conn *pgx.Conn }

func (t pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.conn.Exec(ctx, sql, args...)
}

func (t pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.conn.Query(ctx, sql, args...)
}

func (t pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.conn.QueryRow(ctx, sql, args...)
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

// lockProgress locks a progress row and reads its position, creating the row
// the first time: one round trip once it exists.
func lockProgress(ctx context.Context, tx pgx.Tx, lock, create string, args []any, c, p *int64) error {
	err := tx.QueryRow(ctx, lock, args...).Scan(c, p)
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if _, err := tx.Exec(ctx, create, args...); err != nil {
		return err
	}
	return tx.QueryRow(ctx, lock, args...).Scan(c, p)
}
