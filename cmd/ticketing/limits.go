package main

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/ratelimit"
	"github.com/ticketing/ticketing/writeapi"
)

// Defaults of the abuse limits, as the environment overrides them.
const (
	defaultSignInPerAccount = "10/10m" // 10 at once, then one a minute
	defaultSignInPerAddress = "60/1m"  // sign-ins and sign-ups: 60 at once, then one a second
	defaultOrdersPerBuyer   = "20/1m"  // holds: 20 at once, then one each 3 s
	defaultHashQueue        = 64
	defaultHashWait         = time.Second
	defaultIdempotencyTTL   = 24 * time.Hour
)

// limits are the engine's defences against abusive clients. Their zero
// value throttles no rate, bounds password hashes to the number of CPUs
// and keeps idempotency keys for defaultIdempotencyTTL.
type limits struct {
	SignInPerAccount ratelimit.Rate // SIGNIN_RATE_PER_ACCOUNT
	SignInPerAddress ratelimit.Rate // SIGNIN_RATE_PER_ADDRESS
	OrdersPerBuyer   ratelimit.Rate // ORDER_RATE_PER_BUYER
	// RateLimitKeys bounds the keys each rate limiter remembers
	// (RATE_LIMIT_KEYS).
	RateLimitKeys int
	// Hashes bounds the password hashes in flight (PASSWORD_HASHES; 0: the
	// number of CPUs); HashQueue calls wait for a slot (PASSWORD_HASH_QUEUE),
	// each for at most HashWait (PASSWORD_HASH_WAIT).
	Hashes    int
	HashQueue int
	HashWait  time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (IDEMPOTENCY_KEY_TTL).
	IdempotencyTTL time.Duration
	// passwords replaces argon2id under the bound, for tests.
	passwords commands.PasswordHasher
}

// passwordHasher is argon2id (or the test's hasher) under the bound.
func (l limits) passwordHasher() (commands.PasswordHasher, error) {
	next := l.passwords
	if next == nil {
		next = auth.NewPasswords()
	}
	n := l.Hashes
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	queue, wait := l.HashQueue, l.HashWait
	if queue == 0 && wait == 0 {
		queue, wait = defaultHashQueue, defaultHashWait
	}
	return auth.NewBounded(next, n, queue, wait)
}

// writeLimits are the write API's rate limiters; an off rate has none.
func (l limits) writeLimits() (writeapi.Limits, error) {
	var out writeapi.Limits
	for _, r := range []struct {
		rate ratelimit.Rate
		into *writeapi.Limiter
	}{
		{l.SignInPerAccount, &out.SignInPerAccount},
		{l.SignInPerAddress, &out.SignInPerAddress},
		{l.OrdersPerBuyer, &out.OrdersPerBuyer},
	} {
		if r.rate.Off() {
			continue
		}
		k, err := ratelimit.New(r.rate, l.RateLimitKeys, time.Now)
		if err != nil {
			return out, err
		}
		*r.into = k
	}
	return out, nil
}

// idempotencyPurgeEvery is how often a process with the write role deletes
// the expired idempotency keys. Begin ignores an expired key already, so
// the purge only bounds the table.
const idempotencyPurgeEvery = 10 * time.Minute

// purgeIdempotencyKeys deletes expired idempotency keys every interval,
// and once at the start, until ctx ends.
func purgeIdempotencyKeys(ctx context.Context, idem *postgres.Idempotency, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := idem.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Warn("idempotency purge failed", "err", err)
		} else if n > 0 {
			log.Info("purged expired idempotency keys", "keys", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
