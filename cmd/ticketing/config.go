package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/ratelimit"
	"github.com/ticketing/ticketing/projections"
)

// DefaultDatabaseURL is the local PostgreSQL of a development machine.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable"

// DefaultOpsAddr is where /metrics is served unless TICKETING_OPS_ADDR
// says otherwise: loopback only.
const DefaultOpsAddr = "127.0.0.1:9090"

// Config is everything the engine reads from its environment, and the
// flags that override some of it. LoadConfig fills it from variables.
type Config struct {
	DatabaseURL string
	Addr        string
	// OpsAddr is where /metrics is served, with /livez and /readyz: not
	// on Addr, which is public (--ops-addr, env TICKETING_OPS_ADDR).
	OpsAddr string
	// HTTP bounds what a client can make a listener hold; MaxConns from
	// TICKETING_MAX_CONNS.
	HTTP      httpLimits
	JWTSecret []byte
	// RandomSecret says that JWT_SECRET was not set and JWTSecret is
	// random, for this process only.
	RandomSecret bool
	TokenTTL     time.Duration
	HoldTTL      time.Duration
	// issue 14: waitlist — how long a waiting-list offer's hold lasts
	// (WAITLIST_OFFER_WINDOW).
	WaitlistOfferWindow time.Duration
	ExpiryInterval      time.Duration
	ShutdownTimeout     time.Duration
	// Kafka is set when KAFKA_BROKERS is: events then flow store → relay →
	// Kafka → projectors instead of the in-process feed.
	Kafka *kafka.Config
	// Roles are the roles `serve` runs (--roles, env TICKETING_ROLES).
	Roles string
	// Store names the event store (EVENTSTORE, ESDB_URL, ESDB_NAMESPACE).
	Store storeConfig
	// Limits are the defences against abusive clients (limits.go).
	Limits limits
	// LogLevel is the level of the process's log (LOG_LEVEL).
	LogLevel slog.Level
	// GCPercent is the collector's target to set, or 0 to leave the
	// runtime's (GOGC set).
	GCPercent int
	// issue 14: door. TicketKey is the HMAC key of ticket codes
	// (TICKETING_TICKET_KEY); DevTicketKey says it was not set and is
	// domain.DevTicketKey, public.
	TicketKey    []byte
	DevTicketKey bool
	// issue 14: asyncpay
	// WebhookSecrets verify payment webhooks, the current first
	// (TICKETING_WEBHOOK_SECRET); RandomWebhookSecret says it was not set
	// and the one secret is random, for this process only.
	WebhookSecrets      [][]byte
	RandomWebhookSecret bool
	// issue 16: ops. CORSOrigins are the origins whose pages may call the
	// APIs (TICKETING_CORS_ORIGINS); none: CORS is off.
	CORSOrigins []string
	// issue 17: hotreads. Hot sizes the in-memory views and the live
	// streams (cmd/ticketing/hot.go); LoadConfig sets its defaults.
	Hot hotConfig
	// projectors replaces projections.All(), for tests.
	projectors []projections.Projector
	// issue 14: money. payments replaces the process's own simulated
	// provider, for tests whose engines share one ledger.
	payments commands.PaymentProvider
	// issue 16: webhooks (cmd/ticketing/webhooks.go)
	Webhooks webhookConfig
}

// storeConfig names the event store; see openStore.
type storeConfig struct {
	Kind      string // postgres or esdb
	URL       string // ESDB_URL
	Namespace string // ESDB_NAMESPACE
}

// variable is one environment variable of the engine: its name, the
// default LoadConfig uses when it is unset or empty, the default as usage
// shows it (when not Default itself), what it means, and how its value
// goes into a Config (refusing a bad one).
type variable struct {
	Name    string
	Default string
	Shown   string
	Usage   string
	set     func(c *Config, v string) error
}

