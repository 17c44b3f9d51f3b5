package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// Steady load of the visibility benchmark.
const (
	benchRate     = 1000 // events per second
	benchDuration = 4 * time.Second
	benchWarmup   = 500 * time.Millisecond
	benchPoll     = time.Millisecond
)

// BenchmarkVisibility measures append → visible in the read model, p50 and
// p99, at a steady 1,000 events/s: through the in-process feed and through
// the real Kafka broker (KAFKA_BROKERS), each beside a baseline measured in the
// same run the same way: a plain INSERT and COMMIT into a table, seen by the
// same poller. Run it with `make bench-latency`; -benchtime is ignored (each
// sub-benchmark runs once, for benchDuration).
func BenchmarkVisibility(b *testing.B) {
	var base latencies
	b.Run("baseline", func(b *testing.B) { base = benchLatency(b, "baseline", baselineSetup(b)) })
	for _, mode := range []string{"in-process", "kafka"} {
		b.Run(mode, func(b *testing.B) {
			got := benchLatency(b, mode, func(ctx context.Context, pool *pgxpool.Pool) (appendFn, seenFn) {
				var opts []func(*Config)
				if mode == "kafka" {
					opts = append(opts, withKafka(b, 12))
				}
				e := benchEngine(b, pool, opts...)
				return func(ctx context.Context) (int64, error) {
						id := uuid.New()
						data, err := domain.Encode([]domain.Event{domain.ShowCreated{
							ShowID: id, OrganizerID: id, Title: "bench", Venue: "bench", StartsAt: time.Now(),
							Sections: []domain.SectionSpec{{Name: "ga", PriceCents: 100, Capacity: 10}}, CreatedAt: time.Now(),
						}}, uuid.New, domain.Metadata{})
						if err != nil {
							return 0, err
						}
						res, err := e.store.Append(ctx, domain.ShowStream(id), domain.NoStream, data)
						return int64(res.Position.Commit), err
					}, func(ctx context.Context, from int64) ([]int64, error) {
						return seqs(ctx, pool, `select seq from rm_shows where seq >= $1`, from)
					}
			})
			b.ReportMetric(got.p50/base.p50, "p50-x-baseline")
			b.ReportMetric(got.p99/base.p99, "p99-x-baseline")
		})
	}
}

type appendFn func(ctx context.Context) (seq int64, err error)
type seenFn func(ctx context.Context, from int64) ([]int64, error)

type latencies struct{ p50, p99, max float64 }

// benchLatency drives append at benchRate for benchDuration on a fresh
// schema, polls seen every benchPoll, and reports the append → seen latency.
func benchLatency(b *testing.B, name string, setup func(context.Context, *pgxpool.Pool) (appendFn, seenFn)) latencies {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := newPool(ctx, pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	appendOne, seen := setup(ctx, pool)

	var mu sync.Mutex
	started := map[int64]time.Time{} // appended, not yet seen
	seenAt := map[int64]time.Time{}  // seen before its appender recorded it
	var lat, appendLat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the poller
		from := int64(1)
		done := map[int64]bool{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(benchPoll):
			}
			got, err := seen(ctx, from)
			if err != nil {
				return
			}
			now := time.Now()
			mu.Lock()
			for _, s := range got {
				if done[s] {
					continue
				}
				done[s] = true
				if t, ok := started[s]; ok {
					lat = append(lat, now.Sub(t))
					delete(started, s)
				} else {
					seenAt[s] = now
				}
			}
			mu.Unlock()
			for done[from] {
				delete(done, from)
				from++
			}
		}
	})
	work := make(chan time.Time, benchRate)
	for range 8 {
		wg.Go(func() {
			for at := range work {
				start := time.Now()
				s, err := appendOne(ctx)
				if err != nil {
					b.Error(err)
					continue
				}
				mu.Lock()
				if !at.After(start) {
					appendLat = append(appendLat, time.Since(start))
				}
				switch seen, ok := seenAt[s]; {
				case at.After(start): // warm-up: not measured
					delete(seenAt, s)
				case ok:
					lat = append(lat, seen.Sub(start))
					delete(seenAt, s)
				default:
					started[s] = start
				}
				mu.Unlock()
			}
		})
	}
	interval := time.Second / benchRate
	t0 := time.Now()
	measureFrom := t0.Add(benchWarmup)
	tick := time.NewTicker(interval)
	sent := 0
	for now := range tick.C {
		if now.Sub(t0) > benchWarmup+benchDuration {
			break
		}
		marker := now
		if now.Before(measureFrom) {
			marker = now.Add(time.Hour) // warm-up: not measured
		}
		work <- marker
		sent++
	}
	tick.Stop()
	close(work)
	time.Sleep(time.Second) // let the last events become visible
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatalf("%s: nothing became visible", name)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	l := latencies{p50: ms(lat[len(lat)/2]), p99: ms(lat[len(lat)*99/100]), max: ms(lat[len(lat)-1])}
	rate := float64(sent) / (benchWarmup + benchDuration).Seconds()
	slices.Sort(appendLat)
	b.Logf("%-10s  %5d events at %4.0f/s  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  not seen %d  (append alone: p50 %.2f ms, p99 %.2f ms)",
		name, len(lat), rate, l.p50, l.p99, l.max, len(started), ms(appendLat[len(appendLat)/2]), ms(appendLat[len(appendLat)*99/100]))
	b.ReportMetric(l.p50, "p50-ms")
	b.ReportMetric(l.p99, "p99-ms")
	b.ReportMetric(l.max, "max-ms")
	return l
}

func seqs(ctx context.Context, pool *pgxpool.Pool, sql string, from int64) ([]int64, error) {
	rows, err := pool.Query(ctx, sql, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// benchEngine runs the projectors (and the relay, with Kafka) on pool.
func benchEngine(b *testing.B, pool *pgxpool.Pool, options ...func(*Config)) *engine {
	b.Helper()
	c, err := LoadConfig(testEnv(pool.Config().ConnString(), time.Minute).get)
	if err != nil {
		b.Fatal(err)
	}
	c.ExpiryInterval = time.Second
	for _, o := range options {
		o(&c)
	}
	m := NewMain("project", c, roles{Relay: true, Projectors: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m.engine
}

// baselineSetup appends by a plain INSERT and COMMIT into a table of its own
// and sees it with the same poller: the floor of write → visible here.
func baselineSetup(b *testing.B) func(context.Context, *pgxpool.Pool) (appendFn, seenFn) {
	return func(ctx context.Context, pool *pgxpool.Pool) (appendFn, seenFn) {
		if _, err := pool.Exec(ctx, `create table bench_rows (seq bigint primary key)`); err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		next := int64(0)
		return func(ctx context.Context) (int64, error) {
				mu.Lock()
				next++
				n := next
				mu.Unlock()
				_, err := pool.Exec(ctx, `insert into bench_rows values ($1)`, n)
				return n, err
			}, func(ctx context.Context, from int64) ([]int64, error) {
				return seqs(ctx, pool, `select seq from bench_rows where seq >= $1`, from)
			}
	}
}
