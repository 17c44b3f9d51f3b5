package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// oldMigrations returns the migrations as they were numbered before the gap
// after 00009 was closed: 00010 to 00015 were 00020 to 00025.
func oldMigrations(t *testing.T) fs.FS {
	t.Helper()
	// The read models' migrations sit beside their projectors.
	var files []string
	for _, dir := range []string{"migrations", "../../projections/schema"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sql") {
				files = append(files, dir+"/"+e.Name())
			}
		}
	}
	old := fstest.MapFS{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := path.Base(f)
		num, rest, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		if v >= 10 {
			v += 10
		}
		old[fmt.Sprintf("%05d_%s", v, rest)] = &fstest.MapFile{Data: data}
	}
	return old
}

// migrateOld migrates pool's schema with the old numbers, up to version to.
func migrateOld(t *testing.T, pool *pgxpool.Pool, to int64) {
	t.Helper()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, oldMigrations(t), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), to); err != nil {
		t.Fatal(err)
	}
}

// versions returns the versions goose recorded in pool's schema.
func versions(t *testing.T, pool *pgxpool.Pool) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), "select version_id from goose_db_version where version_id > 0 order by version_id")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// columns describes the tables of pool's schema but goose's.
func columns(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `select table_name || '.' || column_name || ' ' || data_type
		from information_schema.columns where table_schema = current_schema() and table_name <> 'goose_db_version'
		order by table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func TestMigrate_OldNumbers(t *testing.T) {
	t.Parallel()
	fresh := pgtest.NewPool(t)
	want := columns(t, fresh)
	wantVersions := versions(t, fresh)
	if len(wantVersions) == 0 || wantVersions[len(wantVersions)-1] != int64(len(wantVersions)) {
		t.Fatalf("got versions %v, want 1 to n without a gap", wantVersions)
	}
	for _, to := range []int64{9, 20, 23, 25} {
		t.Run(fmt.Sprintf("migrated to old %05d", to), func(t *testing.T) {
			t.Parallel()
			pool := pgtest.Connect(t, pgtest.EmptySchemaURL(t))
			migrateOld(t, pool, to)
			for range 2 { // and again: nothing left to do
				if err := postgres.Migrate(context.Background(), pool); err != nil {
					t.Fatal(err)
				}
				if got := versions(t, pool); !slices.Equal(got, wantVersions) {
					t.Fatalf("got versions %v, want %v", got, wantVersions)
				}
			}
			if got := columns(t, pool); !slices.Equal(got, want) {
				t.Errorf("got columns\n%v\nwant those of a fresh schema\n%v", got, want)
			}
		})
	}
	t.Run("two processes at once", func(t *testing.T) {
		t.Parallel()
		u := pgtest.EmptySchemaURL(t)
		a, b := pgtest.Connect(t, u), pgtest.Connect(t, u)
		migrateOld(t, a, 22)
		errs := make(chan error, 2)
		for _, pool := range []*pgxpool.Pool{a, b} {
			go func() { errs <- postgres.Migrate(context.Background(), pool) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := versions(t, a); !slices.Equal(got, wantVersions) {
			t.Fatalf("got versions %v, want %v", got, wantVersions)
		}
	})
}
