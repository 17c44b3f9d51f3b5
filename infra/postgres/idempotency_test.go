package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/idempotency"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

const (
	stale = time.Minute
	ttl   = 24 * time.Hour // keys expire
)

// age moves the claim on key back in time by d, as if its request had
// started d ago.
func age(t *testing.T, pool *pgxpool.Pool, scope, key string, d time.Duration) {
	t.Helper()
	tag, err := pool.Exec(context.Background(),
		`update idempotency_keys set created_at = created_at - $3::bigint * interval '1 microsecond'
		 where scope = $1 and key = $2`, scope, key, d.Microseconds())
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("age %s/%s: no such row", scope, key)
	}
}

func mustBegin(t *testing.T, s *postgres.Idempotency, scope, key, fp string) {
	t.Helper()
	resp, err := s.Begin(context.Background(), scope, key, fp, stale)
	if err != nil || resp != nil {
		t.Fatalf("Begin(%s, %s) = (%+v, %v), want a new claim", scope, key, resp, err)
	}
}

func TestIdempotency_Begin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.NewIdempotency(pool, ttl)

	t.Run("new key is claimed", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "new", "fp")
	})
	t.Run("claimed key is in progress", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "running", "fp")
		resp, err := s.Begin(ctx, "u1", "running", "fp", stale)
		if !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyInProgress", resp, err)
		}
	})
	t.Run("other fingerprint is a mismatch while running", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "mismatch-running", "fp")
		resp, err := s.Begin(ctx, "u1", "mismatch-running", "other", stale)
		if !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyMismatch", resp, err)
		}
	})
	t.Run("other fingerprint is a mismatch when completed", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "mismatch-done", "fp")
		if err := s.Complete(ctx, "u1", "mismatch-done", idempotency.StoredResponse{Status: 201}); err != nil {
			t.Fatal(err)
		}
		resp, err := s.Begin(ctx, "u1", "mismatch-done", "other", stale)
		if !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyMismatch", resp, err)
		}
	})
	t.Run("other fingerprint is a mismatch when stale", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "mismatch-stale", "fp")
		age(t, pool, "u1", "mismatch-stale", time.Hour)
		resp, err := s.Begin(ctx, "u1", "mismatch-stale", "other", stale)
		if !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyMismatch", resp, err)
		}
	})
	t.Run("completed key replays its response", func(t *testing.T) {
		t.Parallel()
		want := idempotency.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"o1"}` + "\x00\xff")}
		mustBegin(t, s, "u1", "done", "fp")
		if err := s.Complete(ctx, "u1", "done", want); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := s.Begin(ctx, "u1", "done", "fp", stale)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.Status != want.Status || got.ContentType != want.ContentType || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}
	})
	t.Run("completed key is never stale", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "done-old", "fp")
		if err := s.Complete(ctx, "u1", "done-old", idempotency.StoredResponse{Status: 204}); err != nil {
			t.Fatal(err)
		}
		age(t, pool, "u1", "done-old", time.Hour)
		got, err := s.Begin(ctx, "u1", "done-old", "fp", stale)
		if err != nil || got == nil || got.Status != 204 || len(got.Body) != 0 {
			t.Errorf("got (%+v, %v), want the stored 204", got, err)
		}
	})
	t.Run("stale claim is taken over once", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "stale", "fp")
		age(t, pool, "u1", "stale", 2*stale)
		mustBegin(t, s, "u1", "stale", "fp")
		// The takeover is a fresh claim.
		resp, err := s.Begin(ctx, "u1", "stale", "fp", stale)
		if !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyInProgress", resp, err)
		}
	})
	t.Run("claim younger than staleAfter is kept", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "young", "fp")
		age(t, pool, "u1", "young", stale/2)
		resp, err := s.Begin(ctx, "u1", "young", "fp", stale)
		if !errors.Is(err, idempotency.ErrInProgress) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyInProgress", resp, err)
		}
	})
	t.Run("released key is claimed again", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "released", "fp")
		if err := s.Release(ctx, "u1", "released"); err != nil {
			t.Fatal(err)
		}
		// Even with another fingerprint: nothing ran under the key.
		mustBegin(t, s, "u1", "released", "other")
	})
	t.Run("expired key is new again", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "expired", "fp")
		if err := s.Complete(ctx, "u1", "expired", idempotency.StoredResponse{Status: 201, Body: []byte("old")}); err != nil {
			t.Fatal(err)
		}
		age(t, pool, "u1", "expired", ttl+time.Minute)
		// Even another request may use it: the key is forgotten.
		mustBegin(t, s, "u1", "expired", "other")
		if err := s.Complete(ctx, "u1", "expired", idempotency.StoredResponse{Status: 200, Body: []byte("new")}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Begin(ctx, "u1", "expired", "other", stale)
		if err != nil || got == nil || got.Status != 200 || string(got.Body) != "new" {
			t.Errorf("got (%+v, %v), want the new response", got, err)
		}
	})
	t.Run("key younger than the ttl is kept", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "day-old", "fp")
		if err := s.Complete(ctx, "u1", "day-old", idempotency.StoredResponse{Status: 201}); err != nil {
			t.Fatal(err)
		}
		age(t, pool, "u1", "day-old", ttl-time.Minute)
		if got, err := s.Begin(ctx, "u1", "day-old", "other", stale); !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("got (%+v, %v), want ErrIdempotencyMismatch", got, err)
		}
	})
	t.Run("scopes are separate", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "alice", "shared", "fp-a")
		mustBegin(t, s, "bob", "shared", "fp-b")
	})
}

func TestIdempotency_Begin_concurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.NewIdempotency(pool, ttl)
	const n = 10

	// race runs Begin on key from n goroutines at once and counts the
	// claims; every other call must be in progress.
	race := func(t *testing.T, key string) {
		t.Helper()
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
			resps = make([]*idempotency.StoredResponse, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				resps[i], errs[i] = s.Begin(ctx, "u1", key, "fp", stale)
			})
		}
		close(start)
		wg.Wait()
		claims := 0
		for i, err := range errs {
			switch {
			case err == nil && resps[i] == nil:
				claims++
			case !errors.Is(err, idempotency.ErrInProgress):
				t.Errorf("got (%+v, %v), want a claim or ErrIdempotencyInProgress", resps[i], err)
			}
		}
		if claims != 1 {
			t.Errorf("%d claims, want exactly 1", claims)
		}
	}

	t.Run("new key", func(t *testing.T) {
		t.Parallel()
		race(t, "fresh")
	})
	t.Run("stale key", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "dead", "fp")
		age(t, pool, "u1", "dead", 2*stale)
		race(t, "dead")
	})
}

func TestIdempotency_Complete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewIdempotency(pgtest.NewPool(t), ttl)
	resp := idempotency.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{}`)}

	t.Run("unclaimed key", func(t *testing.T) {
		t.Parallel()
		if err := s.Complete(ctx, "u1", "never", resp); !errors.Is(err, postgres.ErrNoClaim) {
			t.Errorf("got %v, want ErrNoClaim", err)
		}
	})
	t.Run("completed key keeps its first response", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "twice", "fp")
		if err := s.Complete(ctx, "u1", "twice", resp); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, "u1", "twice", idempotency.StoredResponse{Status: 500}); !errors.Is(err, postgres.ErrNoClaim) {
			t.Errorf("second Complete: got %v, want ErrNoClaim", err)
		}
		got, err := s.Begin(ctx, "u1", "twice", "fp", stale)
		if err != nil || got == nil || got.Status != 201 {
			t.Errorf("got (%+v, %v), want the first response", got, err)
		}
	})
	t.Run("released key", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "released", "fp")
		if err := s.Release(ctx, "u1", "released"); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, "u1", "released", resp); !errors.Is(err, postgres.ErrNoClaim) {
			t.Errorf("got %v, want ErrNoClaim", err)
		}
	})
	t.Run("other scope", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "scoped", "fp")
		if err := s.Complete(ctx, "u2", "scoped", resp); !errors.Is(err, postgres.ErrNoClaim) {
			t.Errorf("got %v, want ErrNoClaim", err)
		}
	})
}

