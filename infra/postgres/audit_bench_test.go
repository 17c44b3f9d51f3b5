package postgres_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
)

// auditEvents is the log of BenchmarkAudit; AUDIT_EVENTS overrides it.
const auditEvents = 1_000_000

// auditLog runs a domain.Auditor over the whole log of store as `ticketing
// audit` does: one streamed export of every event, each added in log order
// to a feed that decodes on every core.
func auditLog(ctx context.Context, store *postgres.Store) (domain.AuditReport, error) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	feed := domain.NewAuditor(registry).Feed(runtime.GOMAXPROCS(0))
	err := store.Export(ctx, domain.EventFilter{}, func(rec domain.RecordedEvent) error {
		feed.Add(rec)
		return nil
	})
	return feed.Close(), err
}

// scanLog reads the whole log of store as auditLog does, and does nothing
// with the events: the baseline of BenchmarkAudit. It returns their count.
func scanLog(ctx context.Context, store *postgres.Store) (int64, error) {
	var n int64
	err := store.Export(ctx, domain.EventFilter{}, func(domain.RecordedEvent) error {
		n++
		return nil
	})
	return n, err
}

// BenchmarkAudit audits a generated log of AUDIT_EVENTS events (1,000,000 by
// default; the replay benchmark's box office: shows, holds, payments,
// cancellations, expiries, check-ins) as `ticketing audit` does, and, in the
// same run, scans the same events table the same way without auditing them
// (one streamed query, every row decoded into a RecordedEvent): half of the
// baseline scans before the audits, half after. The generated log is valid,
// so the audit must find no violation; it also checks the audit's counts
// against the log's.
//
// It runs with the binary's GC target (GOGC 400, unless GOGC is set).
//
// Run it with `make bench-audit`.
func BenchmarkAudit(b *testing.B) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	ctx := context.Background()
	n := envInt(b, "AUDIT_EVENTS", auditEvents)
	pool := replayPool(b)
	start := time.Now()
	tally, err := loadReplayLog(ctx, pool, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(start)
	if _, err := pool.Exec(ctx, "vacuum analyze events"); err != nil {
		b.Fatal(err)
	}
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	scan := func() time.Duration {
		start := time.Now()
		got, err := scanLog(ctx, store)
		if err != nil || got != int64(n) {
			b.Fatalf("scanned %d events, want %d: %v", got, n, err)
		}
		return time.Since(start)
	}
	base1 := scan()
	var r domain.AuditReport
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := processCPU()
		if r, err = auditLog(ctx, store); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
	}
	b.StopTimer()
	base2 := scan()
	if err := checkAudit(r, tally, n); err != nil {
		b.Fatal(err)
	}

	took := b.Elapsed() / time.Duration(b.N)
	rate := float64(n) / took.Seconds()
	baseRate := float64(2*n) / (base1 + base2).Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(baseRate, "baseline-events/s")
	b.ReportMetric(rate/baseRate, "x-baseline")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-us/event")
	var t strings.Builder
	fmt.Fprintf(&t, "audit of %d events: %d streams, %d shows, %d orders; generated and loaded in %.1fs\n",
		r.Events, r.Streams, r.Shows, r.Orders, loaded.Seconds())
	fmt.Fprintf(&t, "  %-36s %7.2fs %10.0f events/s  (%.0f before, %.0f after)\n", "baseline: a plain scan of the log",
		(base1+base2).Seconds()/2, baseRate, float64(n)/base1.Seconds(), float64(n)/base2.Seconds())
	fmt.Fprintf(&t, "  %-36s %7.2fs %10.0f events/s  %.2f x baseline; CPU %.1f µs/event in this process\n", "audit",
		took.Seconds(), rate, rate/baseRate, float64(cpu.Microseconds())/float64(n*b.N))
	for _, c := range r.Checks {
		fmt.Fprintf(&t, "    %-34s %10d checked %4d violations %s\n", c.Name, c.Checked, c.Violations, c.Note)
	}
	b.Logf("\n%s", t.String())
}

// checkAudit checks the audit of a generated log: no violation, and the
// counts of what the log holds.
func checkAudit(r domain.AuditReport, tally *replayTally, n int) error {
	var errs []string
	if v := r.ViolationCount(); v != 0 {
		errs = append(errs, fmt.Sprintf("%d violations in a valid log, the first: %v", v, r.Violations[0]))
	}
	if r.Events != int64(n) {
		errs = append(errs, fmt.Sprintf("%d events audited, want %d", r.Events, n))
	}
	if r.Shows != tally.shows {
		errs = append(errs, fmt.Sprintf("%d shows, want %d", r.Shows, tally.shows))
	}
	if r.Orders != tally.placed { // the generator writes no tombstones
		errs = append(errs, fmt.Sprintf("%d orders, want %d", r.Orders, tally.placed))
	}
	if want := tally.holds; r.Pending["open holds"] != want {
		errs = append(errs, fmt.Sprintf("%d open holds, want %d", r.Pending["open holds"], want))
	}
	for _, c := range r.Checks {
		if c.Name == domain.AuditPayments && c.Checked < tally.confirmed {
			errs = append(errs, fmt.Sprintf("payments: %d checked, want at least the %d confirmations", c.Checked, tally.confirmed))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("audit: %s", strings.Join(errs, "; "))
	}
	return nil
}

// A generated log, valid by construction, audits clean.
func TestAudit_GeneratedLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := replayPool(t)
	tally, err := loadReplayLog(ctx, pool, replayTestEvents, 3)
	if err != nil {
		t.Fatal(err)
	}
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	r, err := auditLog(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkAudit(r, tally, replayTestEvents); err != nil {
		t.Error(err)
	}
}
