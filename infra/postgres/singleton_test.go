package postgres_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// candidate is one process's Singleton and its role, which records when it
// runs.
type candidate struct {
	s       *postgres.Singleton
	running atomic.Bool
	started chan time.Time
	stop    context.CancelFunc
	done    chan struct{}
}

func startCandidate(t *testing.T, pool *pgxpool.Pool, name string, role func(ctx context.Context), setup ...func(*postgres.Singleton)) *candidate {
	t.Helper()
	c := &candidate{
		s:       &postgres.Singleton{Pool: pool, Name: name, Timeout: time.Second, Poll: 50 * time.Millisecond},
		started: make(chan time.Time, 10),
		done:    make(chan struct{}),
	}
	for _, f := range setup {
		f(c.s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go func() {
		defer close(c.done)
		_ = c.s.Run(ctx, func(ctx context.Context) error {
			c.running.Store(true)
			defer c.running.Store(false)
			c.started <- time.Now()
			if role != nil {
				role(ctx)
			}
			<-ctx.Done()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func waitStarted(t *testing.T, c *candidate, within time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-c.started:
		return at
	case <-time.After(within):
		t.Fatalf("the standby did not take over within %s", within)
		return time.Time{}
	}
}

// leader returns the only leader row of pool's schema.
func leader(t *testing.T, pool *pgxpool.Pool) postgres.Leader {
	t.Helper()
	ls, err := postgres.Leaders(context.Background(), pool)
	if err != nil || len(ls) != 1 {
		t.Fatalf("Leaders = %+v, %v; want one", ls, err)
	}
	return ls[0]
}

// One candidate runs the role, the other stands by and takes over when the
// first stops; Leaders says who is active.
func TestSingleton_Run(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	a := startCandidate(t, pool, "expirer", nil)
	waitStarted(t, a, 5*time.Second)
	b := startCandidate(t, pool, "expirer", nil)
	time.Sleep(300 * time.Millisecond)
	if b.running.Load() || !a.s.Held() || b.s.Held() {
		t.Fatalf("two holders: a %v/%v, b %v/%v", a.running.Load(), a.s.Held(), b.running.Load(), b.s.Held())
	}
	if l := leader(t, pool); !l.Active || l.PID != os.Getpid() || l.Name != "expirer" || time.Since(l.Since) > time.Minute {
		t.Fatalf("leader = %+v", l)
	}
	stopped := time.Now()
	a.stop()
	<-a.done
	at := waitStarted(t, b, 2*time.Second)
	t.Logf("failover after a clean stop: %s", at.Sub(stopped).Round(time.Millisecond))
	if !leader(t, pool).Active {
		t.Fatal("the new leader is not active")
	}
	b.stop()
	<-b.done
	// The server ends the closed session a moment later.
	for deadline := time.Now().Add(2 * time.Second); leader(t, pool).Active; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nobody runs, yet the leader is active: %+v", leader(t, pool))
		}
	}
}

// A holder whose connection is lost (the server ended its session) stops
// its role; the standby takes over.
func TestSingleton_ConnectionLost(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	roleEnded := make(chan struct{})
	a := startCandidate(t, pool, "relay:events", func(ctx context.Context) { <-ctx.Done(); close(roleEnded) })
	waitStarted(t, a, 5*time.Second)
	b := startCandidate(t, pool, "relay:events", nil)
	var killed int
	if err := pool.QueryRow(context.Background(), `select count(pg_terminate_backend(backend_pid)) from singleton_leaders`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate: %d, %v", killed, err)
	}
	lost := time.Now()
	select {
	case <-roleEnded:
	case <-time.After(2 * time.Second):
		t.Fatal("the holder's role went on after its connection was lost")
	}
	at := waitStarted(t, b, 3*time.Second)
	t.Logf("failover after a lost connection: %s", at.Sub(lost).Round(time.Millisecond))
	if a.s.Held() {
		t.Fatal("the old holder still says it holds the lock")
	}
}

// A holder that hangs stops being Held before the server frees its lock
// for the standby: the standby starts only once the old holder is fenced.
func TestSingleton_HungHolder(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	hang := make(chan struct{})
	var once sync.Once
	a := startCandidate(t, pool, "expirer", nil, func(s *postgres.Singleton) { s.SetBeforeHeartbeat(func() { <-hang }) })
	defer once.Do(func() { close(hang) })
	waitStarted(t, a, 5*time.Second)
	hungAt := time.Now()
	b := startCandidate(t, pool, "expirer", nil)
	at := waitStarted(t, b, 5*time.Second)
	t.Logf("failover after a hung holder: %s (timeout 1s)", at.Sub(hungAt).Round(time.Millisecond))
	if a.s.Held() {
		t.Fatal("the hung holder still says it holds the lock while the standby runs")
	}
	once.Do(func() { close(hang) })
	deadline := time.Now().Add(2 * time.Second)
	for a.running.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the hung holder's role went on after it woke up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Singletons of other names, or of other schemas, do not wait for each
// other.
func TestSingleton_Independent(t *testing.T) {
	t.Parallel()
	pool, other := pgtest.NewPool(t), pgtest.NewPool(t)
	for _, c := range []*candidate{
		startCandidate(t, pool, "expirer", nil),
		startCandidate(t, pool, "relay:events", nil),
		startCandidate(t, other, "expirer", nil),
	} {
		waitStarted(t, c, 5*time.Second)
	}
}

// A role that fails gives the lock up, and does not take it back at once:
// a healthy standby gets it.
func TestSingleton_RoleFails(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	var tries atomic.Int32
	broken := &postgres.Singleton{Pool: pool, Name: "relay:events", Timeout: time.Second, Poll: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = broken.Run(ctx, func(context.Context) error { tries.Add(1); return errors.New("misconfigured") })
	}()
	t.Cleanup(func() { cancel(); <-done })
	for tries.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	healthy := startCandidate(t, pool, "relay:events", nil)
	waitStarted(t, healthy, 3*time.Second)
	if n := tries.Load(); n > 3 {
		t.Errorf("the failing role was retried %d times in a few seconds", n)
	}
}
