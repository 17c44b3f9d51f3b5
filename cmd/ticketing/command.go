package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
)

// command is one subcommand of ticketing, with its flags.
type command interface {
	// Flags attaches the command's own flags to fs; they may set c.
	Flags(fs *flag.FlagSet, c *Config)
	// Run runs the command once its flags are parsed.
	Run(ctx context.Context, s *session) error
}

// access is what a command does with the database.
type access int

const (
	// readOnly commands open the database as it is: they neither create
	// nor migrate it.
	readOnly access = iota
	// migrating commands create the database if it is missing and apply
	// the migrations first.
	migrating
	// serving commands run a Main, which migrates, and take the listener
	// flags too.
	serving
)

// commandSpec describes a subcommand for the dispatcher and for help.
type commandSpec struct {
	Name    string // one or two words: "events", "projections status"
	Args    string // its flags in short, for usage
	Summary string // what it does, one or more lines
	Example string // a command line
	Access  access
	New     func() command
}

// subcommands are the commands, in the order usage lists them.
var subcommands = []commandSpec{
	{Name: "serve", Summary: "run the write API, read API, projectors and hold expirer",
		Example: "ticketing serve --roles write,read --addr :8080", Access: serving,
		New: func() command { return serveCommand{} }},
	{Name: "relay", Summary: "publish the event store's global log to Kafka (needs KAFKA_BROKERS)",
		Example: "KAFKA_BROKERS=kafka:9092 ticketing relay", Access: serving,
		New: func() command { return relayCommand{} }},
	{Name: "project", Summary: "run the projectors: from Kafka with KAFKA_BROKERS, else from the store",
		Example: "ticketing project --ops-addr :9091", Access: serving,
		New: func() command { return projectCommand{} }},
	{Name: "replay", Args: "--projection NAME (repeatable) | --all  [--dry-run | --in-place] [--expect-identical]",
		Summary: "rebuild read models from the event store: into shadow tables,\nverified and swapped in while the live ones keep serving",
		Example: "ticketing replay --projection shows --expect-identical", Access: migrating,
		New: func() command { return &replayCommand{} }},
	{Name: "migrate", Summary: "apply database migrations and exit",
		Example: "ticketing migrate --database-url postgres://postgres@db:5432/ticketing", Access: migrating,
		New: func() command { return migrateCommand{} }},
	{Name: "projections status", Args: "[--json]",
		Summary: "each projection's checkpoint, lag and state, and the streams it parked",
		Example: "ticketing projections status --json", Access: readOnly,
		New: func() command { return &statusCommand{} }},
	{Name: "projections retry", Args: "--projection NAME (--stream ID... | --all)",
		Summary: "resume parked streams with this binary's projector: apply the\nparked event and those waiting behind it, in order",
		Example: "ticketing projections retry --projection orders --all", Access: migrating,
		New: func() command { return &retryCommand{} }},
	{Name: "events", Args: "[--stream ID] [--type T]... [--since TIME] [--until TIME] [--from-position N]\n[--limit N] [--format jsonl|csv] [--output FILE] [--raw]",
		Summary: "export the event history, old schema versions upcast",
		Example: "ticketing events --type show.seats_held --since 2026-11-21 --format csv -o holds.csv", Access: readOnly,
		New: func() command { return &eventsCommand{} }},
	{Name: "state", Args: "--stream ID|show-<id>|order-<id> [--version N | --at TIME|now] [--output FILE]",
		Summary: "an aggregate's state at a version or a moment, rebuilt from its events",
		Example: "ticketing state --stream show-0193c0de-0000-7000-8000-000000000001 --at 2026-11-21T20:00", Access: readOnly,
		New: func() command { return &stateCommand{} }},
	{Name: "inventory", Args: "--show ID|show-<id> --at TIME|now [--output FILE]",
		Summary: "a show's seat states at a moment, from its stream and its orders' streams",
		Example: "ticketing inventory --show 0193c0de-0000-7000-8000-000000000001 --at 2026-11-21T20:00", Access: readOnly,
		New: func() command { return &inventoryCommand{} }},
	{Name: "audit", Args: "[--json] [--output FILE]",
		Summary: "check the invariants over the whole event log at every position;\nprints what it checked and every violation, fails on any",
		Example: "ticketing audit --json -o audit.json", Access: readOnly,
		New: func() command { return &auditCommand{} }},
}

// lookup finds the command args start with and returns it with the rest
// of args.
func lookup(args []string) (commandSpec, []string, bool) {
	for _, words := range []int{2, 1} {
		if len(args) < words {
			continue
		}
		name := strings.Join(args[:words], " ")
		for _, c := range subcommands {
			if c.Name == name {
				return c, args[words:], true
			}
		}
	}
	return commandSpec{}, args, false
}

