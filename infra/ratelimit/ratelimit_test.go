package ratelimit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/ratelimit"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newKeyed(t *testing.T, r ratelimit.Rate, keys int) (*ratelimit.Keyed, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	k, err := ratelimit.New(r, keys, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ratelimit.Rate{
		"10/1m":   {Burst: 10, Per: time.Minute},
		" 5 / 2s": {Burst: 5, Per: 2 * time.Second},
		"off":     {},
	} {
		got, err := ratelimit.ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "10/", "/1m", "0/1m", "-1/1m", "10/0s", "10/-1m", "ten/1m", "10/minute"} {
		if got, err := ratelimit.ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %+v, want an error", in, got)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := ratelimit.New(ratelimit.Rate{}, 10, nil); err == nil {
		t.Error("New with the zero rate: got nil error, want one")
	}
}

func TestKeyed_Allow(t *testing.T) {
	t.Parallel()
	t.Run("burst then retry after the refill", func(t *testing.T) {
		t.Parallel()
		k, c := newKeyed(t, ratelimit.Rate{Burst: 3, Per: 30 * time.Second}, 10) // one more each 10 s
		for i := range 3 {
			if ok, _ := k.Allow("alice"); !ok {
				t.Fatalf("request %d of the burst refused", i+1)
			}
		}
		ok, retry := k.Allow("alice")
		if ok {
			t.Fatal("request 4 allowed, want refused")
		}
		if retry <= 9*time.Second || retry > 10*time.Second {
			t.Errorf("retry after %v, want about 10s", retry)
		}
		// A refused request takes nothing: waiting retry gives exactly one.
		for range 5 {
			if ok, _ := k.Allow("alice"); ok {
				t.Fatal("allowed while empty")
			}
		}
		c.Advance(retry)
		if ok, _ := k.Allow("alice"); !ok {
			t.Fatal("refused after waiting Retry-After")
		}
		if ok, _ := k.Allow("alice"); ok {
			t.Fatal("two allowed after one refill")
		}
	})
	t.Run("keys are separate", func(t *testing.T) {
		t.Parallel()
		k, _ := newKeyed(t, ratelimit.Rate{Burst: 1, Per: time.Hour}, 10)
		if ok, _ := k.Allow("alice"); !ok {
			t.Fatal("alice refused")
		}
		if ok, _ := k.Allow("alice"); ok {
			t.Fatal("alice allowed twice")
		}
		if ok, _ := k.Allow("bob"); !ok {
			t.Fatal("bob refused because of alice")
		}
	})
	t.Run("concurrent requests get exactly the burst", func(t *testing.T) {
		t.Parallel()
		k, _ := newKeyed(t, ratelimit.Rate{Burst: 50, Per: time.Hour}, 10)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
		)
		for range 200 {
			wg.Go(func() {
				if ok, _ := k.Allow("hot"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if allowed != 50 {
			t.Errorf("%d allowed, want 50", allowed)
		}
	})
}

// A flood of distinct keys, long ones too, keeps at most the capacity of
// buckets.
func TestKeyed_Allow_boundedKeys(t *testing.T) {
	t.Parallel()
	const capacity = 1000
	k, _ := newKeyed(t, ratelimit.Rate{Burst: 1, Per: time.Hour}, capacity)
	long := strings.Repeat("x", 10_000)
	for i := range 50_000 {
		if ok, _ := k.Allow(fmt.Sprintf("%d-%s", i, long[:i%len(long)])); !ok {
			t.Fatalf("fresh key %d refused", i)
		}
	}
	if got := k.Len(); got > capacity {
		t.Errorf("%d buckets kept, want at most %d", got, capacity)
	}
}
