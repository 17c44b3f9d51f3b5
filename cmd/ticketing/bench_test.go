package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// Steady load of the visibility benchmark.
const (
	defaultBenchRate = 1000 // events per second; BENCH_RATE overrides it
	// defaultBenchDuration is the measured load of each row
	// (BENCH_DURATION overrides it): 20,000 events at 1,000/s. It was 4 s
	// until session 34, and a p99 of 4,000 events moved by 5-10 ms with
	// one stall of the shared machine in the window or none.
	defaultBenchDuration = 20 * time.Second
	// defaultBenchWarmup is the load before the measured seconds
	// (BENCH_WARMUP overrides it). The same for every row; it is long
	// enough for the broker's JVM to compile its hot paths, so that the
	// Kafka row measures a warm broker, as production has, instead of the
	// first traffic a broker serves (docs/kafka-latency.md, 2026-12-01).
	defaultBenchWarmup = 3 * time.Second
	benchPoll          = time.Millisecond
	// benchAppenders append at once: enough that appends taking 30 ms on a
	// loaded machine still keep up with benchRate.
	benchAppenders = 32
	// benchSettle bounds the wait for the last events after the load.
	benchSettle = 20 * time.Second
)

// BenchmarkVisibility measures append → visible in the read model, p50 and
// p99, at a steady 1,000 events/s: through the in-process feed and through
// the real Kafka broker (KAFKA_BROKERS), each beside a baseline measured in the
// same run the same way: a plain INSERT and COMMIT into a table, seen by the
// same poller. Run it with `make bench-latency`; -benchtime is ignored (each
// sub-benchmark runs once, for benchDuration). The process runs Go's
// collector as main does (tuneGCAsMain), every row alike: until session
// 34 this bench ran it at Go's default, GOGC=100, where `ticketing serve`
// runs it at gcPercent, and its cycles, every half second, held up the
// events in flight (docs/kafka-latency.md).
func BenchmarkVisibility(b *testing.B) {
	tuneGCAsMain()
	var base latencies
	b.Run("baseline", func(b *testing.B) { base = benchLatency(b, "baseline", baselineSetup(b)) })
	for _, mode := range []string{"in-process", "kafka"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "kafka" {
				warmBroker(b)
			}
			stages := newConsumerStages()
			got := benchLatency(b, mode, engineTarget(b, mode, stages))
			b.ReportMetric(got.p50/base.p50, "p50-x-baseline")
			b.ReportMetric(got.p99/base.p99, "p99-x-baseline")
		})
	}
}

// engineTarget returns the setup of the in-process or the Kafka row: an
// engine on the bench's schema, appending a ShowCreated per event, seen
// when its show is in rm_shows. stages records the consumers' deliveries.
func engineTarget(b *testing.B, mode string, stages *consumerStages) func(context.Context, *pgxpool.Pool) target {
	return func(ctx context.Context, pool *pgxpool.Pool) target {
		var opts []func(*Config)
		if mode == "kafka" {
			opts = append(opts, withKafka(b, benchPartitions(b)), func(c *Config) {
				c.Kafka.Observe, c.Kafka.ObserveRelay = stages.observe, stages.acked
			})
		}
		e, stop := benchEngine(b, pool, opts...)
		// The poller reads rm_shows by seq, which no query of the engine
		// does and no index serves: unindexed, each poll scanned the whole
		// table (0.6 ms of PostgreSQL's time at 8,000 shows, 1.6 s of it
		// in one 11 s Kafka row), where the baseline's poller reads its
		// primary key. Indexed, both cost the same.
		if _, err := pool.Exec(ctx, `create index if not exists rm_shows_bench_seq on rm_shows (seq)`); err != nil {
			b.Fatal(err)
		}
		t := target{ready: func(seq int64) bool { return applied(e, seq) }, close: stop}
		if e.relay != nil {
			t.stages = stages
			t.produce = e.relay.Stats()
		}
		t.append = func(ctx context.Context) (int64, error) {
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
		}
		t.seen = func(ctx context.Context, from int64) ([]int64, error) {
			return seqs(ctx, pool, `select seq from rm_shows where `+pollRange, from)
		}
		return t
	}
}