// unknownCommand says what in args is not a command, or "" when args name
// one (or ask for help).
func unknownCommand(args []string) string {
	if len(args) > 0 && isHelp(args[0]) {
		args = args[1:]
	}
	if len(args) == 0 {
		return ""
	}
	if _, _, ok := lookup(args); ok {
		return ""
	}
	name := args[0]
	if name == "projections" {
		if len(args) == 1 {
			return "ticketing: projections needs a command: status or retry"
		}
		name += " " + args[1]
	}
	return fmt.Sprintf("ticketing: unknown command %q", name)
}

func isHelp(a string) bool { return a == "help" || a == "-h" || a == "--help" }

// commandsUsage lists the commands, for usage.
func commandsUsage() string {
	var b strings.Builder
	b.WriteString("usage: ticketing <command> [flags]\n       ticketing help <command>\n\ncommands:\n")
	for _, c := range subcommands {
		lines := strings.Split(c.Summary, "\n")
		if c.Args != "" {
			lines = append(strings.Split(c.Args, "\n"), lines...)
		}
		if len(c.Name) < 10 {
			fmt.Fprintf(&b, "  %-9s %s\n", c.Name, lines[0])
		} else {
			fmt.Fprintf(&b, "  %s %s\n", c.Name, lines[0])
		}
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "            %s\n", l)
		}
	}
	return b.String()
}

// flagSet returns the flags of the command: the shared ones (the
// database, and the listeners for a serving command), attached here once,
// then the command's own.
func (spec commandSpec) flagSet(cmd command, c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	if spec.Access == serving {
		c.listenFlags(fs)
	}
	c.databaseFlags(fs)
	cmd.Flags(fs, c)
	fs.Usage = func() { spec.printHelp(fs.Output(), fs) }
	return fs
}

// printHelp writes the help of the command: what it does, an example and
// its flags.
func (spec commandSpec) printHelp(w io.Writer, fs *flag.FlagSet) {
	args := "[flags]"
	if spec.Args != "" {
		args = strings.ReplaceAll(spec.Args, "\n", " ")
	}
	fmt.Fprintf(w, "usage: ticketing %s %s\n", spec.Name, args)
	fmt.Fprintf(w, "\n%s\n\nexample:\n  %s\n\nflags:\n", spec.Summary, spec.Example)
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	fmt.Fprintf(w, "\nthe environment variables: ticketing help\n")
}

// help writes usage, or the help of the command args name, with the
// defaults of the flags; an unknown command is errUsage.
func help(w io.Writer, args []string) error {
	if len(args) == 0 {
		_, err := fmt.Fprint(w, usage())
		return err
	}
	spec, rest, ok := lookup(args)
	if !ok || len(rest) > 0 {
		return errUsage
	}
	c, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		return err
	}
	spec.printHelp(w, spec.flagSet(spec.New(), &c))
	return nil
}

// runCommand parses the command line of spec into its command and runs
// it; -h prints its help and succeeds.
func runCommand(ctx context.Context, spec commandSpec, args []string, c Config, log *slog.Logger) error {
	cmd := spec.New()
	fs := spec.flagSet(cmd, &c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	s := &session{Name: spec.Name, Config: c, Log: log, Args: fs.Args(), migrate: spec.Access != readOnly}
	return errors.Join(cmd.Run(ctx, s), s.close())
}

// session is what a command runs with: the configuration, the log, the
// arguments after the flags, and the database and event store it opens
// (once, closed when it ends).
type session struct {
	Name   string
	Config Config
	Log    *slog.Logger
	Args   []string

	migrate  bool
	pool     *pgxpool.Pool
	store    eventStore
	registry *domain.Registry
}

// Pool opens the database: created and migrated first for a migrating
// command, as it is for a read-only one.
func (s *session) Pool(ctx context.Context) (*pgxpool.Pool, error) {
	if s.pool != nil {
		return s.pool, nil
	}
	var err error
	if s.migrate {
		s.pool, err = connect(ctx, s.Config.DatabaseURL, s.Log)
	} else {
		s.pool, err = newPool(ctx, s.Config.DatabaseURL)
	}
	return s.pool, err
}

// Store opens the event store the configuration names, and a registry of
// the domain's events.
func (s *session) Store(ctx context.Context) (eventStore, *domain.Registry, error) {
	if s.store != nil {
		return s.store, s.registry, nil
	}
	pool, err := s.Pool(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.store, err = openStore(ctx, pool, s.Config.Store, s.Log); err != nil {
		return nil, nil, err
	}
	s.registry = domain.NewRegistry()
	domain.RegisterEvents(s.registry)
	return s.store, s.registry, nil
}

// noArgs refuses arguments after the flags.
func (s *session) noArgs() error {
	if len(s.Args) > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", s.Name, s.Args)
	}
	return nil
}

// withOutput runs fn with the output: the file named, or stdout for "" or
// "-"; a file is closed, and its error returned, when fn succeeds.
func withOutput(output string, fn func(io.Writer) error) error {
	if output == "" || output == "-" {
		return fn(os.Stdout)
	}
	f, err := os.Create(output)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fn(f); err != nil {
		return err
	}
	return f.Close()
}

func (s *session) close() error {
	var err error
	if c, ok := s.store.(io.Closer); ok {
		err = c.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}
