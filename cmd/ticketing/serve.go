package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/simpay"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/writeapi"
)

// listenFlags attaches the flags of a process that serves: --addr and
// --ops-addr.
func (c *Config) listenFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (env TICKETING_ADDR)")
	fs.StringVar(&c.OpsAddr, "ops-addr", c.OpsAddr, "listen address of /metrics, /livez and /readyz (env TICKETING_OPS_ADDR)")
}

// databaseFlags attaches --database-url.
func (c *Config) databaseFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL (env DATABASE_URL)")
}

// connect opens a pool, creating the database first when it does not exist,
// and applies the migrations.
func connect(ctx context.Context, url string, log *slog.Logger) (*pgxpool.Pool, error) {
	if err := ensureDatabase(ctx, url, log); err != nil {
		return nil, err
	}
	pool, err := newPool(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// newPool opens a pool big enough for the HTTP handlers; the followers of
// the log take connections of their own.
func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.MaxConns < 20 {
		cfg.MaxConns = 20
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

func ensureDatabase(ctx context.Context, url string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	log.Info("created database", "name", name)
	return nil
}

// engine is the wired application.
type engine struct {
	handler  http.Handler // the APIs, /livez and /readyz
	ops      http.Handler // /metrics, /livez and /readyz
	runner   *projections.Runner
	expirer  *commands.Expirer
	commands *commands.Handler
	pool     *pgxpool.Pool
	store    eventStore
	queries  *projections.Queries
	registry *domain.Registry
	log      *slog.Logger
	kafka    *kafka.Config // nil: projectors follow the store in-process
	relay    *kafka.Relay
	idem     *postgres.Idempotency
}

func newEngine(ctx context.Context, c Config, pool *pgxpool.Pool, r roles, log *slog.Logger) (*engine, error) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	store, err := openStore(ctx, pool, c.Store, log)
	if err != nil {
		return nil, err
	}
	models := postgres.NewReadModels(pool)
	queries := projections.NewQueries(models.DB())
	tokens, err := auth.NewTokens(c.JWTSecret, c.TokenTTL, time.Now)
	if err != nil {
		return nil, fmt.Errorf("JWT_SECRET: %w", err)
	}
	// Organizer and admin tokens get their account's current role.
	authn := auth.NewCurrentRoles(tokens, postgres.NewUsers(pool))
	passwords, err := c.Limits.passwordHasher()
	if err != nil {
		return nil, err
	}
	writeLimits, err := c.Limits.writeLimits()
	if err != nil {
		return nil, err
	}
	idem := postgres.NewIdempotency(pool, c.Limits.IdempotencyTTL)
	h := commands.NewHandler(&commands.Handler{
		Store:     store,
		Registry:  registry,
		Payments:  simpay.New(),
		Users:     postgres.NewUsers(pool),
		Passwords: passwords,
		Tickets:   ticketLocator{queries},
		Shows:     queries,
		Snapshots: postgres.NewSnapshots(pool),
		Log:       log,
		HoldTTL:   c.HoldTTL,
	})
	livez := func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	readyz := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	router := mux.NewRouter()
	routingErrors(router, log)
	router.HandleFunc("/livez", livez)
	router.HandleFunc("/readyz", readyz)
	if c.projectors == nil {
		c.projectors = projections.All()
	}
	m := newMetrics(store, queries, log)
	ops := mux.NewRouter()
	routingErrors(ops, log)
	ops.HandleFunc("/livez", livez)
	ops.HandleFunc("/readyz", readyz)
	ops.Handle("/metrics", m.handler())
	router.Use(m.instrument)
	if r.Write {
		writeapi.New(h, tokens, authn, idem, log).WithLimits(writeLimits).Register(router)
	}
	if r.Read {
		read := readapi.New(queries, authn, log).WithLogHead(store)
		read.Register(router)
		read.RegisterAdmin(router, exporterOf(store), registry)
	}
	var relay *kafka.Relay
	if kc := c.Kafka; kc != nil {
		relay = &kafka.Relay{Feed: store, Checkpoints: postgres.NewRelayCheckpoints(pool), Writer: kafka.NewWriter(*kc),
			Topic: kc.Topic, Partitions: kc.Partitions, Log: log}
	}
	// The projections of this process take the holds and orders its
	// writers appended as they were, instead of decoding them again.
	written := &projections.Written{}
	if r.Write && r.Projectors {
		h.Appended = written.Add
	}
	return &engine{
		kafka:   c.Kafka,
		relay:   relay,
		handler: logRequests(log, web.RequestID(refuseTransferEncoding(log, router))),
		ops:     logRequests(log, web.RequestID(refuseTransferEncoding(log, ops))),
		runner: &projections.Runner{Feed: store, Store: models, Registry: registry, Projectors: c.projectors,
			Reporter: models, Log: log, Written: written},
		expirer:  &commands.Expirer{Handler: h, Holds: holdIndex{queries}, Interval: c.ExpiryInterval, Log: log},
		commands: h,
		pool:     pool,
		store:    store,
		queries:  queries,
		registry: registry,
		log:      log,
		idem:     idem,
	}, nil
}

// roles are the parts of the engine a process runs.
type roles struct {
	Write      bool // the write API
	Read       bool // the read API
	Expirer    bool // settles holds that ran out
	Relay      bool // store → Kafka (with Kafka only)
	Projectors bool // read models, in-process or from Kafka
}

var allRoles = roles{Write: true, Read: true, Expirer: true, Relay: true, Projectors: true}

// parseRoles reads a comma-separated list of write, read, expirer, relay and
// projectors; "all" is every role.
func parseRoles(list string) (roles, error) {
	var r roles
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "all":
			r = allRoles
		case "write":
			r.Write = true
		case "read":
			r.Read = true
		case "expirer":
			r.Expirer = true
		case "relay":
			r.Relay = true
		case "projectors":
			r.Projectors = true
		default:
			return r, fmt.Errorf("--roles: unknown role %q (want write, read, expirer, relay, projectors or all)", name)
		}
	}
	return r, nil
}