// defaultBrokerWarmup is how long the Kafka row's load runs, unmeasured, on
// a schema and topic of its own before the row (BENCH_BROKER_WARMUP
// overrides it; "0" for none). The broker is started for the bench: for
// its first half minute of traffic its JVM compiles the produce and fetch
// paths, its C2 compiler thread alone taking a quarter to a half of one of
// the two cores (docs/kafka-latency.md). A broker in production compiled
// them long before; the warm-up gives the row such a broker, and the row
// itself starts on empty tables, as the other rows do.
const defaultBrokerWarmup = 30 * time.Second

// warmBroker runs the Kafka row's load for BENCH_BROKER_WARMUP, unmeasured,
// through an engine, a schema and a topic of its own, and stops them.
func warmBroker(b *testing.B) {
	d := envDuration(b, "BENCH_BROKER_WARMUP", defaultBrokerWarmup)
	if d == 0 {
		return
	}
	ctx, t, bt, done := startBench(b, "broker warm-up", engineTarget(b, "kafka", newConsumerStages()))
	defer done()
	var wg sync.WaitGroup
	bt.drive(b, ctx, t.append, &wg, d, 0)
	wg.Wait()
	t.close()
	fmt.Printf("    %-10s  the broker warmed up for %v (BENCH_BROKER_WARMUP)\n", "kafka", d)
}

// benchWarmup is BENCH_WARMUP (a Go duration; "0" for none), by default
// defaultBenchWarmup: how long the bench appends at benchRate, unmeasured,
// before the measured benchDuration. Before 2026-12-01 it was 500 ms.
func benchWarmup(b *testing.B) time.Duration {
	return envDuration(b, "BENCH_WARMUP", defaultBenchWarmup)
}

// tuneGCAsMain sets the collector's target as main does: GOGC if set,
// else gcPercent. A benchmark of the engine measures it as it runs.
func tuneGCAsMain() {
	if c, err := LoadConfig(env{"GOGC": os.Getenv("GOGC")}.get); err == nil {
		c.tuneGC()
	}
}

// benchDuration is BENCH_DURATION, how long each row's load is measured,
// by default defaultBenchDuration. A p99 of 4,000 events is their 40th
// slowest, and one stall of the shared machine of 20–50 ms holds up as
// many; a longer window measures how often such stalls come.
func benchDuration(b *testing.B) time.Duration {
	d := envDuration(b, "BENCH_DURATION", defaultBenchDuration)
	if d == 0 {
		b.Fatal("BENCH_DURATION=0: nothing would be measured")
	}
	return d
}

// envDuration is the duration in the environment variable name ("0" for
// none), def when it is unset.
func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		b.Fatalf("%s=%q: want a duration such as %v", name, s, def)
	}
	return d
}