// variables are every environment variable the engine reads, in the order
// usage lists them.
var variables = []variable{
	{Name: "DATABASE_URL", Default: DefaultDatabaseURL, Usage: "PostgreSQL; the database is created if missing",
		set: func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{Name: "TICKETING_ADDR", Default: ":8080", Usage: "listen address of the APIs, /livez and /readyz (--addr)",
		set: func(c *Config, v string) error { c.Addr = v; return nil }},
	{Name: "TICKETING_OPS_ADDR", Default: DefaultOpsAddr, Usage: "listen address of /metrics, /livez, /readyz (--ops-addr)",
		set: func(c *Config, v string) error { c.OpsAddr = v; return nil }},
	{Name: "TICKETING_MAX_CONNS", Shown: strconv.Itoa(DefaultMaxConns), Usage: "connections served at once per listener",
		set: func(c *Config, v string) error { return optionalPositive(v, &c.HTTP.MaxConns) }},
	{Name: "TICKETING_ROLES", Default: "all", Usage: "what serve runs: write, read, expirer, relay, projectors or all (--roles)",
		set: func(c *Config, v string) error { _, err := parseRoles(v); c.Roles = v; return err }},
	{Name: "JWT_SECRET", Shown: "random per process (warned)", Usage: "HMAC secret for access tokens, at least 32 bytes",
		set: setSecret},
	// issue 14: door
	{Name: "TICKETING_TICKET_KEY", Shown: "a public development key (warned)", Usage: "HMAC key of ticket codes, at least 32 bytes",
		set: setTicketKey},
	{Name: "HOLD_TTL", Default: "15m", Usage: "how long a hold lasts unpaid",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.HoldTTL) }},
	// issue 14: waitlist
	{Name: "WAITLIST_OFFER_WINDOW", Default: "10m", Usage: "how long a waiting-list offer's hold lasts unpaid",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.WaitlistOfferWindow) }},
	{Name: "EXPIRY_INTERVAL", Default: "200ms", Usage: "how often the expirer looks for due holds",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.ExpiryInterval) }},
	{Name: "EVENTSTORE", Default: "postgres", Usage: "the event store: postgres, or esdb (EventStoreDB)",
		set: setStore},
	{Name: "ESDB_URL", Shown: "unset", Usage: "with EVENTSTORE=esdb: for example esdb://localhost:2113?tls=false",
		set: func(c *Config, v string) error { c.Store.URL = v; return nil }},
	{Name: "ESDB_NAMESPACE", Shown: "unset", Usage: "prefixes the engine's stream names on EventStoreDB",
		set: func(c *Config, v string) error { c.Store.Namespace = v; return nil }},
	{Name: "KAFKA_BROKERS", Shown: "unset", Usage: "comma-separated brokers; set, events flow through Kafka",
		set: setBrokers},
	{Name: "KAFKA_TOPIC", Default: kafka.DefaultTopic, Usage: "topic of the global log",
		set: func(c *Config, v string) error { c.kafka().Topic = v; return nil }},
	{Name: "KAFKA_PARTITIONS", Default: strconv.Itoa(kafka.DefaultPartitions), Usage: "partitions of that topic",
		set: func(c *Config, v string) error { return positive(v, &c.kafka().Partitions) }},
	// issue 15: one transaction per fetched batch for the projections
	{Name: "KAFKA_PROJECTION_TXS", Default: "1", Usage: "transactions each fetched batch is applied to the projections in: 1, one for all; 7, one each",
		set: func(c *Config, v string) error { return positive(v, &c.kafka().ProjectionTxs) }},
	{Name: "KAFKA_COMMIT_INTERVAL", Default: kafka.DefaultCommitInterval.String(), Usage: "how often the projection consumer commits its offsets, at most",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.kafka().CommitInterval) }},
	{Name: "KAFKA_RELAY_LINGER", Default: kafka.DefaultRelayLinger.String(), Usage: "how long the relay waits after each write before the next, so that more events go in one produce request; 0: no wait",
		set: setRelayLinger},
	{Name: "SIGNIN_RATE_PER_ACCOUNT", Default: defaultSignInPerAccount, Usage: "sign-ins per account: N/DURATION or off",
		set: func(c *Config, v string) error { return rate(v, &c.Limits.SignInPerAccount) }},
	{Name: "SIGNIN_RATE_PER_ADDRESS", Default: defaultSignInPerAddress, Usage: "sign-ins and sign-ups per client address",
		set: func(c *Config, v string) error { return rate(v, &c.Limits.SignInPerAddress) }},
	{Name: "ORDER_RATE_PER_BUYER", Default: defaultOrdersPerBuyer, Usage: "holds per buyer",
		set: func(c *Config, v string) error { return rate(v, &c.Limits.OrdersPerBuyer) }},
	{Name: "RATE_LIMIT_KEYS", Default: strconv.Itoa(ratelimit.DefaultKeys), Usage: "accounts, addresses or buyers each limiter remembers",
		set: func(c *Config, v string) error { return positive(v, &c.Limits.RateLimitKeys) }},
	{Name: "PASSWORD_HASHES", Shown: "the number of CPUs", Usage: "password hashes at once",
		set: func(c *Config, v string) error {
			if v == "" {
				v = strconv.Itoa(runtime.GOMAXPROCS(0))
			}
			return positive(v, &c.Limits.Hashes)
		}},
	{Name: "PASSWORD_HASH_QUEUE", Default: strconv.Itoa(defaultHashQueue), Usage: "requests waiting for one",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a number, zero or more, got %q", v)
			}
			c.Limits.HashQueue = n
			return nil
		}},
	{Name: "PASSWORD_HASH_WAIT", Default: defaultHashWait.String(), Usage: "how long each may wait before a 503",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.Limits.HashWait) }},
	{Name: "IDEMPOTENCY_KEY_TTL", Default: defaultIdempotencyTTL.String(), Usage: "how long an Idempotency-Key is remembered",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.Limits.IdempotencyTTL) }},
	{Name: "LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error",
		set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("want debug, info, warn or error, got %q", v)
			}
			return nil
		}},
	// issue 14: asyncpay
	{Name: "TICKETING_WEBHOOK_SECRET", Shown: "random per process (warned)", Usage: "HMAC secrets of payment webhooks, comma-separated, current first; 32 bytes or more",
		set: setWebhookSecrets},
	// issue 16: ops
	{Name: "TICKETING_CORS_ORIGINS", Shown: "unset (CORS off)", Usage: "comma-separated origins (https://shop.example) whose pages may call the APIs, or *",
		set: setCORSOrigins},
	// issue 16: webhooks
	{Name: "TICKETING_WEBHOOK_ALLOW_PRIVATE", Default: "0", Usage: "1: webhook endpoints may be on loopback, private or link-local addresses",
		set: setWebhookAllowPrivate},
	{Name: "TICKETING_WEBHOOK_TIMEOUT", Default: defaultWebhooks.Timeout.String(), Usage: "how long one webhook attempt may take",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.Webhooks.Timeout) }},
	{Name: "TICKETING_WEBHOOK_RETRY_FOR", Default: defaultWebhooks.Backoff.Horizon.String(), Usage: "how long a failing webhook is retried before its endpoint is disabled",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.Webhooks.Backoff.Horizon) }},
	// issue 17/18: hotreads
	{Name: "TICKETING_HOT_SHOWS", Default: strconv.Itoa(projections.DefaultHotShows), Usage: "shows the read API keeps in memory; 0 turns hot reads and live streams off",
		set: func(c *Config, v string) error { return nonNegative(v, &c.Hot.Shows) }},
	{Name: "TICKETING_LIVE_STREAMS", Default: "32", Usage: "live streams (GET /v1/shows/{id}/live) one client address may hold; 0: no limit",
		set: func(c *Config, v string) error { return nonNegative(v, &c.Hot.Streams) }},
	{Name: "TICKETING_LIVE_HEARTBEAT", Default: "15s", Usage: "how often an idle live stream gets a heartbeat comment",
		set: func(c *Config, v string) error { return positiveDuration(v, &c.Hot.Heartbeat) }},
	{Name: "GOGC", Shown: strconv.Itoa(gcPercent) + " here", Usage: "the Go collector's target (off, or a percentage)",
		set: setGOGC},
}

