package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/simpay"
	opsmetrics "github.com/ticketing/ticketing/metrics"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
	"github.com/ticketing/ticketing/writeapi"
)

// engine is the wired application.
type engine struct {
	handler  http.Handler // the APIs, /livez and /readyz
	ops      http.Handler // /metrics, /livez and /readyz
	runner   *projections.Runner
	expirer  *commands.Expirer
	refunder *commands.Refunder // issue 14: money
	commands *commands.Handler
	accounts *commands.Accounts
	pool     *pgxpool.Pool
	store    eventStore
	queries  *projections.Queries
	registry *domain.Registry
	log      *slog.Logger
	kafka    *kafka.Config // nil: projectors follow the store in-process
	relay    *kafka.Relay
	idem     *postgres.Idempotency
	metrics  *metrics // issue 16: ops: /metrics and the domain signals
	// issue 16: openapi: the API and ops routers, which the route walk reads
	routers []*mux.Router
	// issue 16: webhooks
	webhooks *webhookParts
	hot      *projections.Hot // issue 17: hotreads; nil: none
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
	// The projections of this process take the holds and orders its
	// writers appended as they were, instead of decoding them again.
	written := &projections.Written{}
	var appended func([]uuid.UUID, []domain.Event)
	if r.Write && r.Projectors {
		appended = written.Add
	}
	m := newMetrics(store, queries, pool, log)                                                         // issue 16: ops
	h := newCommandHandler(c, pool, measuredStore(store, m.signals), registry, queries, appended, log) // issue 16: ops
	passwords, err := c.Limits.passwordHasher()
	if err != nil {
		return nil, err
	}
	if c.projectors == nil {
		c.projectors = projections.All()
	}
	e := &engine{
		kafka: c.Kafka,
		runner: &projections.Runner{Feed: store, Store: models, Registry: registry, Projectors: c.projectors,
			Reporter: models, Log: log, Written: written},
		expirer:  commands.NewExpirer(h, signalHolds{holdIndex{queries}, time.Now, m.signals}, h.Now, c.ExpiryInterval, log), // issue 16: ops
		refunder: &commands.Refunder{Handler: h, Work: refundWork{queries}, Interval: c.ExpiryInterval, Grace: refundGrace, Log: log},
		commands: h,
		accounts: commands.NewAccounts(postgres.NewUsers(pool), passwords, time.Now, commands.NewID),
		pool:     pool,
		store:    store,
		queries:  queries,
		registry: registry,
		log:      log,
		idem:     postgres.NewIdempotency(pool, c.Limits.IdempotencyTTL),
		metrics:  m,
	}
	if kc := c.Kafka; kc != nil {
		e.relay = &kafka.Relay{Feed: store, Checkpoints: postgres.NewRelayCheckpoints(pool), Writer: kafka.NewWriter(*kc),
			Topic: kc.Topic, Partitions: kc.Partitions, Log: log, Acked: kc.ObserveRelay, Linger: kc.RelayWait()}
	}
	// issue 16: webhooks
	e.webhooks = newWebhooks(c, pool, store, registry, log)
	e.webhooks.dispatcher.Metrics = m.signals // issue 16: ops: deliveries by outcome

	if c.DevTicketKey && (r.Write || r.Read) { // issue 14: door
		log.Warn("TICKETING_TICKET_KEY is not set: ticket codes use a public development key; anyone can forge them")
	}
	e.hot = newHot(c, r, store, registry, queries, models, pool, log) // issue 17: hotreads
	// issue 17: feed: the projections, the hot views and the webhook fanout
	// follow one tail of the log, each event read and decoded once (feed.go)
	e.useSharedFeed(sharedFeed(store, registry, written))
	if err := e.route(c, r); err != nil {
		return nil, err
	}
	return e, nil
}

// newCommandHandler returns the command handler on store; appended, if not
// nil, is told of the holds and orders it appends.
func newCommandHandler(c Config, pool *pgxpool.Pool, store eventStore, registry *domain.Registry, queries *projections.Queries,
	appended func([]uuid.UUID, []domain.Event), log *slog.Logger) *commands.Handler {
	sim := simpay.New()
	var pay commands.PaymentProvider = sim
	if c.payments != nil { // issue 14: money: tests whose engines share one ledger
		pay = c.payments
		if p, ok := c.payments.(*simpay.Provider); ok {
			sim = p
		}
	}
	return commands.NewHandler(&commands.Handler{
		Store:     store,
		Registry:  registry,
		Payments:  pay,
		Intents:   simpay.NewIntents(sim, c.WebhookSecrets...), // issue 14: asyncpay
		Tickets:   ticketLocator{queries},
		Codes:     ticketCodes(c),                         // issue 14: door
		Buyers:    buyers{users: postgres.NewUsers(pool)}, // issue 14: door
		Shows:     queries,
		Snapshots: postgres.NewSnapshots(pool),
		Log:       log,
		HoldTTL:   c.HoldTTL,
		// issue 14: waitlist
		WaitlistOfferWindow: c.WaitlistOfferWindow,
		Appended:            appended,
	})
}