// benchRate is BENCH_RATE, the events appended per second, by default
// defaultBenchRate (the rate issue 15 names). A lower one shows the
// pipeline's latency when the machine is not saturated.
func benchRate(b *testing.B) int {
	s := os.Getenv("BENCH_RATE")
	if s == "" {
		return defaultBenchRate
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100000 {
		b.Fatalf("BENCH_RATE=%q: want events per second, 1 to 100000", s)
	}
	return n
}

// benchPartitions is the partition count of the bench's topic:
// BENCH_KAFKA_PARTITIONS, default kafka.DefaultPartitions. kafka-go sends a
// request per partition, to write and to fetch: fewer partitions, fewer
// requests for the broker to serve.
func benchPartitions(b *testing.B) int {
	s := os.Getenv("BENCH_KAFKA_PARTITIONS")
	if s == "" {
		return kafka.DefaultPartitions
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("BENCH_KAFKA_PARTITIONS=%q: want a partition count", s)
	}
	return n
}

type appendFn func(ctx context.Context) (seq int64, err error)
type seenFn func(ctx context.Context, from int64) ([]int64, error)

// target is what benchLatency drives.
type target struct {
	append appendFn
	seen   seenFn
	// ready, if not nil, reports whether every projection applied the
	// event at seq: the run starts once the pipeline is live.
	ready func(seq int64) bool
	// stages, if not nil, records the relay's acknowledged writes and the
	// consumers' deliveries: the rest of the breakdown.
	stages *consumerStages
	// close, if not nil, stops the engine.
	close func()
	// produce, if not nil, counts the relay's produce requests.
	produce *kafka.ProduceStats
}

type latencies struct{ p50, p99, max float64 }

// benchTimes records, under mu, when each event was appended and seen.
type benchTimes struct {
	mu        sync.Mutex
	started   map[int64]time.Time // appended, not yet seen
	seenAt    map[int64]time.Time // seen before its appender recorded it
	measured  map[int64]time.Time // start of every measured event
	appended  map[int64]time.Time // end of every measured event's append
	visible   map[int64]time.Time // when the poller saw each event
	lat       []time.Duration
	appendLat []time.Duration
}

// benchLatency drives append at benchRate for benchDuration on a fresh
// schema, once the pipeline is live, polls seen every benchPoll, and reports
// the append → seen latency, with its breakdown: append alone, and
// append → acknowledged by Kafka.
func benchLatency(b *testing.B, name string, setup func(context.Context, *pgxpool.Pool) target) latencies {
	ctx, t, bt, done := startBench(b, name, setup)
	defer done()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { bt.poll(ctx, t.seen, stop) })
	cpu0, reconnects0 := startCPU(), benchReconnects.n.Load()
	var prod0 [3]int64
	if t.produce != nil {
		prod0 = [3]int64{t.produce.Requests.Load(), t.produce.Messages.Load(), t.produce.Nanos.Load()}
	}
	stopProfile := profileRow(b, name)
	sent := bt.drive(b, ctx, t.append, &wg, benchWarmup(b), benchDuration(b))
	stopProfile()
	bt.settle()
	close(stop)
	wg.Wait()
	cpu := cpu0.stop()
	l := bt.report(b, name, sent)
	// Printed, not logged: a benchmark's log keeps only its first lines.
	fmt.Printf("    %-10s  CPU per event appended (this process: the engine, PostgreSQL's clients, the load): %s; %d failed fetches\n",
		name, cpu.String(int64(max(sent, 1))), benchReconnects.n.Load()-reconnects0)
	if t.produce != nil {
		n, msgs := t.produce.Requests.Load()-prod0[0], t.produce.Messages.Load()-prod0[1]
		avg := time.Duration(t.produce.Nanos.Load()-prod0[2]) / time.Duration(max(n, 1))
		fmt.Printf("    %-10s  relay over %d partitions: %d produce requests, %.1f messages each, request avg %v max %v\n",
			"", benchPartitions(b), n, float64(msgs)/float64(max(n, 1)), avg, time.Duration(t.produce.MaxNanos.Load()))
	}
	if t.stages != nil {
		t.stages.report(b, bt)
	}
	return l
}

// profileRow starts a CPU profile of a row's load (its warm-up and its
// measured seconds) when BENCH_CPUPROFILE names a file, written as
// FILE-ROW.prof, and returns what stops it.
func profileRow(b *testing.B, name string) func() {
	base := os.Getenv("BENCH_CPUPROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(strings.TrimSuffix(base, ".prof") + "-" + name + ".prof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Printf("    %-10s  CPU profile of the row's load: %s\n", name, f.Name())
	}
}

// startBench sets up a target on a fresh schema and waits until it is
// live; done closes what it opened.
func startBench(b *testing.B, name string, setup func(context.Context, *pgxpool.Pool) target) (ctx context.Context, t target, bt *benchTimes, done func()) {
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := newPool(ctx, pgtest.SchemaURL(b))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	t = setup(ctx, pool)
	bt = &benchTimes{started: map[int64]time.Time{}, seenAt: map[int64]time.Time{}, measured: map[int64]time.Time{},
		appended: map[int64]time.Time{}, visible: map[int64]time.Time{}}
	awaitLive(b, ctx, name, t)
	return ctx, t, bt, func() { pool.Close(); cancel() }
}

func newConsumerStages() *consumerStages {
	return &consumerStages{relayed: map[int64]time.Time{}, fetched: map[int64]time.Time{}, applied: map[int64]time.Time{}, calls: map[string]*deliveryCalls{}}
}

// processCPU returns the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle lets the last events become visible: it waits a second, then
// while some appended event is not seen yet, up to benchSettle, so that a
// backlog counts in the percentiles instead of being left out as not seen.
func (bt *benchTimes) settle() {
	time.Sleep(time.Second)
	for deadline := time.Now().Add(benchSettle); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		bt.mu.Lock()
		n := len(bt.started)
		bt.mu.Unlock()
		if n == 0 {
			return
		}
	}
}