// LoadConfig reads the configuration from getenv (os.Getenv in production),
// each variable unset or empty taking its default. It refuses a bad value
// with an error that names its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{TokenTTL: time.Hour, ShutdownTimeout: 15 * time.Second,
		Webhooks: defaultWebhooks} // issue 16: webhooks
	c.Hot = defaultHot() // issue 17: hotreads
	for _, v := range variables {
		s := getenv(v.Name)
		if s == "" {
			s = v.Default
		}
		if err := v.set(&c, s); err != nil {
			return c, fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	if c.Kafka != nil && len(c.Kafka.Brokers) == 0 {
		c.Kafka = nil // KAFKA_TOPIC or KAFKA_PARTITIONS without brokers
	}
	if c.Store.Kind == "esdb" && c.Store.URL == "" {
		return c, errors.New("EVENTSTORE=esdb needs ESDB_URL, for example esdb://localhost:2113?tls=false")
	}
	return c, nil
}

// kafka returns c.Kafka, making it first.
func (c *Config) kafka() *kafka.Config {
	if c.Kafka == nil {
		c.Kafka = &kafka.Config{}
	}
	return c.Kafka
}

func setBrokers(c *Config, v string) error {
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.kafka().Brokers = append(c.kafka().Brokers, b)
		}
	}
	return nil
}

