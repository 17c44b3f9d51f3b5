package projections_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// dropHolds is the holds of BenchmarkRunner_Drop; DROP_HOLDS overrides it.
const dropHolds = 10_000

// BenchmarkRunner_Drop projects a ticket drop: DROP_HOLDS holds of one
// general-admission show, each a SeatsHeld then an OrderPlaced, 100 µs
// apart, through every projector at once, as the live runner does (read
// models with durable commits, batches of up to projections.DefaultMaxBatch
// events from a feed that hands out 1,000 at a time). Each iteration
// projects the drop three ways, in turn, into emptied read models:
//
//   - batch: the projectors' ApplyBatch, events decoded once per runner;
//   - per-event: Apply for each event, events decoded once per runner;
//   - before: Apply for each event, each projector decoding every event
//     (a runner per projector), as before ApplyBatch.
//
// It reports the events per second of each and their ratios, and the CPU
// time per event of this process and of the whole machine (PostgreSQL
// included; other load on the machine too), which the ratio of the drop's
// cost depends on more than on wall time.
func BenchmarkRunner_Drop(b *testing.B) {
	holds := dropHolds
	if s := os.Getenv("DROP_HOLDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("DROP_HOLDS=%q: want a positive number", s)
		}
		holds = n
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	log := dropLog(b, holds)
	cfg, err := pgxpool.ParseConfig(pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 20 // as serve's pool
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	models := postgres.NewReadModels(pool)

	ways := []struct {
		name    string
		runners func() []*projections.Runner
	}{
		{"batch", func() []*projections.Runner {
			return []*projections.Runner{{Projectors: projections.All()}}
		}},
		{"per-event", func() []*projections.Runner {
			return []*projections.Runner{{Projectors: perEventAll()}}
		}},
		{"before", func() []*projections.Runner {
			var rs []*projections.Runner
			for _, p := range perEventAll() {
				rs = append(rs, &projections.Runner{Projectors: []projections.Projector{p}})
			}
			return rs
		}},
	}
	type totals struct{ wall, client, machine time.Duration }
	got := make([]totals, len(ways))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for k := range ways {
			w := (i + k) % len(ways) // each goes first in turn
			emptyReadModels(b, pool)
			runners := ways[w].runners()
			for _, r := range runners {
				r.Feed, r.Store, r.Registry = chunkedFeed{log: log, max: 1000, seed: 1, fixed: true}, models, registry
			}
			c0, m0 := processCPU(b), machineCPU(b)
			wall := projectAll(b, runners, models, log[len(log)-1].Position)
			got[w].wall += wall
			got[w].client += processCPU(b) - c0
			got[w].machine += machineCPU(b) - m0
		}
	}
	b.StopTimer()
	n := float64(len(log)) * float64(b.N)
	rate := func(t totals) float64 { return n / t.wall.Seconds() }
	perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	var t strings.Builder
	fmt.Fprintf(&t, "drop of %d holds (%d events), %d projectors, %d iterations:\n", holds, len(log), len(projections.All()), b.N)
	for w, way := range ways {
		b.ReportMetric(rate(got[w]), way.name+"-events/s")
		fmt.Fprintf(&t, "  %-10s %9.0f events/s  CPU per event: %5.1f µs here, %5.1f µs machine\n",
			way.name, rate(got[w]), perEvent(got[w].client), perEvent(got[w].machine))
	}
	b.ReportMetric(rate(got[0])/rate(got[1]), "x-per-event")
	b.ReportMetric(rate(got[0])/rate(got[2]), "x-before")
	b.ReportMetric(perEvent(got[0].machine), "batch-machine-cpu-us/event")
	b.ReportMetric(perEvent(got[2].machine), "before-machine-cpu-us/event")
	fmt.Fprintf(&t, "  batch: %.2f x per-event, %.2f x before (events/s); machine CPU %.2f x before",
		rate(got[0])/rate(got[1]), rate(got[0])/rate(got[2]), float64(got[0].machine)/float64(got[2].machine))
	b.Logf("\n%s", t.String())
}

// dropLog returns a log of a general-admission show on sale and holds of
// it, each a SeatsHeld and its OrderPlaced.
func dropLog(tb testing.TB, holds int) memLog {
	tb.Helper()
	at := time.Date(2031, 5, 1, 18, 0, 0, 0, time.UTC)
	show := domain.NewShow()
	if err := show.Create(domain.CreateShow{ShowID: uuid.New(), OrganizerID: uuid.New(), Title: "Drop", Venue: "Arena",
		StartsAt: at.Add(30 * 24 * time.Hour), Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 5000, Capacity: 4 * holds}}}, at); err != nil {
		tb.Fatal(err)
	}
	if err := show.Publish(at); err != nil {
		tb.Fatal(err)
	}
	items := []any{domain.ShowStream(show.ID)}
	for _, e := range show.Changes() {
		items = append(items, e)
	}
	seen := len(show.Changes())
	for i := range holds {
		now := at.Add(time.Minute + time.Duration(i)*100*time.Microsecond)
		id := uuid.New()
		if err := show.Hold(domain.HoldRequest{OrderID: id, BuyerID: uuid.New(),
			Items: []domain.ItemRequest{{Section: "Floor", Quantity: 1 + i%4}}}, now, 10*time.Minute); err != nil {
			tb.Fatal(err)
		}
		held := show.Changes()[seen].(domain.SeatsHeld)
		seen++
		o := domain.NewOrder()
		if err := o.Place(held); err != nil {
			tb.Fatal(err)
		}
		items = append(items, domain.ShowStream(show.ID), held, domain.OrderStream(id), o.Changes()[0])
	}
	return logOf(tb, items...)
}

// projectAll runs runners until every projection reached to, and returns
// how long that took.
func projectAll(tb testing.TB, runners []*projections.Runner, models *postgres.ReadModels, to domain.Position) time.Duration {
	tb.Helper()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(runners))
	start := time.Now()
	for _, r := range runners {
		go func() { done <- r.Run(c) }()
	}
	ok, err := projections.NewQueries(models.DB()).WaitForPosition(context.Background(), to, 10*time.Minute)
	wall := time.Since(start)
	cancel()
	for range runners {
		if rerr := <-done; rerr != nil {
			tb.Fatal(rerr)
		}
	}
	if err != nil || !ok {
		tb.Fatalf("projections did not reach %v: %v", to, err)
	}
	return wall
}

// processCPU returns the CPU time this process used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns the CPU time every process of the machine used so far
// (user, nice, system, irq, softirq), from /proc/stat; zero where there is
// none.
func machineCPU(tb testing.TB) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		if i < len(fields) {
			v, err := strconv.ParseInt(fields[i], 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
}