// awaitLive appends one event and waits until every projection applied it:
// a consumer group's first join is start-up, not the latency of an event.
func awaitLive(b *testing.B, ctx context.Context, name string, t target) {
	if t.ready == nil {
		return
	}
	t0 := time.Now()
	seq, err := t.append(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for !t.ready(seq) {
		if time.Since(t0) > time.Minute {
			b.Fatalf("%s: the pipeline is not live after a minute", name)
		}
		time.Sleep(benchPoll)
	}
	b.Logf("%-10s  live in %d ms (first event through every projection)", name, time.Since(t0).Milliseconds())
}

// applied reports whether every projection of e applied the event at seq.
func applied(e *engine, seq int64) bool {
	for _, s := range e.runner.Status() {
		if int64(s.Position.Commit) < seq {
			return false
		}
	}
	return true
}

// poll records when each event becomes visible until stop is closed.
func (bt *benchTimes) poll(ctx context.Context, seen seenFn, stop <-chan struct{}) {
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
		bt.mu.Lock()
		for _, s := range got {
			if done[s] {
				continue
			}
			done[s] = true
			bt.visible[s] = now
			if t, ok := bt.started[s]; ok {
				bt.lat = append(bt.lat, now.Sub(t))
				delete(bt.started, s)
			} else {
				bt.seenAt[s] = now
			}
		}
		bt.mu.Unlock()
		for done[from] {
			delete(done, from)
			from++
		}
	}
}

// drive appends at benchRate from benchAppenders goroutines for warmup,
// unmeasured, then measured, and returns how many it appended. At each tick it
// hands out every append due by then: a ticker drops the ticks of a
// goroutine that was not scheduled in time, which on a loaded machine cut
// the rate to a few hundred per second.
func (bt *benchTimes) drive(b *testing.B, ctx context.Context, appendOne appendFn, wg *sync.WaitGroup, warmup, measured time.Duration) int {
	benchRate := benchRate(b)
	work := make(chan time.Time, benchRate)
	for range benchAppenders {
		wg.Go(func() {
			for at := range work {
				start := time.Now()
				s, err := appendOne(ctx)
				if err != nil {
					b.Error(err)
					continue
				}
				bt.record(at, start, s)
			}
		})
	}
	t0 := time.Now()
	measureFrom := t0.Add(warmup)
	tick := time.NewTicker(time.Second / time.Duration(benchRate))
	sent := 0
	for now := range tick.C {
		elapsed := now.Sub(t0)
		if elapsed > warmup+measured {
			break
		}
		for due := int(elapsed * time.Duration(benchRate) / time.Second); sent < due; sent++ {
			marker := t0.Add(time.Duration(sent) * time.Second / time.Duration(benchRate))
			if marker.Before(measureFrom) {
				marker = marker.Add(time.Hour) // warm-up: not measured
			}
			work <- marker
		}
	}
	tick.Stop()
	close(work)
	return sent
}

// record notes that the event at seq, due at at, was appended from start.
func (bt *benchTimes) record(at, start time.Time, seq int64) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if !at.After(start) {
		now := time.Now()
		bt.appendLat = append(bt.appendLat, now.Sub(start))
		bt.measured[seq] = start
		bt.appended[seq] = now
	}
	switch seen, ok := bt.seenAt[seq]; {
	case at.After(start): // warm-up: not measured
		delete(bt.seenAt, seq)
	case ok:
		bt.lat = append(bt.lat, seen.Sub(start))
		delete(bt.seenAt, seq)
	default:
		bt.started[seq] = start
	}
}

// report logs and reports the latencies.
func (bt *benchTimes) report(b *testing.B, name string, sent int) latencies {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if len(bt.lat) == 0 {
		b.Fatalf("%s: nothing became visible", name)
	}
	l := pcts(bt.lat)
	rate := float64(sent) / (benchWarmup(b) + benchDuration(b)).Seconds()
	a := pcts(bt.appendLat)
	b.Logf("%-10s  %5d events at %4.0f/s  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  not seen %d",
		name, len(bt.lat), rate, l.p50, l.p99, l.max, len(bt.started))
	b.Logf("%-10s  breakdown, from the start of the append:  appended p50 %6.2f ms  p99 %6.2f ms", "", a.p50, a.p99)
	b.ReportMetric(l.p50, "p50-ms")
	b.ReportMetric(l.p99, "p99-ms")
	b.ReportMetric(l.max, "max-ms")
	return l
}

// pcts returns the p50, p99 and max of d, in milliseconds; it sorts d.
func pcts(d []time.Duration) latencies {
	slices.Sort(d)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return latencies{p50: ms(d[len(d)/2]), p99: ms(d[len(d)*99/100]), max: ms(d[len(d)-1])}
}

