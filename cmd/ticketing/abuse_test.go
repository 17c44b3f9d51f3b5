package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/infra/ratelimit"
)

// withLimits sets the engine's abuse limits.
func withLimits(f func(*limits)) func(*Config) { return func(c *Config) { f(&c.Limits) } }

// slowHasher is a password hasher whose calls take d and that records how
// many run at once: it stands for argon2id, whose 19 MiB a call is what
// must stay bounded.
type slowHasher struct {
	d        time.Duration
	inFlight atomic.Int64
	peak     atomic.Int64
	calls    atomic.Int64
}

func (h *slowHasher) enter() func() {
	h.calls.Add(1)
	n := h.inFlight.Add(1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	time.Sleep(h.d)
	return func() { h.inFlight.Add(-1) }
}

func (h *slowHasher) Hash(pw string) (string, error) { defer h.enter()(); return "slow$" + pw, nil }
func (h *slowHasher) Verify(pw, hash string) (bool, error) {
	defer h.enter()()
	return hash == "slow$"+pw, nil
}

// problemOf checks that r is problem+json of the type and returns it.
func problemOf(t *testing.T, r resp, status int, typ string) resp {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" || r.str("type") != "urn:problem:ticketing:"+typ {
		t.Fatalf("got %d %s %s, want %d problem %s", r.status, r.header.Get("Content-Type"), r.raw, status, typ)
	}
	return r
}

// Sign-ins are throttled per account and per client address: a guesser
// gets 429 with Retry-After, even once it guesses right.
func TestServe_SignInThrottle(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) {
		l.SignInPerAccount = ratelimit.Rate{Burst: 3, Per: time.Hour}
		l.SignInPerAddress = ratelimit.Rate{Burst: 6, Per: time.Hour}
		l.passwords = &slowHasher{}
	}))
	const password = "correct horse battery"
	email := "victim-" + uuid.NewString()[:8] + "@example.com"
	s.must(201, s.call("POST", "/v1/users", "", map[string]any{"email": email, "password": password, "role": "buyer"})) // address: 1
	// address: 2, 3, 4; account: 1, 2, 3
	for range 3 {
		problemOf(t, s.call("POST", "/v1/tokens", "", map[string]any{"email": email, "password": "guess"}), 401, "invalid-credentials")
	}
	// The account's allowance is spent, whatever the spelling of its email
	// and even with the right password (address: 5).
	r := problemOf(t, s.call("POST", "/v1/tokens", "", map[string]any{"email": " " + strings.ToUpper(email), "password": password}), 429, "rate-limited")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want seconds", ra)
	}
	if d := r.str("detail"); !strings.Contains(d, "sign-in attempts for this account") {
		t.Errorf("detail = %q", d)
	}
	// Another account from the same address still may (address: 6)...
	problemOf(t, s.call("POST", "/v1/tokens", "", map[string]any{"email": "nobody@example.com", "password": "guess"}), 401, "invalid-credentials")
	// ...until the address's allowance is spent too, sign-ups included.
	problemOf(t, s.call("POST", "/v1/tokens", "", map[string]any{"email": "other@example.com", "password": "guess"}), 429, "rate-limited")
	problemOf(t, s.call("POST", "/v1/users", "", map[string]any{"email": "new@example.com", "password": password, "role": "buyer"}), 429, "rate-limited")
}

// However many sign-ins and sign-ups come at once, no more than the bound
// of password hashes runs at once; what cannot wait is answered 503 with
// Retry-After, and nothing else fails.
func TestServe_ConcurrentSignInsBounded(t *testing.T) {
	t.Parallel()
	hasher := &slowHasher{d: 50 * time.Millisecond}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) {
		l.Hashes, l.HashQueue, l.HashWait = 2, 4, 100*time.Millisecond
		l.passwords = hasher
	}))
	const n = 48
	statuses := make([]int, n)
	retryAfter := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var r resp
			email := "u" + uuid.NewString()[:8] + "@example.com"
			if i%3 == 0 {
				r = s.call("POST", "/v1/users", "", map[string]any{"email": email, "password": "correct horse battery", "role": "buyer"})
			} else {
				r = s.call("POST", "/v1/tokens", "", map[string]any{"email": email, "password": "correct horse battery"})
			}
			statuses[i], retryAfter[i] = r.status, r.header.Get("Retry-After")
		})
	}
	close(start)
	wg.Wait()
	if got := hasher.peak.Load(); got > 2 {
		t.Fatalf("%d hashes ran at once, want at most 2", got)
	}
	busy := 0
	for i, st := range statuses {
		switch {
		case st == 503:
			busy++
			if retryAfter[i] != "1" {
				t.Errorf("503 with Retry-After %q, want 1", retryAfter[i])
			}
		case i%3 == 0 && st == 201, i%3 != 0 && st == 401:
		default:
			t.Errorf("request %d: status %d", i, st)
		}
	}
	if busy == 0 || busy == n {
		t.Errorf("%d of %d requests were turned away; want some, not all", busy, n)
	}
	// Once the flood is over, sign-ins are served again.
	s.must(201, s.call("POST", "/v1/users", "", map[string]any{"email": "after@example.com", "password": "correct horse battery", "role": "buyer"}))
	s.must(200, s.call("POST", "/v1/tokens", "", map[string]any{"email": "after@example.com", "password": "correct horse battery"}))
}

