package main

import (
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/ratelimit"
	"github.com/ticketing/ticketing/projections"
)

// env is an environment for LoadConfig: unset variables are empty.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestLoadConfig_Defaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", c.DatabaseURL, DefaultDatabaseURL},
		{"Addr", c.Addr, ":8080"},
		{"OpsAddr", c.OpsAddr, DefaultOpsAddr},
		{"HTTP", c.HTTP, httpLimits{}},
		{"RandomSecret", c.RandomSecret, true},
		{"len(JWTSecret)", len(c.JWTSecret), 32},
		{"TokenTTL", c.TokenTTL, time.Hour},
		{"HoldTTL", c.HoldTTL, 15 * time.Minute},
		{"ExpiryInterval", c.ExpiryInterval, 200 * time.Millisecond},
		{"ShutdownTimeout", c.ShutdownTimeout, 15 * time.Second},
		{"Kafka", c.Kafka, (*kafka.Config)(nil)},
		{"Roles", c.Roles, "all"},
		{"Store", c.Store, storeConfig{Kind: "postgres"}},
		{"Limits.SignInPerAccount", c.Limits.SignInPerAccount, ratelimit.Rate{Burst: 10, Per: 10 * time.Minute}},
		{"Limits.RateLimitKeys", c.Limits.RateLimitKeys, ratelimit.DefaultKeys},
		{"Limits.Hashes", c.Limits.Hashes, runtime.GOMAXPROCS(0)},
		{"Limits.HashQueue", c.Limits.HashQueue, defaultHashQueue},
		{"Limits.HashWait", c.Limits.HashWait, defaultHashWait},
		{"Limits.IdempotencyTTL", c.Limits.IdempotencyTTL, defaultIdempotencyTTL},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"GCPercent", c.GCPercent, gcPercent},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
}

func TestLoadConfig_FromEnvironment(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env{
		"DATABASE_URL": "postgres://db/x", "TICKETING_ROLES": "read", "JWT_SECRET": "s", "HOLD_TTL": "2s",
		"EVENTSTORE": "esdb", "ESDB_URL": "esdb://e:2113", "ESDB_NAMESPACE": "n-",
		"KAFKA_BROKERS": " k1:9092, ,k2:9092", "KAFKA_PARTITIONS": "3", "PASSWORD_HASH_QUEUE": "0",
		"LOG_LEVEL": "debug", "GOGC": "off",
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://db/x" || c.Roles != "read" || string(c.JWTSecret) != "s" || c.RandomSecret || c.HoldTTL != 2*time.Second {
		t.Errorf("config = %+v", c)
	}
	if c.Store != (storeConfig{Kind: "esdb", URL: "esdb://e:2113", Namespace: "n-"}) {
		t.Errorf("store = %+v", c.Store)
	}
	if k := c.Kafka; k == nil || strings.Join(k.Brokers, ",") != "k1:9092,k2:9092" || k.Topic != kafka.DefaultTopic || k.Partitions != 3 {
		t.Errorf("kafka = %+v", k)
	}
	if c.Limits.HashQueue != 0 || c.LogLevel != slog.LevelDebug || c.GCPercent != 0 {
		t.Errorf("queue %d, level %v, GC %d", c.Limits.HashQueue, c.LogLevel, c.GCPercent)
	}
}

// badValues has a bad value of every variable LoadConfig checks; the
// others take any text.
var (
	badValues = map[string]string{
		"TICKETING_MAX_CONNS": "0", "TICKETING_ROLES": "write,api", "HOLD_TTL": "soon", "EXPIRY_INTERVAL": "-1s",
		"EVENTSTORE": "mongo", "KAFKA_PARTITIONS": "none", "KAFKA_PROJECTION_TXS": "0", "KAFKA_COMMIT_INTERVAL": "0s", "KAFKA_RELAY_LINGER": "-2ms", "SIGNIN_RATE_PER_ACCOUNT": "lots",
		"SIGNIN_RATE_PER_ADDRESS": "1/x", "ORDER_RATE_PER_BUYER": "-1/1m", "RATE_LIMIT_KEYS": "x",
		"PASSWORD_HASHES": "0", "PASSWORD_HASH_QUEUE": "-1", "PASSWORD_HASH_WAIT": "0s",
		"IDEMPOTENCY_KEY_TTL": "-1h", "LOG_LEVEL": "loud", "GOGC": "lots",
		"TICKETING_TICKET_KEY":     "too short",                               // issue 14: door
		"TICKETING_WEBHOOK_SECRET": "whsec_current_current_current_32b,short", // issue 14: asyncpay
		"WAITLIST_OFFER_WINDOW":    "0s",                                      // issue 14: waitlist
		"TICKETING_CORS_ORIGINS":   "https://shop.example/path",               // issue 16: ops
		// issue 16: webhooks
		"TICKETING_WEBHOOK_ALLOW_PRIVATE": "yes", "TICKETING_WEBHOOK_TIMEOUT": "0s", "TICKETING_WEBHOOK_RETRY_FOR": "a day",
		// issue 17/18: hotreads
		"TICKETING_HOT_SHOWS": "-1", "TICKETING_LIVE_STREAMS": "many", "TICKETING_LIVE_HEARTBEAT": "0s",
	}
	anyValue = []string{"DATABASE_URL", "TICKETING_ADDR", "TICKETING_OPS_ADDR", "JWT_SECRET", "ESDB_URL", "ESDB_NAMESPACE", "KAFKA_BROKERS", "KAFKA_TOPIC"}
)