func TestIdempotency_Release(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.NewIdempotency(pgtest.NewPool(t), ttl)

	t.Run("keeps completed responses", func(t *testing.T) {
		t.Parallel()
		mustBegin(t, s, "u1", "done", "fp")
		if err := s.Complete(ctx, "u1", "done", idempotency.StoredResponse{Status: 201}); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "u1", "done"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Begin(ctx, "u1", "done", "fp", stale)
		if err != nil || got == nil || got.Status != 201 {
			t.Errorf("got (%+v, %v), want the stored response", got, err)
		}
	})
	t.Run("unknown key is a no-op", func(t *testing.T) {
		t.Parallel()
		if err := s.Release(ctx, "u1", "never"); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}

func TestIdempotency_Purge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.NewIdempotency(pool, ttl)
	for _, key := range []string{"old-done", "old-claim", "young"} {
		mustBegin(t, s, "u1", key, "fp")
	}
	if err := s.Complete(ctx, "u1", "old-done", idempotency.StoredResponse{Status: 201}); err != nil {
		t.Fatal(err)
	}
	age(t, pool, "u1", "old-done", ttl+time.Second)
	age(t, pool, "u1", "old-claim", 2*ttl)
	age(t, pool, "u1", "young", ttl-time.Minute)
	n, err := s.Purge(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2", n, err)
	}
	var left []string
	rows, err := pool.Query(ctx, `select key from idempotency_keys order by key`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		left = append(left, k)
	}
	if rows.Err() != nil || len(left) != 1 || left[0] != "young" {
		t.Errorf("left %v (%v), want [young]", left, rows.Err())
	}
}
