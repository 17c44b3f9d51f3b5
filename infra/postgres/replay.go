package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
)

// Shadow is the rebuild of one projection into tables of a schema of its own
// (replay_<projection>), beside the live tables, which keep serving reads and
// applying new events meanwhile. Swap replaces the live tables with the
// shadow ones in one transaction. A rebuild that is killed leaves the live
// tables as they were; NewShadow starts over.
type Shadow struct {
	live       *pgxpool.Pool
	pool       *pgxpool.Pool // search_path: the shadow schema, then the live one
	liveSchema string
	schema     string
	projection string
	tables     []string
	deferred   []string // live names of the indexes the shadow builds last
}

// NewShadow creates the shadow schema of a projection, with empty tables like
// the live ones (columns, defaults, indexes; foreign keys are restored by
// Swap) and a checkpoint table of its own, dropping what a killed rebuild
// left.
func NewShadow(ctx context.Context, live *pgxpool.Pool, projection string, tables []string) (*Shadow, error) {
	var liveSchema string
	if err := live.QueryRow(ctx, "select current_schema()").Scan(&liveSchema); err != nil {
		return nil, fmt.Errorf("shadow %s: %w", projection, err)
	}
	s := &Shadow{live: live, liveSchema: liveSchema, projection: projection, tables: tables,
		schema: shadowSchema(liveSchema, projection)}
	ddl := []string{
		"drop schema if exists " + s.ident() + " cascade",
		"create schema " + s.ident(),
		fmt.Sprintf("create table %s.projection_checkpoints (like %s.projection_checkpoints including all)", s.ident(), s.liveIdent()),
	}
	// The rebuild parks the streams it cannot apply in tables of its own.
	for _, t := range parkTables {
		ddl = append(ddl, fmt.Sprintf("create table %s.%s (like %s.%s including all)", s.ident(), t, s.liveIdent(), t))
	}
	// The shadow's tables are unlogged while it is built: a killed rebuild
	// starts over (above), so their rows need no WAL until Swap makes them
	// logged, in one pass, before they go live.
	for _, t := range tables {
		ddl = append(ddl, fmt.Sprintf("create unlogged table %s.%s (like %s.%s including all)", s.ident(), ident(t), s.liveIdent(), ident(t)))
		if ff, ok := shadowFillfactor[t]; ok {
			ddl = append(ddl, fmt.Sprintf("alter table %s.%s set (fillfactor = %d)", s.ident(), ident(t), ff))
		}
	}
	for _, q := range ddl {
		if _, err := live.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("shadow %s: %w", projection, err)
		}
	}
	cfg := live.Config().Copy()
	cfg.ConnConfig.RuntimeParams["search_path"] = s.schema + "," + liveSchema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("shadow %s: %w", projection, err)
	}
	s.pool = pool
	if err := s.dropDeferred(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("shadow %s: %w", projection, err)
	}
	return s, nil
}

// deferredIndexes are the live indexes that no projector's apply reads by:
// only the read API's queries do. A shadow is built without them, and
// Swap builds them once the rows are in (a sort each, rather than an index
// insertion per row written). An index not named here is kept throughout:
// a projector that reads by it must find it (projections run with
// enable_seqscan off).
var deferredIndexes = map[string]bool{
	"rm_shows_public": true, "rm_shows_organizer": true,
	"rm_orders_buyer": true, "rm_orders_show": true,
	"rm_tickets_buyer": true, "rm_tickets_holder": true, "rm_tickets_former": true, "rm_tickets_show": true,
	"hold_deadlines_due": true,
	// The seat map's and the analytics' pages; both are unique or not
	// as live: rm_seats_order cannot fail where the primary key held
	// (distinct row labels get distinct row numbers).
	"rm_seats_order": true, "rm_analytics_orders_show": true,
}