// Start runs the background roles until ctx ends; wait waits for them to
// stop.
func (e *engine) Start(ctx context.Context, r roles) (wait func()) {
	var wg sync.WaitGroup
	if r.Projectors {
		if e.kafka == nil {
			wg.Go(func() { _ = e.runner.Run(ctx) })
		} else {
			for _, p := range e.runner.Projectors {
				c := &kafka.Consumer{Brokers: e.kafka.Brokers, Topic: e.kafka.Topic, Projection: p.Name(), Deliverer: e.runner, Log: e.log}
				wg.Go(func() { _ = c.Run(ctx) })
			}
		}
	}
	if r.Relay && e.relay != nil {
		wg.Go(func() {
			if err := e.relay.Run(ctx); err != nil {
				e.log.Error("relay stopped", "err", err)
			}
		})
	}
	if r.Expirer {
		wg.Go(func() { _ = e.expirer.Run(ctx) })
	}
	if r.Write {
		wg.Go(func() { purgeIdempotencyKeys(ctx, e.idem, idempotencyPurgeEvery, e.log) })
	}
	return wg.Wait
}

// serveCommand is `ticketing serve`, `relay` and `project`: a Main with
// some roles of the engine, until ctx ends or a listener fails.
type serveCommand struct {
	name  string
	roles roles
}

// Flags attaches serve's --roles.
func (x *serveCommand) Flags(fs *flag.FlagSet, c *Config) {
	if x.name == "serve" {
		fs.StringVar(&c.Roles, "roles", c.Roles, "roles to run: write, read, expirer, relay, projectors, or all (env TICKETING_ROLES)")
	}
}

// Run runs the Main.
func (x *serveCommand) Run(ctx context.Context, s *session) error {
	m := NewMain(x.name, s.Config, x.roles, s.Log)
	if err := m.configure(); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		return err
	}
	select {
	case err := <-m.failed:
		return errors.Join(err, m.Close())
	case <-ctx.Done():
	}
	s.Log.Info("shutting down")
	err := m.Close()
	s.Log.Info("stopped")
	return err
}

// ticketLocator finds tickets in the orders read model; a ticket's order
// never changes, so a read model is a safe index for it.
type ticketLocator struct{ q *projections.Queries }

func (t ticketLocator) TicketOrder(ctx context.Context, id uuid.UUID) (uuid.UUID, uuid.UUID, error) {
	order, show, err := t.q.TicketOrder(ctx, id)
	if errors.Is(err, projections.ErrNotFound) {
		return uuid.Nil, uuid.Nil, domain.ErrTicketNotFound
	}
	return order, show, err
}

// holdIndex lists due holds from the holds read model.
type holdIndex struct{ q *projections.Queries }

func (h holdIndex) DueHolds(ctx context.Context, now time.Time, limit int) ([]commands.HoldRef, error) {
	due, err := h.q.DueHolds(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]commands.HoldRef, len(due))
	for i, d := range due {
		out[i] = commands.HoldRef{ShowID: d.ShowID, OrderID: d.OrderID}
	}
	return out, nil
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// Unwrap lets http.ResponseController reach the server's ResponseWriter
// (deadlines, flushing) through statusWriter.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds(),
			"request_id", w.Header().Get(web.RequestIDHeader))
	})
}
