// Command ticketing runs the ticketing engine.
//
//	ticketing serve     write API, read API, projectors and hold expirer in one process
//	ticketing migrate   apply the database migrations and exit
//
// Configuration comes from the environment (see config.go) and flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, log, level); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage())
			os.Exit(2)
		}
		log.Error("ticketing failed", "err", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// usage is the help of the binary: its commands and its environment.
func usage() string { return commandsUsage + "\n" + environmentUsage() }

const commandsUsage = `usage: ticketing <command> [flags]

commands:
  serve     run the write API, read API, projectors and hold expirer
  relay     publish the event store's global log to Kafka (needs KAFKA_BROKERS)
  project   run the projectors: from Kafka with KAFKA_BROKERS, else from the store
  replay    --projection NAME (repeatable) | --all  [--dry-run | --in-place] [--expect-identical]
            rebuild read models from the event store: into shadow tables,
            verified and swapped in while the live ones keep serving
  migrate   apply database migrations and exit
  projections status [--json]
            each projection's checkpoint, lag and state, and the streams it parked
  projections retry --projection NAME (--stream ID... | --all)
            resume parked streams with this binary's projector: apply the
            parked event and those waiting behind it, in order
  events    [--stream ID] [--type T]... [--since TIME] [--until TIME] [--from-position N]
            [--limit N] [--format jsonl|csv] [--output FILE] [--raw]
            export the event history, old schema versions upcast
  state     --stream show-<id>|order-<id> [--version N | --at TIME] [--output FILE]
            an aggregate's state at a version or a moment, rebuilt from its events
  inventory --show ID --at TIME [--output FILE]
            a show's seat states at a moment, from its stream and its orders' streams
  audit     [--json] [--output FILE]
            check the invariants over the whole event log at every position;
            prints what it checked and every violation, fails on any
`

// run runs the command args name, with the configuration getenv holds,
// logging to log; level, if not nil, takes the configured level.
func run(ctx context.Context, args []string, getenv func(string) string, log *slog.Logger, level *slog.LevelVar) error {
	if len(args) == 0 {
		return errUsage
	}
	if a := args[0]; a == "help" || a == "-h" || a == "--help" {
		fmt.Print(usage())
		return nil
	}
	c, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	if level != nil {
		level.Set(c.LogLevel)
	}
	c.tuneGC()
	switch args[0] {
	case "serve":
		return serve(ctx, c, args[1:], log)
	case "migrate":
		return migrate(ctx, c, args[1:], log)
	case "relay":
		return runRoles(ctx, "relay", c, roles{Relay: true}, args[1:], log)
	case "project":
		return runRoles(ctx, "project", c, roles{Projectors: true}, args[1:], log)
	case "replay":
		return replayCmd(ctx, c, args[1:], log)
	case "projections":
		return projectionsCmd(ctx, c, args[1:], log)
	case "events":
		return eventsCmd(ctx, c, args[1:], log)
	case "state":
		return stateCmd(ctx, c, args[1:], log)
	case "inventory":
		return inventoryCmd(ctx, c, args[1:], log)
	case "audit":
		return auditCmd(ctx, c, args[1:], log)
	}
	return errUsage
}
