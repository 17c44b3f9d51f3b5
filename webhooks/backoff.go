package webhooks

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces the attempts of a failing delivery: First after the first
// failure, doubling up to Max, each drawn at random from its upper half
// ("equal jitter"), so that receivers coming back are not hit by every
// sender at once. Horizon is how long after its first attempt a delivery
// is retried before it fails and its endpoint is disabled.
type Backoff struct {
	First, Max, Horizon time.Duration
}

// DefaultBackoff retries for a day: 10 s, 20 s, 40 s, ... up to an hour
// apart, about 30 attempts.
var DefaultBackoff = Backoff{First: 10 * time.Second, Max: time.Hour, Horizon: 24 * time.Hour}

// Delay is the wait after failed attempt n (1 for the first).
func (b Backoff) Delay(n int) time.Duration {
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
