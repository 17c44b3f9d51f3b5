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
	"runtime/debug"
	"syscall"
)

func main() {
	tuneGC()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		log.Error("ticketing failed", "err", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// gcPercent is the engine's GC target when GOGC is not set. The engine's
// live heap is small (tens of megabytes) and most of what it allocates dies
// within one request, so collecting when the heap has grown 4× rather than
// 2× spends a fraction of the CPU on the collector for a few more megabytes:
// under a ticket drop that was a fifth more holds per second.
const gcPercent = 400

// tuneGC sets the GC target unless GOGC says otherwise.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

const usage = `usage: ticketing <command> [flags]

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

environment:
  DATABASE_URL    PostgreSQL (default postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable)
  TICKETING_ADDR  listen address for serve (default :8080)
  TICKETING_OPS_ADDR  listen address of /metrics, /livez, /readyz (default 127.0.0.1:9090)
  TICKETING_MAX_CONNS connections served at once per listener (default 10000)
  JWT_SECRET      HMAC secret for access tokens, at least 32 bytes
  HOLD_TTL        how long a hold lasts unpaid (default 15m)
  KAFKA_BROKERS   comma-separated brokers; set, events flow through Kafka
  KAFKA_TOPIC     topic of the global log (default ticketing.events)
  KAFKA_PARTITIONS partitions of that topic (default 12)
  SIGNIN_RATE_PER_ACCOUNT  sign-ins per account: N/DURATION or off (default 10/10m)
  SIGNIN_RATE_PER_ADDRESS  sign-ins and sign-ups per client address (default 60/1m)
  ORDER_RATE_PER_BUYER     holds per buyer (default 20/1m)
  RATE_LIMIT_KEYS          accounts, addresses or buyers each limiter remembers (default 100000)
  PASSWORD_HASHES          password hashes at once (default: the number of CPUs)
  PASSWORD_HASH_QUEUE      requests waiting for one (default 64)
  PASSWORD_HASH_WAIT       how long each may wait before a 503 (default 1s)
  IDEMPOTENCY_KEY_TTL      how long an Idempotency-Key is remembered (default 24h)
  LOG_LEVEL       debug, info, warn or error (default info)
  GOGC            the Go collector's target (default 400 here; see tuneGC)
`

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], log)
	case "migrate":
		return migrate(ctx, args[1:], log)
	case "relay":
		return runRoles(ctx, "relay", roles{Relay: true}, args[1:], log)
	case "project":
		return runRoles(ctx, "project", roles{Projectors: true}, args[1:], log)
	case "replay":
		return replayCmd(ctx, args[1:], log)
	case "projections":
		return projectionsCmd(ctx, args[1:], log)
	case "events":
		return eventsCmd(ctx, args[1:], log)
	case "state":
		return stateCmd(ctx, args[1:], log)
	case "inventory":
		return inventoryCmd(ctx, args[1:], log)
	case "audit":
		return auditCmd(ctx, args[1:], log)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return errUsage
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