func setStore(c *Config, v string) error {
	if v != "postgres" && v != "esdb" {
		return fmt.Errorf("unknown event store %q (want postgres or esdb)", v)
	}
	c.Store.Kind = v
	return nil
}

// setSecret takes JWT_SECRET, or makes a random secret when it is unset.
func setSecret(c *Config, v string) error {
	if v != "" {
		c.JWTSecret = []byte(v)
		return nil
	}
	c.JWTSecret, c.RandomSecret = make([]byte, 32), true
	_, _ = rand.Read(c.JWTSecret)
	return nil
}

// gcPercent is the engine's GC target when GOGC is not set. The engine's
// live heap is small (tens of megabytes) and most of what it allocates dies
// within one request, so collecting when the heap has grown 4× rather than
// 2× spends a fraction of the CPU on the collector for a few more megabytes:
// under a ticket drop that was a fifth more holds per second.
const gcPercent = 400

// setGOGC checks GOGC, which the runtime reads itself, and sets gcPercent
// when it is unset.
func setGOGC(c *Config, v string) error {
	if v == "" {
		c.GCPercent = gcPercent
		return nil
	}
	if n, err := strconv.Atoi(v); v != "off" && (err != nil || n < 0) {
		return fmt.Errorf("want off or a percentage, got %q", v)
	}
	return nil
}

// tuneGC sets the GC target unless GOGC said otherwise.
func (c Config) tuneGC() {
	if c.GCPercent > 0 {
		debug.SetGCPercent(c.GCPercent)
	}
}

func positive(v string, into *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive number, got %q", v)
	}
	*into = n
	return nil
}

// optionalPositive is positive, leaving into alone when v is empty.
func optionalPositive(v string, into *int) error {
	if v == "" {
		return nil
	}
	return positive(v, into)
}

// nonNegative parses v as a count of zero or more into into.
func nonNegative(v string, into *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number, 0 or more, got %q", v)
	}
	*into = n
	return nil
}

func positiveDuration(v string, into *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration like 15m or 2s, got %q", v)
	}
	*into = d
	return nil
}

// setRelayLinger sets the relay's wait; "0" is no wait.
func setRelayLinger(c *Config, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration like 2ms, or 0 for none, got %q", v)
	}
	if d == 0 {
		d = -1 // kafka.Config: negative is none, zero the default
	}
	c.kafka().RelayLinger = d
	return nil
}

func rate(v string, into *ratelimit.Rate) error {
	r, err := ratelimit.ParseRate(v)
	if err != nil {
		return err
	}
	*into = r
	return nil
}

// environmentUsage lists the variables, their defaults and meanings, for
// usage.
func environmentUsage() string {
	var b strings.Builder
	b.WriteString("environment:\n")
	for _, v := range variables {
		def := v.Shown
		if def == "" {
			def = v.Default
		}
		fmt.Fprintf(&b, "  %-24s %s (default %s)\n", v.Name, v.Usage, def)
	}
	return b.String()
}

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