// A buyer's holds are throttled; the 429 is not stored under its
// Idempotency-Key, and other buyers are not affected.
func TestServe_OrderRateLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) {
		l.OrdersPerBuyer = ratelimit.Rate{Burst: 3, Per: time.Hour}
	}))
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 20)
	body := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}
	for range 3 {
		s.must(201, s.call("POST", "/v1/orders", buyer, body))
	}
	key := uuid.NewString()
	r := problemOf(t, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key), 429, "rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	var stored int
	if err := s.e.pool.QueryRow(context.Background(), `select count(*) from idempotency_keys where key = $1`, key).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("the 429 is stored under its Idempotency-Key")
	}
	s.must(201, s.call("POST", "/v1/orders", s.token("buyer"), body))
}

// A declined payment says why in a machine-readable code, and its detail
// shows no internal error.
func TestServe_PaymentDeclinedCode(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 5)
	order := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})).str("id")
	r := problemOf(t, s.call("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": "tok_chargeDeclinedInsufficientFunds"}), 402, "payment-declined")
	if got := r.str("code"); got != "insufficient_funds" {
		t.Errorf("code = %q, want insufficient_funds", got)
	}
	if d := r.str("detail"); strings.Contains(d, "simpay") || strings.Contains(d, ":") {
		t.Errorf("detail = %q, an internal chain", d)
	}
	// An expired token's 401 tells the client, not the parser's chain.
	r = problemOf(t, s.call("POST", "/v1/orders", "not.a.token", map[string]any{}), 401, "unauthenticated")
	if d := r.str("detail"); strings.Contains(d, "authenticate") || strings.Contains(d, "token is malformed") {
		t.Errorf("detail = %q, an internal chain", d)
	}
}

func TestLoadConfig_Limits(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		l, err := limitsOf(env{})
		if err != nil {
			t.Fatal(err)
		}
		if l.SignInPerAccount.String() != "10/10m0s" || l.SignInPerAddress.String() != "60/1m0s" || l.OrdersPerBuyer.String() != "20/1m0s" ||
			l.IdempotencyTTL != 24*time.Hour || l.Hashes < 1 || l.RateLimitKeys != ratelimit.DefaultKeys {
			t.Errorf("defaults = %+v", l)
		}
	})
	t.Run("from the environment", func(t *testing.T) {
		l, err := limitsOf(env{"SIGNIN_RATE_PER_ACCOUNT": "5/1h", "ORDER_RATE_PER_BUYER": "off", "PASSWORD_HASHES": "3", "IDEMPOTENCY_KEY_TTL": "2h"})
		if err != nil {
			t.Fatal(err)
		}
		if l.SignInPerAccount != (ratelimit.Rate{Burst: 5, Per: time.Hour}) || !l.OrdersPerBuyer.Off() || l.Hashes != 3 || l.IdempotencyTTL != 2*time.Hour {
			t.Errorf("limits = %+v", l)
		}
	})
	for name, v := range map[string]string{"SIGNIN_RATE_PER_ADDRESS": "lots", "PASSWORD_HASHES": "0", "IDEMPOTENCY_KEY_TTL": "-1h", "RATE_LIMIT_KEYS": "x"} {
		t.Run("bad "+name, func(t *testing.T) {
			if _, err := limitsOf(env{name: v}); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("err = %v, want one naming %s", err, name)
			}
		})
	}
}

// limitsOf returns the limits of the configuration in e.
func limitsOf(e env) (limits, error) {
	c, err := LoadConfig(e.get)
	return c.Limits, err
}
