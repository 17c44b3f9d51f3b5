package auth_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/auth"
)

// gauge is a PasswordHasher that records how many of its calls run at
// once; each call lasts until release is closed, or d when release is nil.
type gauge struct {
	d        time.Duration
	release  chan struct{}
	inFlight atomic.Int64
	peak     atomic.Int64
	calls    atomic.Int64
}

func (g *gauge) enter() {
	g.calls.Add(1)
	n := g.inFlight.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if g.release != nil {
		<-g.release
	} else {
		time.Sleep(g.d)
	}
	g.inFlight.Add(-1)
}

func (g *gauge) Hash(string) (string, error)         { g.enter(); return "h", nil }
func (g *gauge) Verify(string, string) (bool, error) { g.enter(); return true, nil }

func TestNewBounded(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func() (*auth.Bounded, error){
		"nil hasher":     func() (*auth.Bounded, error) { return auth.NewBounded(nil, 1, 1, time.Second) },
		"zero slots":     func() (*auth.Bounded, error) { return auth.NewBounded(&gauge{}, 0, 1, time.Second) },
		"negative queue": func() (*auth.Bounded, error) { return auth.NewBounded(&gauge{}, 1, -1, time.Second) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
}

func TestBounded_Verify(t *testing.T) {
	t.Parallel()
	t.Run("never more than n at once", func(t *testing.T) {
		t.Parallel()
		g := &gauge{d: 5 * time.Millisecond}
		b, err := auth.NewBounded(g, 3, 1000, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					_, err = b.Verify("pw", "h")
				} else {
					_, err = b.Hash("pw")
				}
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if got := g.peak.Load(); got != 3 {
			t.Errorf("peak hashes in flight = %d, want 3", got)
		}
		if got := g.calls.Load(); got != 64 {
			t.Errorf("calls = %d, want 64", got)
		}
	})
	t.Run("full queue fails at once", func(t *testing.T) {
		t.Parallel()
		g := &gauge{release: make(chan struct{})}
		b, err := auth.NewBounded(g, 1, 2, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 { // one runs, two wait
			wg.Go(func() { _, err := b.Verify("pw", "h"); errs <- err })
		}
		deadline := time.Now().Add(5 * time.Second)
		for g.inFlight.Load() != 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // let the two queue
		start := time.Now()
		_, err = b.Verify("pw", "h")
		if !errors.Is(err, commands.ErrOverloaded) {
			t.Errorf("fourth call: got %v, want ErrOverloaded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusing took %v, want it at once", d)
		}
		close(g.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("queued call: %v", err)
			}
		}
		if got := g.calls.Load(); got != 3 {
			t.Errorf("hashes = %d, want 3: the refused call hashes nothing", got)
		}
	})
	t.Run("wait runs out", func(t *testing.T) {
		t.Parallel()
		g := &gauge{release: make(chan struct{})}
		b, err := auth.NewBounded(g, 1, 10, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _, _ = b.Hash("pw") }()
		for g.inFlight.Load() != 1 {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		if _, err := b.Hash("pw"); !errors.Is(err, commands.ErrOverloaded) {
			t.Errorf("got %v, want ErrOverloaded", err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("gave up after %v, want it to wait about 50ms", d)
		}
		close(g.release)
		<-done
	})
}