// pollRange is the pollers' condition, the same for every row: bounded on
// both sides, so that the planner estimates a few rows and reads the index
// on seq. "seq >= $1" alone, on a table too new to have statistics, is
// guessed at a third of the table, and every poll scanned all of it.
const pollRange = `seq >= $1 and seq < $1 + 1000000000`

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

// benchReconnects counts the kafka-go reader's reconnections after a failed
// fetch, which it logs: on a loaded machine a fetch answered later than the
// quarter of MaxWait kafka-go leaves for the round trip fails with an i/o
// timeout, and the partition's reader dials its leader again.
var benchReconnects reconnects

type reconnects struct{ n atomic.Int64 }

// Write counts the log records of failed fetches.
func (r *reconnects) Write(p []byte) (int, error) {
	// "fetch failed": the consumer's own fetches (infra/kafka/fetch.go).
	if bytes.Contains(p, []byte("error reading partition")) || bytes.Contains(p, []byte("fetch failed")) {
		r.n.Add(1)
	}
	return len(p), nil
}

// benchEngine runs the projectors (and the relay, with Kafka) on pool's
// schema, until the benchmark ends or the function it returns is called.
func benchEngine(b *testing.B, pool *pgxpool.Pool, options ...func(*Config)) (*engine, func()) {
	b.Helper()
	c, err := LoadConfig(testEnv(pool.Config().ConnString(), time.Minute).get)
	if err != nil {
		b.Fatal(err)
	}
	c.ExpiryInterval = time.Second
	for _, o := range options {
		o(&c)
	}
	m := NewMain("project", c, roles{Relay: true, Projectors: true}, slog.New(slog.NewTextHandler(&benchReconnects, nil)))
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	// Close is idempotent: once called, the cleanup's call does nothing.
	return m.engine, func() { _ = m.Close() }
}

// baselineSetup appends by a plain INSERT and COMMIT into a table of its own
// and sees it with the same poller: the floor of write → visible here.
func baselineSetup(b *testing.B) func(context.Context, *pgxpool.Pool) target {
	return func(ctx context.Context, pool *pgxpool.Pool) target {
		if _, err := pool.Exec(ctx, `create table bench_rows (seq bigint primary key)`); err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		next := int64(0)
		return target{append: func(ctx context.Context) (int64, error) {
			mu.Lock()
			next++
			n := next
			mu.Unlock()
			_, err := pool.Exec(ctx, `insert into bench_rows values ($1)`, n)
			return n, err
		}, seen: func(ctx context.Context, from int64) ([]int64, error) {
			return seqs(ctx, pool, `select seq from bench_rows where `+pollRange, from)
		}}
	}
}

// benchStagesOf is the projection whose stages the breakdown follows: the
// one the benchmark polls.
const benchStagesOf = "shows"

// consumerStages records when Kafka acknowledged the relay's write of each
// event (the relay's Acked hook, called as it happens: the bench used to poll
// the relay's position every 100 µs, 10,000 wake-ups a second on the two
// cores it measures), and, from the Kafka consumers' deliveries, when each
// event was fetched and applied by the benchStagesOf consumer, and what
// every consumer's deliveries cost.
type consumerStages struct {
	mu        sync.Mutex
	relayed   map[int64]time.Time
	lastAcked int64
	fetched   map[int64]time.Time
	applied   map[int64]time.Time
	calls     map[string]*deliveryCalls
}

// deliveryCalls sums one consumer's deliveries.
type deliveryCalls struct {
	n, events int
	took      []time.Duration
}

// acked records that Kafka acknowledged the log up to last. The relay
// publishes in log order.
func (cs *consumerStages) acked(last domain.Position) {
	now := time.Now()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for s := cs.lastAcked + 1; s <= int64(last.Commit); s++ {
		cs.relayed[s] = now
	}
	cs.lastAcked = max(cs.lastAcked, int64(last.Commit))
}

func (cs *consumerStages) observe(d kafka.Delivered) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.calls[d.Projection]
	if c == nil {
		c = &deliveryCalls{}
		cs.calls[d.Projection] = c
	}
	c.n++
	c.events += len(d.Positions)
	c.took = append(c.took, d.End.Sub(d.Start))
	if d.Projection != benchStagesOf || d.Done < len(d.Positions) {
		return
	}
	for i, pos := range d.Positions {
		s := int64(pos.Commit)
		if _, ok := cs.fetched[s]; !ok {
			cs.fetched[s], cs.applied[s] = d.FetchedAt[i], d.End
		}
	}
}