// shadowFillfactor leaves room in the pages of the shadow tables whose rows
// a rebuild updates after inserting them (seats held and sold, orders and
// their outcomes in a later batch): the new version of a row then goes in
// the same page, a HOT update that inserts into none of the indexes, as
// no update of these changes an indexed column of the shadow (the
// deferred indexes are not there yet). Swap resets it before the rewrite
// that makes the table logged, so that the live table is packed as usual.
var shadowFillfactor = map[string]int{
	"rm_seats": 50, "rm_sections": 50, "rm_sales": 50,
	"rm_orders": 80, "rm_sales_orders": 80, "rm_analytics_orders": 80,
}

// dropDeferred drops the shadow's copies of the deferred indexes and
// remembers their live names.
func (s *Shadow) dropDeferred(ctx context.Context) error {
	return withTx(ctx, s.live, func(tx pgx.Tx) error {
		names, err := s.indexNames(ctx, tx)
		if err != nil {
			return err
		}
		for shadowName, liveName := range names {
			if !deferredIndexes[liveName] {
				continue
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf("drop index %s.%s", s.ident(), ident(shadowName))); err != nil {
				return err
			}
			s.deferred = append(s.deferred, liveName)
		}
		return nil
	})
}

// buildDeferred builds the deferred indexes on the shadow's tables, under
// their live names, as the live ones are defined.
func (s *Shadow) buildDeferred(ctx context.Context) error {
	err := each(s.deferred, func(name string) error {
		var table, def string
		if err := s.live.QueryRow(ctx, `select tablename, indexdef from pg_indexes where schemaname = $1 and indexname = $2`,
			s.liveSchema, name).Scan(&table, &def); err != nil {
			return fmt.Errorf("index %s: %w", name, err)
		}
		m := indexDef.FindStringSubmatch(def)
		if m == nil {
			return fmt.Errorf("index %s: unexpected definition %q", name, def)
		}
		if _, err := s.live.Exec(ctx, fmt.Sprintf("create %sindex %s on %s.%s %s", m[1], ident(name), s.ident(), ident(table), m[2])); err != nil {
			return fmt.Errorf("index %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.deferred = nil
	return nil
}

// each runs fn for every item at once, each on a connection of its own: a
// table's rewrite or an index's build is the work of one backend, and one
// projection's swap may be all the machine has left to do.
func each[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = fn(it) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// shadowSchema names the shadow schema of a projection; it lives beside the
// live schema, so schemas of tests in parallel do not meet.
func shadowSchema(live, projection string) string {
	name := "replay_" + projection
	if live != "public" {
		name = live + "_" + name
	}
	return name
}

func ident(s string) string         { return pgx.Identifier{s}.Sanitize() }
func (s *Shadow) ident() string     { return ident(s.schema) }
func (s *Shadow) liveIdent() string { return ident(s.liveSchema) }

// Store returns the read-model store of the shadow tables: projectors applied
// through it write the shadow, and its checkpoints are the shadow's.
func (s *Shadow) Store() *ReadModels { return NewReadModels(s.pool).ForRebuild() }

// Close drops the shadow schema and closes its pool.
func (s *Shadow) Close(ctx context.Context) error {
	s.pool.Close()
	_, err := s.live.Exec(ctx, "drop schema if exists "+s.ident()+" cascade")
	return err
}

// TableDiff compares one table of the shadow with the live one.
type TableDiff struct {
	Table                string
	LiveRows, ShadowRows int64
	LiveSum, ShadowSum   string // a checksum of the multiset of rows, when both have as many (see compare)
	SamePosition         bool   // both were at the same position of the log
	LivePos, ShadowPos   domain.Position
	OnlyLive, OnlyShadow int64 // rows found on one side only
}

// Same reports whether the tables hold the same rows.
func (d TableDiff) Same() bool { return d.LiveRows == d.ShadowRows && d.LiveSum == d.ShadowSum }

// SwapOptions says how to finish a rebuild.
type SwapOptions struct {
	// CatchUp applies the log to the shadow up to until (to the end of the
	// log when until is zero) and returns the shadow's position. It is
	// called while the live projection is locked.
	CatchUp func(ctx context.Context, until domain.Position) (domain.Position, error)
	// DryRun compares and reports, and leaves the live tables as they are.
	DryRun bool
	// ExpectIdentical refuses the swap, with ErrRebuildDiffers, when a
	// table differs.
	ExpectIdentical bool
}

// ErrRebuildDiffers says that a rebuild differs from the live tables.
var ErrRebuildDiffers = errors.New("the rebuild differs from the live tables")

// SwapResult tells what Swap found and did.
type SwapResult struct {
	Diffs    []TableDiff
	Swapped  bool
	Position domain.Position // where the live projection continues from
}

// Swap finishes a rebuild. In one transaction it locks the live
// projection's progress, so that live processing of the projection waits;
// has the shadow caught up to the live position and compares the tables
// (row counts and checksums) at that same position; then, unless DryRun,
// catches the shadow up to the end of the log, replaces the live tables by
// the shadow ones and sets the live progress to the shadow's, so that live
// processing continues from exactly there: nothing applied twice, nothing
// missed.
func (s *Shadow) Swap(ctx context.Context, opt SwapOptions) (SwapResult, error) {
	var res SwapResult
	var pos domain.Position
	if !opt.DryRun {
		// Before the live projection is locked: writing the tables to the
		// WAL takes time, and the live projection goes on meanwhile.
		err := each(s.tables, func(t string) error {
			q := fmt.Sprintf("alter table %s.%s set logged", s.ident(), ident(t))
			if _, ok := shadowFillfactor[t]; ok {
				q = fmt.Sprintf("alter table %s.%s reset (fillfactor), set logged", s.ident(), ident(t))
			}
			_, err := s.live.Exec(ctx, q)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("swap %s: %w", s.projection, err)
		}
	}
	// The deferred indexes too, the same way: the live ones need them.
	if err := s.buildDeferred(ctx); err != nil {
		return res, fmt.Errorf("swap %s: %w", s.projection, err)
	}
	err := s.withLiveLocked(ctx, func(tx pgx.Tx, livePos domain.Position, kafka bool) error {
		var err error
		pos, err = s.swap(ctx, tx, opt, livePos, kafka, &res)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("swap %s: %w", s.projection, err)
	}
	if !opt.DryRun {
		res.Swapped, res.Position = true, pos
	}
	return res, nil
}

// swap is Swap in the transaction tx, which locked the live projection at
// livePos. It puts the diffs in res and returns where the live projection
// continues from; a dry run returns errRollback.
func (s *Shadow) swap(ctx context.Context, tx pgx.Tx, opt SwapOptions, livePos domain.Position, kafka bool, res *SwapResult) (domain.Position, error) {
	shadowPos, err := opt.CatchUp(ctx, livePos)
	if err != nil {
		return shadowPos, fmt.Errorf("catch up to %s: %w", livePos, err)
	}
	if res.Diffs, err = s.compare(ctx, tx); err != nil {
		return shadowPos, fmt.Errorf("compare: %w", err)
	}
	for i := range res.Diffs {
		res.Diffs[i].LivePos, res.Diffs[i].ShadowPos = livePos, shadowPos
		res.Diffs[i].SamePosition = livePos == shadowPos && !kafka
	}
	if opt.DryRun {
		return shadowPos, errRollback
	}
	if opt.ExpectIdentical {
		for _, d := range res.Diffs {
			if !d.Same() {
				return shadowPos, fmt.Errorf("table %s: %w", d.Table, ErrRebuildDiffers)
			}
		}
	}
	if shadowPos, err = opt.CatchUp(ctx, domain.Position{}); err != nil {
		return shadowPos, fmt.Errorf("catch up: %w", err)
	}
	if err := s.replace(ctx, tx); err != nil {
		return shadowPos, err
	}
	if err := s.setProgress(ctx, tx, shadowPos, kafka); err != nil {
		return shadowPos, err
	}
	return shadowPos, nil
}

// liveWait bounds how long Swap waits for the live projection to reach the
// shadow's position, so that both can be compared at the same position.
const liveWait = 5 * time.Second

// errLiveBehind says that the live projection has not reached the shadow's
// position yet.
var errLiveBehind = errors.New("the live projection is behind the shadow")

// withLiveLocked runs fn in a transaction that locked the live projection
// once it is at or past the shadow's position, and commits it as withTx
// does: the shadow, built to the end of the log, may be ahead of a live
// projection that was still applying, and the two compare only at one
// position. A live projection that does not get there in time (stalled, or
// not running) is locked where it is.
func (s *Shadow) withLiveLocked(ctx context.Context, fn func(tx pgx.Tx, livePos domain.Position, kafka bool) error) error {
	deadline := time.Now().Add(liveWait)
	for {
		shadowPos, err := s.Store().Checkpoint(ctx, s.projection)
		if err != nil {
			return fmt.Errorf("lock the live projection: %w", err)
		}
		err = withTx(ctx, s.live, func(tx pgx.Tx) error {
			livePos, kafka, err := s.lockLive(ctx, tx)
			if err != nil {
				return fmt.Errorf("lock the live projection: %w", err)
			}
			if livePos.Less(shadowPos) && !time.Now().After(deadline) {
				return errLiveBehind
			}
			return fn(tx, livePos, kafka)
		})
		if !errors.Is(err, errLiveBehind) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock the live projection: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockLive locks the live progress rows of the projection (its checkpoint,
// created if missing, and its Kafka partitions) and returns the furthest
// position the live projection applied, and whether Kafka feeds it.
func (s *Shadow) lockLive(ctx context.Context, tx pgx.Tx) (domain.Position, bool, error) {
	if _, err := tx.Exec(ctx, `insert into projection_checkpoints (name, commit_pos, prepare_pos) values ($1, 0, 0)
		on conflict (name) do nothing`, s.projection); err != nil {
		return domain.Position{}, false, err
	}
	var c, p int64
	if err := tx.QueryRow(ctx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1 for update`, s.projection).Scan(&c, &p); err != nil {
		return domain.Position{}, false, err
	}
	pos := rmPosition(c, p)
	rows, err := tx.Query(ctx, `select commit_pos, prepare_pos from projection_partitions where name = $1 order by partition for update`, s.projection)
	if err != nil {
		return pos, false, err
	}
	kafka := false
	_, err = pgx.ForEachRow(rows, []any{&c, &p}, func() error {
		kafka = true
		if q := rmPosition(c, p); pos.Less(q) {
			pos = q
		}
		return nil
	})
	return pos, kafka, err
}

// compareWorkMem is the work_mem of the transaction that compares: each
// side's rows are sorted as text, in memory rather than in files on disk,
// while the live projection waits.
const compareWorkMem = "128MB"

// compare counts and checksums every table on both sides. The checksum is
// of the multiset of rows, as text: two sums of a 64-bit hash of each row,
// with two seeds, so that no row order is needed. It was the md5 of the rows
// sorted as text, and the sort was most of a swap's time (a 100,000-row
// table: 345 ms sorted, 95 ms summed), while the live projection waited.
// Rows that differ change the sums but by a collision of both hashes; the
// sums of equal tables are equal. The rows are counted first, and summed
// only when both sides have as many: tables whose counts differ differ, and
// hashing the rows of a first rebuild against empty live tables would only
// keep the live projection waiting (0.5-1 s for rm_orders of 200,000
// events).
func (s *Shadow) compare(ctx context.Context, tx pgx.Tx) ([]TableDiff, error) {
	if _, err := tx.Exec(ctx, "set local work_mem = '"+compareWorkMem+"'"); err != nil {
		return nil, err
	}
	var out []TableDiff
	for _, t := range s.tables {
		d := TableDiff{Table: t}
		if err := tx.QueryRow(ctx, fmt.Sprintf(`select (select count(*) from %[1]s.%[3]s), (select count(*) from %[2]s.%[3]s)`,
			ident(s.liveSchema), ident(s.schema), ident(t))).Scan(&d.LiveRows, &d.ShadowRows); err != nil {
			return nil, err
		}
		if d.LiveRows == d.ShadowRows && d.LiveRows > 0 {
			for _, side := range []struct {
				schema string
				sum    *string
			}{{s.liveSchema, &d.LiveSum}, {s.schema, &d.ShadowSum}} {
				q := fmt.Sprintf(`select sum(hashtextextended(r, 0)) || '/' || sum(hashtextextended(r, 1))
					from (select r::text as r from %s.%s r) r`, ident(side.schema), ident(t))
				if err := tx.QueryRow(ctx, q).Scan(side.sum); err != nil {
					return nil, err
				}
			}
		}
		switch {
		case d.Same():
		case d.LiveRows == 0 || d.ShadowRows == 0:
			// Every row of the side that has rows is its own (a first
			// rebuild): no need to read them again to know it.
			d.OnlyLive, d.OnlyShadow = d.LiveRows, d.ShadowRows
		default:
			q := fmt.Sprintf(`select
				(select count(*) from (select r::text from %[1]s.%[3]s r except all select r::text from %[2]s.%[3]s r) a),
				(select count(*) from (select r::text from %[2]s.%[3]s r except all select r::text from %[1]s.%[3]s r) b)`,
				ident(s.liveSchema), ident(s.schema), ident(t))
			if err := tx.QueryRow(ctx, q).Scan(&d.OnlyLive, &d.OnlyShadow); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}

var indexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX \S+ ON \S+ (USING .*)$`)

// replace drops the live tables and moves the shadow ones in, with the live
// index names and foreign keys.
func (s *Shadow) replace(ctx context.Context, tx pgx.Tx) error {
	type fk struct{ table, name, def string }
	var fks []fk
	rows, err := tx.Query(ctx, `select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
		from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
		where c.contype = 'f' and n.nspname = $1 and t.relname = any($2)`, s.liveSchema, s.tables)
	if err != nil {
		return err
	}
	var f fk
	if _, err := pgx.ForEachRow(rows, []any{&f.table, &f.name, &f.def}, func() error { fks = append(fks, f); return nil }); err != nil {
		return err
	}
	names, err := s.indexNames(ctx, tx)
	if err != nil {
		return err
	}
	for _, t := range s.tables {
		if _, err := tx.Exec(ctx, fmt.Sprintf("drop table %s.%s cascade", s.liveIdent(), ident(t))); err != nil {
			return err
		}
	}
	for shadowName, liveName := range names {
		if shadowName != liveName {
			if _, err := tx.Exec(ctx, fmt.Sprintf("alter index %s.%s rename to %s", s.ident(), ident(shadowName), ident(liveName))); err != nil {
				return err
			}
		}
	}
	for _, t := range s.tables {
		if _, err := tx.Exec(ctx, fmt.Sprintf("alter table %s.%s set schema %s", s.ident(), ident(t), s.liveIdent())); err != nil {
			return err
		}
	}
	for _, f := range fks {
		table := f.table
		if !strings.Contains(table, ".") {
			table = s.liveIdent() + "." + table
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("alter table %s add constraint %s %s", table, ident(f.name), f.def)); err != nil {
			return err
		}
	}
	return nil
}

// indexNames maps each shadow index to the name of the live index with the
// same definition.
func (s *Shadow) indexNames(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	defs := func(schema string) (map[string]string, error) {
		rows, err := tx.Query(ctx, `select tablename, indexname, indexdef from pg_indexes where schemaname = $1 and tablename = any($2)`, schema, s.tables)
		if err != nil {
			return nil, err
		}
		out := map[string]string{} // table + definition without names → index name
		var table, name, def string
		_, err = pgx.ForEachRow(rows, []any{&table, &name, &def}, func() error {
			if m := indexDef.FindStringSubmatch(def); m != nil {
				out[table+"|"+m[1]+m[2]] = name
			}
			return nil
		})
		return out, err
	}
	live, err := defs(s.liveSchema)
	if err != nil {
		return nil, err
	}
	shadow, err := defs(s.schema)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for key, shadowName := range shadow {
		if liveName, ok := live[key]; ok {
			names[shadowName] = liveName
		}
	}
	return names, nil
}

// setProgress makes the live progress of the projection the shadow's: its
// checkpoint and, when Kafka feeds it, the version of each stream it applied.
func (s *Shadow) setProgress(ctx context.Context, tx pgx.Tx, pos domain.Position, kafka bool) error {
	if _, err := tx.Exec(ctx, `update projection_checkpoints set commit_pos = $2, prepare_pos = $3, updated_at = now() where name = $1`,
		s.projection, int64(pos.Commit), int64(pos.Prepare)); err != nil {
		return err
	}
	// The streams the rebuild parked replace those the live projection
	// parked: their events after pos are queued behind them as they come.
	for _, t := range parkTables {
		if _, err := tx.Exec(ctx, fmt.Sprintf("delete from %s.%s where name = $1", s.liveIdent(), t), s.projection); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("insert into %s.%s select * from %s.%s where name = $1", s.liveIdent(), t, s.ident(), t), s.projection); err != nil {
			return err
		}
	}
	if !kafka {
		return nil
	}
	// The shadow applied every event up to pos: the Kafka consumers skip
	// those as redelivered and apply the rest.
	if err := forgetStreamVersions(ctx, tx, s.projection); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `insert into projection_stream_versions as p (stream_id, versions)
		select stream_id, jsonb_build_object($1::text, max(version)) from events where position <= $2
		group by stream_id order by stream_id
		on conflict (stream_id) do update set versions = p.versions || excluded.versions`, s.projection, int64(pos.Commit))
	return err
}

// parkTables hold the streams a projection parked (migration 00013).
var parkTables = []string{"projection_parked_streams", "projection_parked_events"}

// ResetLive empties a projection's live tables and progress in one
// transaction, for a rebuild in place.
func ResetLive(ctx context.Context, pool *pgxpool.Pool, projection string, tables []string) error {
	return withTx(ctx, pool, func(tx pgx.Tx) error { return resetLive(ctx, tx, projection, tables) })
}

// resetLive is ResetLive in the transaction tx.
func resetLive(ctx context.Context, tx pgx.Tx, projection string, tables []string) error {
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = ident(t)
	}
	for _, q := range []string{
		"truncate " + strings.Join(quoted, ", ") + " cascade",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("reset %s: %w", projection, err)
		}
	}
	if err := forgetStreamVersions(ctx, tx, projection); err != nil {
		return fmt.Errorf("reset %s: %w", projection, err)
	}
	for _, q := range []string{
		`delete from projection_checkpoints where name = $1`,
		`delete from projection_parked_streams where name = $1`,
		`delete from projection_parked_events where name = $1`,
	} {
		if _, err := tx.Exec(ctx, q, projection); err != nil {
			return fmt.Errorf("reset %s: %w", projection, err)
		}
	}
	return nil
}

// Rebuilds records rebuilds in progress (table projection_rebuilds), for
// `projections status`.
type Rebuilds struct{ pool *pgxpool.Pool }

// NewRebuilds returns the rebuild records of pool's database.
func NewRebuilds(pool *pgxpool.Pool) *Rebuilds { return &Rebuilds{pool: pool} }

// Progress records how far the rebuild of a projection got.
func (r *Rebuilds) Progress(ctx context.Context, projection, mode string, at, target domain.Position) error {
	_, err := r.pool.Exec(ctx, `insert into projection_rebuilds (name, mode, position, target, started_at, updated_at)
		values ($1, $2, $3, $4, now(), now())
		on conflict (name) do update set mode = excluded.mode, position = excluded.position, target = excluded.target, updated_at = now()`,
		projection, mode, int64(at.Commit), int64(target.Commit))
	return err
}

// Done removes the record of a finished rebuild.
func (r *Rebuilds) Done(ctx context.Context, projection string) error {
	_, err := r.pool.Exec(ctx, `delete from projection_rebuilds where name = $1`, projection)
	return err
}
