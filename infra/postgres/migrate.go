// Package postgres holds the PostgreSQL adapters: the event store, the read
// model database, users, idempotency keys and the migrations that create them.
//
// Migrations are plain SQL files embedded in the binary and applied with
// pressly/goose: it keeps a version table, runs each file in a transaction and
// holds an advisory lock so that two engine processes starting at once do not
// migrate twice. Hand-rolled migration code would have to do all of that again.
//
// The migrations are numbered without gaps. Those now numbered 00010 to 00015
// were once 00020 to 00025; Migrate renumbers the versions a database
// recorded under the old numbers before goose reads them.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ticketing/ticketing/projections"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies every pending migration to the schema the pool points at
// (its search_path).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	var schema string
	if err := pool.QueryRow(ctx, "select current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// One lock per schema, so that databases or schemas side by side do not
	// wait for each other.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(crc64.Checksum([]byte("ticketing:"+schema), crc64.MakeTable(crc64.ECMA))>>1)),
		lock.WithLockTimeout(1, 120),
	)
	if err != nil {
		return err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := renumber(ctx, pool); err != nil {
		return fmt.Errorf("migrate: renumber: %w", err)
	}
	all := sources{sub, projections.Schema()} // the read models' beside their SQL
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, all, goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// The migrations once numbered renumberedFirst to renumberedLast are now
// numbered renumberShift lower, right after 00009.
const (
	renumberedFirst = 20
	renumberedLast  = 25
	renumberShift   = 10
)

// renumber moves the versions that goose recorded in the schema's
// goose_db_version under the old numbers to the new ones, in one
// transaction. It does nothing to a schema goose never migrated, or one that
// records a new number already; two processes that renumber at once change
// the rows once, as the second finds them changed.
func renumber(ctx context.Context, pool *pgxpool.Pool) error {
	return withTx(ctx, pool, func(tx pgx.Tx) error {
		var migrated bool
		if err := tx.QueryRow(ctx, "select to_regclass('goose_db_version') is not null").Scan(&migrated); err != nil {
			return err
		}
		if !migrated {
			return nil
		}
		_, err := tx.Exec(ctx, `update goose_db_version set version_id = version_id - $3
			where version_id between $1 and $2
			and not exists (select 1 from goose_db_version where version_id between $1::bigint - $3 and $2::bigint - $3)`,
			renumberedFirst, renumberedLast, renumberShift)
		return err
	})
}

// sources is the migrations of several directories as one: a file is
// opened from the first that has it, and a directory lists them all
// (goose refuses a version found twice).
type sources []fs.FS

// Open opens name from the first of s that has it.
func (s sources) Open(name string) (fs.File, error) {
	for _, fsys := range s {
		f, err := fsys.Open(name)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadDir lists the directory name of each of s, sorted by file name.
func (s sources) ReadDir(name string) ([]fs.DirEntry, error) {
	var all []fs.DirEntry
	for _, fsys := range s {
		entries, err := fs.ReadDir(fsys, name)
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
	}
	slices.SortFunc(all, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return all, nil
}