// report logs the stages of the measured events of bt, from the start of
// their append, and the cost of each consumer's deliveries.
func (cs *consumerStages) report(b *testing.B, bt *benchTimes) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	bt.mu.Lock()
	defer bt.mu.Unlock()
	var relayed, fetched, applied []time.Duration
	for s, start := range bt.measured {
		if at, ok := cs.relayed[s]; ok {
			relayed = append(relayed, max(at.Sub(start), 0))
		}
		if at, ok := cs.fetched[s]; ok {
			fetched = append(fetched, max(at.Sub(start), 0))
			applied = append(applied, max(cs.applied[s].Sub(start), 0))
		}
	}
	if len(relayed) > 0 {
		r := pcts(relayed)
		b.Logf("%-10s  %41s acked by Kafka p50 %6.2f ms  p99 %6.2f ms (%d of %d)", "", "", r.p50, r.p99, len(relayed), len(bt.measured))
	}
	if len(fetched) > 0 {
		f, a := pcts(fetched), pcts(applied)
		b.Logf("%-10s  %41s fetched (%s) p50 %6.2f ms  p99 %6.2f ms", "", "", benchStagesOf, f.p50, f.p99)
		b.Logf("%-10s  %41s applied (%s) p50 %6.2f ms  p99 %6.2f ms", "", "", benchStagesOf, a.p50, a.p99)
	}
	if f := os.Getenv("BENCH_TRACE"); f != "" {
		cs.trace(b, bt, f)
	}
	names := slices.Sorted(maps.Keys(cs.calls))
	for _, name := range names {
		c := cs.calls[name]
		t := pcts(c.took)
		// Printed, not logged: a benchmark's log keeps only its first lines.
		fmt.Printf("    %-10s  consumer %-9s %5d deliveries, %5.1f events each, transaction p50 %6.2f ms  p99 %6.2f ms\n",
			"", name, c.n, float64(c.events)/float64(c.n), t.p50, t.p99)
	}
}

// trace writes, when BENCH_TRACE names a file, one line per measured event
// of the Kafka row: its log position, when its append started (ms from the
// row's first measured append), and how long after that start it was
// appended, acknowledged by Kafka, fetched, applied and seen (ms; empty if
// never). The diagnosis of a tail: whether the slow events come together
// in time, and at which stage they were held.
func (cs *consumerStages) trace(b *testing.B, bt *benchTimes, file string) {
	seqs := slices.Sorted(maps.Keys(bt.measured))
	if len(seqs) == 0 {
		return
	}
	t0 := bt.measured[seqs[0]]
	for _, s := range seqs {
		if bt.measured[s].Before(t0) {
			t0 = bt.measured[s]
		}
	}
	var w bytes.Buffer
	// The first lines place the row in time: its start (Unix ms), to line
	// it up with other processes' logs (the broker's -Xlog:gc with
	// "time"), and the ends of this process's recent GC pauses, in ms
	// from the start.
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	fmt.Fprintf(&w, "# t0_unix_ms %d\n# go_gc_pause_end_ms", t0.UnixMilli())
	for _, end := range gc.PauseEnd {
		if d := end.Sub(t0); d > -time.Second {
			fmt.Fprintf(&w, " %.1f", float64(d)/float64(time.Millisecond))
		}
	}
	w.WriteString("\n")
	w.WriteString("seq,start_ms,appended_ms,acked_ms,fetched_ms,applied_ms,visible_ms\n")
	ms := func(start time.Time, at time.Time, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(float64(at.Sub(start))/float64(time.Millisecond), 'f', 3, 64)
	}
	for _, s := range seqs {
		start := bt.measured[s]
		ap, okA := bt.appended[s]
		ac, okK := cs.relayed[s]
		fe, okF := cs.fetched[s]
		al, okL := cs.applied[s]
		vi, okV := bt.visible[s]
		fmt.Fprintf(&w, "%d,%s,%s,%s,%s,%s,%s\n", s, ms(t0, start, true),
			ms(start, ap, okA), ms(start, ac, okK), ms(start, fe, okF), ms(start, al, okL), ms(start, vi, okV))
	}
	if err := os.WriteFile(file, w.Bytes(), 0o644); err != nil {
		b.Error(err)
		return
	}
	fmt.Printf("    %-10s  trace of %d events: %s\n", "", len(seqs), file)
}