// KAFKA_COMMIT_INTERVAL reaches the projection consumer.
func TestLoadConfig_CommitInterval(t *testing.T) {
	c, err := LoadConfig(env{"KAFKA_BROKERS": "127.0.0.1:9092", "KAFKA_COMMIT_INTERVAL": "2s"}.get)
	if err != nil || c.Kafka == nil || c.Kafka.CommitInterval != 2*time.Second {
		t.Fatalf("set: %+v, %v", c.Kafka, err)
	}
	if got := projectionConsumer(&engine{kafka: c.Kafka, runner: &projections.Runner{}}).CommitInterval; got != 2*time.Second {
		t.Errorf("the consumer's interval %v, want 2s", got)
	}
}

// KAFKA_RELAY_LINGER sets the relay's wait after a write; unset it is
// kafka.DefaultRelayLinger, and 0 is no wait.
func TestLoadConfig_RelayLinger(t *testing.T) {
	for v, want := range map[string]time.Duration{"": kafka.DefaultRelayLinger, "5ms": 5 * time.Millisecond, "0": 0, "0s": 0} {
		c, err := LoadConfig(env{"KAFKA_BROKERS": "127.0.0.1:9092", "KAFKA_RELAY_LINGER": v}.get)
		if err != nil || c.Kafka == nil {
			t.Fatalf("%q: %+v, %v", v, c.Kafka, err)
		}
		if got := c.Kafka.RelayWait(); got != want {
			t.Errorf("KAFKA_RELAY_LINGER=%q: the relay waits %v, want %v", v, got, want)
		}
	}
	if got := (kafka.Config{}).RelayWait(); got != kafka.DefaultRelayLinger {
		t.Errorf("a Config without it: %v, want %v", got, kafka.DefaultRelayLinger)
	}
}

func TestLoadConfig_Hot(t *testing.T) {
	c, err := LoadConfig(env{}.get)
	if err != nil || c.Hot != defaultHot() {
		t.Fatalf("unset: %+v, %v; want the defaults %+v", c.Hot, err, defaultHot())
	}
	c, err = LoadConfig(env{"TICKETING_HOT_SHOWS": "0", "TICKETING_LIVE_STREAMS": "5", "TICKETING_LIVE_HEARTBEAT": "2s"}.get)
	if err != nil || c.Hot.Shows != 0 || c.Hot.Streams != 5 || c.Hot.Heartbeat != 2*time.Second {
		t.Fatalf("set: %+v, %v", c.Hot, err)
	}
}

func TestLoadConfig_BadValues(t *testing.T) {
	t.Parallel()
	for _, v := range variables {
		bad, ok := badValues[v.Name]
		if !ok {
			if !slices.Contains(anyValue, v.Name) {
				t.Errorf("%s: neither a bad value to test nor listed as taking any", v.Name)
			}
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			if _, err := LoadConfig(env{v.Name: bad}.get); err == nil || !strings.HasPrefix(err.Error(), v.Name+":") {
				t.Errorf("%s=%s: err = %v, want one naming %s", v.Name, bad, err, v.Name)
			}
		})
	}
	if _, err := LoadConfig(env{"EVENTSTORE": "esdb"}.get); err == nil || !strings.Contains(err.Error(), "ESDB_URL") {
		t.Errorf("EVENTSTORE=esdb without ESDB_URL: err = %v", err)
	}
}

// usage lists every variable with its default, and README's Configuration
// table every variable.
func TestUsage_Variables(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "## Configuration")
	table, _, _ = strings.Cut(table, "\n## ")
	u := usage()
	for _, v := range variables {
		def := v.Shown
		if def == "" {
			def = v.Default
		}
		if !strings.Contains(u, "  "+v.Name+" ") || !strings.Contains(u, "(default "+def+")") {
			t.Errorf("usage lacks %s or its default %q", v.Name, def)
		}
		if !strings.Contains(table, "| `"+v.Name+"`") {
			t.Errorf("README's Configuration table lacks %s", v.Name)
		}
		if v.Usage == "" {
			t.Errorf("%s has no description", v.Name)
		}
	}
}
