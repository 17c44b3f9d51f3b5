package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
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
	return migrationFiles(t, func(v int) int {
		if v >= 10 {
			v += 10
		}
		return v
	})
}

// migrationFiles returns every migration, the engine's and the read
// models', each numbered number(its number).
func migrationFiles(t *testing.T, number func(int) int) fs.FS {
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
		old[fmt.Sprintf("%05d_%s", number(v), rest)] = &fstest.MapFile{Data: data}
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

// Migration 00027 carries every projection's version of every stream from
// projection_streams (a row per projection and stream) into
// projection_stream_versions (a row per stream), and back down.
func TestMigrate_StreamVersionsCarried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Connect(t, pgtest.EmptySchemaURL(t))
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrationFiles(t, func(v int) int { return v }), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 26); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into projection_streams (name, stream_id, version)
		values ('shows', 'show-a', 3), ('sales', 'show-a', 2), ('orders', 'order-b', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	read := func(q string) map[string]string {
		t.Helper()
		got := map[string]string{}
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var k, v string
		if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { got[k] = v; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := map[string]string{"show-a": `{"sales": 2, "shows": 3}`, "order-b": `{"orders": 1}`}
	if got := read(`select stream_id, versions::text from projection_stream_versions`); !maps.Equal(got, want) {
		t.Fatalf("up: %v, want %v", got, want)
	}
	if _, err := p.DownTo(ctx, 26); err != nil {
		t.Fatal(err)
	}
	wantDown := map[string]string{"shows/show-a": "3", "sales/show-a": "2", "orders/order-b": "1"}
	if got := read(`select name || '/' || stream_id, version::text from projection_streams`); !maps.Equal(got, wantDown) {
		t.Fatalf("down: %v, want %v", got, wantDown)
	}
}
