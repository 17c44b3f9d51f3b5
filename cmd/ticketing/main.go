// Command ticketing runs the ticketing engine.
//
//	ticketing serve     write API, read API, projectors and hold expirer in one process
//	ticketing migrate   apply the database migrations and exit
//	ticketing help      the commands and the environment (config.go)
//
// Each command has a type and a file of its own (command.go lists them).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/infra/kafka"
)

func main() {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, log, level); err != nil {
		if errors.Is(err, errUsage) {
			if msg := unknownCommand(os.Args[1:]); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
			fmt.Fprint(os.Stderr, usage())
			os.Exit(2)
		}
		log.Error("ticketing failed", "err", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// usage is the help of the binary: its commands and its environment.
func usage() string { return commandsUsage() + "\n" + environmentUsage() }

// run runs the command args name, with the configuration getenv holds,
// logging to log; level, if not nil, takes the configured level.
func run(ctx context.Context, args []string, getenv func(string) string, log *slog.Logger, level *slog.LevelVar) error {
	if len(args) == 0 {
		return errUsage
	}
	if isHelp(args[0]) {
		return help(os.Stdout, args[1:])
	}
	spec, rest, ok := lookup(args)
	if !ok {
		return errUsage
	}
	c, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	if level != nil {
		level.Set(c.LogLevel)
	}
	c.tuneGC()
	return runCommand(ctx, spec, rest, c, log)
}

// Main is one engine process with some roles: serve, relay and project run
// it, and so do the end-to-end tests, the same way: NewMain, ParseFlags
// (the command line), Run, then Close. Every process serves /livez and
// /readyz on Addr, and /metrics with them on OpsAddr; only one with an API
// role serves the APIs, on Addr.
type Main struct {
	// Name is the command, for flags and the log.
	Name   string
	Config Config
	// Roles are the parts of the engine the process runs.
	Roles roles
	Log   *slog.Logger

	pool        *pgxpool.Pool
	engine      *engine
	ln, opsLn   net.Listener
	srv, opsSrv *http.Server
	stopBG      context.CancelFunc
	waitBG      func()
	// failed receives a listener's error when it stops serving.
	failed    chan error
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a process of the command name with the roles r, the
// configuration c and the log.
func NewMain(name string, c Config, r roles, log *slog.Logger) *Main {
	return &Main{Name: name, Config: c, Roles: r, Log: log, failed: make(chan error, 2)}
}

// ParseFlags parses the command line of m's command (serve, relay or
// project) into m.Config, as the command does.
func (m *Main) ParseFlags(args []string) error {
	spec, _, ok := lookup([]string{m.Name})
	if !ok || spec.Access != serving {
		return fmt.Errorf("%s: not a command that serves", m.Name)
	}
	if err := spec.flagSet(spec.New(), &m.Config).Parse(args); err != nil {
		return err
	}
	return m.configure()
}

// configure takes serve's roles from the configuration and checks that
// the relay has a broker.
func (m *Main) configure() error {
	if m.Name == "serve" {
		r, err := parseRoles(m.Config.Roles)
		if err != nil {
			return err
		}
		m.Roles = r
	}
	if m.Name == "relay" && m.Config.Kafka == nil {
		return errors.New("the relay needs KAFKA_BROKERS")
	}
	return nil
}

// Run opens the database (migrating it), wires the engine, listens on Addr
// and OpsAddr and starts serving and the background roles. It returns once
// they run; Close stops them. After an error, Run has undone what it did.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	c, log := m.Config, m.Log
	if m.pool, err = connect(ctx, c.DatabaseURL, log); err != nil {
		return err
	}
	if c.RandomSecret {
		log.Warn("JWT_SECRET is not set: using a random secret; tokens will not survive a restart or work across processes")
	}
	if m.engine, err = newEngine(ctx, c, m.pool, m.Roles, log); err != nil {
		return err
	}
	if c.Kafka != nil && (m.Roles.Relay || m.Roles.Projectors) {
		if err := kafka.EnsureTopic(ctx, *c.Kafka); err != nil {
			return fmt.Errorf("kafka topic: %w", err)
		}
	}
	if m.ln, err = listen(c.Addr, c.HTTP); err != nil {
		return err
	}
	if m.opsLn, err = listen(c.OpsAddr, c.HTTP); err != nil {
		return fmt.Errorf("ops listener (TICKETING_OPS_ADDR): %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopBG, m.waitBG = stop, m.engine.Start(bg, m.Roles)
	m.srv, m.opsSrv = newHTTPServer(m.engine.handler, c.HTTP, log), newHTTPServer(m.engine.ops, c.HTTP, log)
	m.srv.RegisterOnShutdown(m.engine.shutdownLive) // issue 18: hotreads: live streams end at once
	log.Info("serving", "command", m.Name, "addr", m.ln.Addr().String(), "ops_addr", m.opsLn.Addr().String(),
		"hold_ttl", c.HoldTTL.String(), "kafka", c.Kafka != nil)
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{m.srv, m.ln}, {m.opsSrv, m.opsLn}} {
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				m.failed <- err
			}
		}()
	}
	return nil
}

// URL is the address of the API listener, once Run returned.
func (m *Main) URL() string { return "http://" + m.ln.Addr().String() }

// OpsURL is the address of the ops listener, once Run returned.
func (m *Main) OpsURL() string { return "http://" + m.opsLn.Addr().String() }

// Close shuts the listeners down, waiting up to ShutdownTimeout for the
// requests in flight (then closing their connections), stops the
// background roles, and closes the event store and the database. It
// returns the first error of the shutdown; calling it again returns the
// same.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		for _, s := range []*http.Server{m.srv, m.opsSrv} {
			if err := s.Shutdown(ctx); err != nil {
				errs = append(errs, err)
				_ = s.Close()
			}
		}
	} else {
		for _, ln := range []net.Listener{m.ln, m.opsLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
	}
	if m.stopBG != nil {
		m.stopBG()
		m.waitBG()
	}
	if m.engine != nil {
		if err := m.engine.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the event store: %w", err))
		}
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}
