// Package ratelimit throttles requests by key: a token bucket per key
// (golang.org/x/time/rate), the buckets kept in a bounded LRU
// (hashicorp/golang-lru/v2), so that a flood of distinct keys cannot grow
// the memory it takes.
package ratelimit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/ticketing/ticketing/writeapi"
)

// DefaultKeys bounds the buckets a Keyed limiter keeps.
const DefaultKeys = 100_000

// Rate is an allowance: Burst requests at once, refilled at Burst requests
// per Per. The zero Rate allows everything.
type Rate struct {
	Burst int
	Per   time.Duration
}

// Off reports whether r allows everything.
func (r Rate) Off() bool { return r.Burst == 0 }

// String returns r as ParseRate reads it.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.Burst) + "/" + r.Per.String()
}

// ParseRate reads "N/DURATION" (N requests at once, refilled at N per
// DURATION: "10/10m" is a burst of 10 and one more each minute), or "off".
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "off" {
		return Rate{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	burst, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || burst <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/DURATION with N > 0, like 10/1m, or off", s)
	}
	per, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/DURATION with a positive duration, like 10/1m, or off", s)
	}
	return Rate{Burst: burst, Per: per}, nil
}

var _ writeapi.Limiter = (*Keyed)(nil)

// Keyed is a token bucket of one Rate per key. It keeps at most its
// capacity of buckets, dropping the least recently used: a dropped bucket
// is full again when its key comes back, which an idle key's bucket would
// be anyway. Keys are stored as their SHA-256, so a long key costs no more
// than a short one. It is safe for concurrent use.
type Keyed struct {
	limit   rate.Limit
	burst   int
	now     func() time.Time
	buckets *lru.Cache[[sha256.Size]byte, *rate.Limiter]
}

// New returns a Keyed limiter of r keeping at most keys buckets (0 means
// DefaultKeys). now is the clock; nil means time.Now.
func New(r Rate, keys int, now func() time.Time) (*Keyed, error) {
	if r.Off() || r.Per <= 0 {
		return nil, errors.New("ratelimit: a limiter needs a positive rate")
	}
	if keys == 0 {
		keys = DefaultKeys
	}
	if now == nil {
		now = time.Now
	}
	buckets, err := lru.New[[sha256.Size]byte, *rate.Limiter](keys)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return &Keyed{
		limit:   rate.Limit(float64(r.Burst) / r.Per.Seconds()),
		burst:   r.Burst,
		now:     now,
		buckets: buckets,
	}, nil
}

// Allow takes one request from key's bucket. When the bucket is empty it
// takes nothing and returns false and how long until it holds one again.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	h := sha256.Sum256([]byte(key))
	b, ok := k.buckets.Get(h)
	if !ok {
		fresh := rate.NewLimiter(k.limit, k.burst)
		if prev, found, _ := k.buckets.PeekOrAdd(h, fresh); found {
			b = prev
		} else {
			b = fresh
		}
	}
	now := k.now()
	res := b.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Duration(float64(time.Second) / float64(k.limit))
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len returns how many buckets are kept.
func (k *Keyed) Len() int { return k.buckets.Len() }
