// Package pgtest gives each test its own migrated PostgreSQL schema.
//
// The server comes from TEST_DATABASE_URL, or the local PostgreSQL at
// 127.0.0.1:5432 (user postgres, trust auth). Tests share one database,
// ticketing_test, created on first use; each test gets a fresh schema that is
// dropped when it ends, so tests run in parallel.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/infra/postgres"
)

// DefaultURL is the local PostgreSQL of the development machines.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/ticketing_test?sslmode=disable"

var createOnce sync.Once

// BaseURL returns the test database URL, creating the database if needed.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = DefaultURL
	}
	var err error
	createOnce.Do(func() { err = createDatabase(u) })
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

func createDatabase(u string) error {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w (is PostgreSQL running?)", cfg.Host, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")) {
		return err
	}
	return nil
}

// SchemaURL returns a URL whose connections use a fresh, migrated schema.
// The schema is dropped when the test ends.
func SchemaURL(t testing.TB) string {
	t.Helper()
	u := EmptySchemaURL(t)
	if err := postgres.Migrate(context.Background(), Connect(t, u)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// EmptySchemaURL returns a URL whose connections use a fresh schema that
// nothing migrated. The schema is dropped when the test ends.
func EmptySchemaURL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := admin.Exec(ctx, "create schema "+schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "drop schema "+schema+" cascade")
	})
	pu, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// NewPool returns a pool on a fresh, migrated schema.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return Connect(t, SchemaURL(t))
}

// Connect opens a pool on u that is closed when the test ends.
func Connect(t testing.TB, u string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	postgres.GenericPlans(cfg) // as the engine's pools are
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