// writeCommands is what the write API runs: the accounts and the
// event-sourced commands.
type writeCommands struct {
	*commands.Accounts
	*commands.Handler
	signals *opsmetrics.Signals // issue 16: ops (signals.go)
}

// route sets e.handler (the APIs of the roles r, /livez and /readyz) and
// e.ops (/metrics, /livez and /readyz).
func (e *engine) route(c Config, r roles) error {
	tokens, err := auth.NewTokens(c.JWTSecret, c.TokenTTL, time.Now)
	if err != nil {
		return fmt.Errorf("JWT_SECRET: %w", err)
	}
	// Organizer and admin tokens get their account's current role.
	authn := auth.NewCurrentRoles(tokens, postgres.NewUsers(e.pool))
	writeLimits, err := c.Limits.writeLimits()
	if err != nil {
		return err
	}
	livez, readyz := health(e.pool)
	router, ops := mux.NewRouter(), mux.NewRouter()
	var front http.Handler = router // issue 17: reads: the hot routes first (hot.go)
	for _, m := range []*mux.Router{router, ops} {
		routingErrors(m, e.log)
		m.HandleFunc("/livez", livez).Methods(http.MethodGet, http.MethodHead)   // issue 16: openapi: no other method
		m.HandleFunc("/readyz", readyz).Methods(http.MethodGet, http.MethodHead) // issue 16: openapi
	}
	e.routers = routeOpenAPI(router, ops) // issue 16: openapi: GET /openapi.json on both
	m := e.metrics
	ops.Handle("/metrics", m.handler()).Methods(http.MethodGet) // issue 16: openapi: GET only
	router.Use(m.instrument)
	if r.Write {
		warnWebhookSecret(c, e.log) // issue 14: asyncpay
		// issue 16: ops: the commands and keys, counted
		cmds, idem := writeCommands{e.accounts, e.commands, m.signals}, signalIdempotency{e.idem, m.signals}
		writeapi.New(cmds, tokens, authn, idem, e.log).WithLimits(writeLimits).
			WithPayments(cmds, c.WebhookSecrets).
			WithLogHead(e.store). // issue 16: vocab
			// issue 16: webhooks
			WithWebhooks(e.webhooks.service).
			Register(router)
	}
	if r.Read {
		read := readapi.New(e.queries, authn, e.log).WithLogHead(e.store).WithTicketCodes(e.commands.TicketCodes()).
			WithSignals(m.signals) // issue 16: ops
		read.WithWebhooks(e.webhooks.service)     // issue 16: webhooks
		read.WithShowVersions(newShowVersions(e)) // issue 16: vocab
		if e.hot != nil {                         // issue 17: hotreads
			read.WithHot(e.hot, c.Hot.Streams, readapi.LiveOptions{Heartbeat: c.Hot.Heartbeat})
			front = hotFirst(read, m.instrument, router) // routed ahead of the others (hot.go)
		}
		read.Register(router)
		read.RegisterAdmin(router, exporterOf(e.store), e.registry)
		// issue 18: pages: the pages at /, /organizer, /ops and the ops view's /v1/admin/status
		routePages(router, read, authn, e.store, e.queries, e.pool)
	}
	// issue 16: ops: the middleware chain (httpserver.go); scrapes are
	// logged at debug only.
	ops.Use(m.routes)
	e.handler = middleware(e.log, slog.LevelInfo, c.CORSOrigins, front)
	e.ops = middleware(e.log, slog.LevelDebug, nil, ops)
	return nil
}

// health returns the handlers of /livez (the process answers) and
// /readyz (and reaches the database).
func health(pool *pgxpool.Pool) (livez, readyz http.HandlerFunc) {
	livez = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	readyz = func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	return livez, readyz
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
			c := projectionConsumer(e) // issue 15: klatency: one group feeds every projection
			wg.Go(func() { _ = c.Run(ctx) })
		}
	}
	if e.hot != nil { // issue 17: hotreads
		wg.Go(func() { _ = e.hot.Run(ctx) })
	}
	if r.Relay && e.relay != nil {
		wg.Go(func() { e.runRelay(ctx) }) // issue 15: singleton: one active relay per topic
	}
	if r.Expirer {
		wg.Go(func() { e.runExpirer(ctx) }) // issue 15: singleton: one active expirer per database
	}
	if r.Expirer {
		wg.Go(func() { e.webhooks.run(ctx) }) // issue 16: webhooks
	}
	if r.Write {
		wg.Go(func() { purgeIdempotencyKeys(ctx, e.idem, idempotencyPurgeEvery, e.log) })
	}
	return wg.Wait
}

// Close closes the event store, when it holds a client of its own
// (EventStoreDB); the pool is the caller's.
func (e *engine) Close() error {
	if c, ok := e.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
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
