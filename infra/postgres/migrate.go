// Package postgres holds the PostgreSQL adapters: the event store, the read
// model database, users, idempotency keys and the migrations that create them.
//
// Migrations are plain SQL files embedded in the binary and applied with
// pressly/goose: it keeps a version table, runs each file in a transaction and
// holds an advisory lock so that two engine processes starting at once do not
// migrate twice. Hand-rolled migration code would have to do all of that again.
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
