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
// to a feed that decodes on every core, the auditor's maps made for about
// expect events.
func auditLog(ctx context.Context, store *postgres.Store, expect int) (domain.AuditReport, error) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	a := domain.NewAuditor(registry)
	a.Expect(expect)
	feed := a.Feed(runtime.GOMAXPROCS(0))
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
// (one streamed query, every row decoded into a RecordedEvent): the
// baseline. It runs AUDIT_ROUNDS rounds (default 3) of a scan then an
// audit, so that both see the same load of a shared machine, and reports
// the rates of all the rounds together. The generated log is valid, so the
// audit must find no violation; it also checks the audit's counts against
// the log's. A scan before the rounds, not measured, reads the table into
// the page cache. It runs with the binary's GC target (GOGC 400, unless GOGC is
// set).
//
// Run it with `make bench-audit`.
func BenchmarkAudit(b *testing.B) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	ctx := context.Background()
	n := envInt(b, "AUDIT_EVENTS", auditEvents)
	rounds := envInt(b, "AUDIT_ROUNDS", 3)
	pool := replayPool(b)
	start := time.Now()
	tally, err := loadReplayLog(ctx, pool, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(start)
	// The table settled and in the page cache before anything is measured:
	// the first read of a table just loaded writes (hint bits, a checkpoint).
	for _, sql := range []string{"vacuum analyze events", "checkpoint"} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	if got, err := scanLog(ctx, store); err != nil || got != int64(n) {
		b.Fatalf("scanned %d events, want %d: %v", got, n, err)
	}
	var r domain.AuditReport
	var scanned, audited, cpu time.Duration
	var t strings.Builder
	b.ResetTimer()
	for range b.N {
		for round := range rounds {
			start := time.Now()
			got, err := scanLog(ctx, store)
			if err != nil || got != int64(n) {
				b.Fatalf("scanned %d events, want %d: %v", got, n, err)
			}
			scan := time.Since(start)
			c0 := processCPU()
			start = time.Now()
			if r, err = auditLog(ctx, store, n); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			cpu += processCPU() - c0
			scanned, audited = scanned+scan, audited+took
			fmt.Fprintf(&t, "  round %d: scan %.2fs (%.0f events/s), audit %.2fs (%.0f events/s): %.2f x\n", round+1,
				scan.Seconds(), float64(n)/scan.Seconds(), took.Seconds(), float64(n)/took.Seconds(), scan.Seconds()/took.Seconds())
		}
	}
	b.StopTimer()
	if err := checkAudit(r, tally, n); err != nil {
		b.Fatal(err)
	}

	events := float64(n * rounds * b.N)
	rate, baseRate := events/audited.Seconds(), events/scanned.Seconds()
	perEvent := float64(cpu.Microseconds()) / events
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(baseRate, "baseline-events/s")
	b.ReportMetric(rate/baseRate, "x-baseline")
	b.ReportMetric(perEvent, "cpu-us/event")
	b.Logf("\naudit of %d events: %d streams, %d shows, %d orders; generated and loaded in %.1fs\n%s"+
		"  baseline, a plain scan of the log: %10.0f events/s\n"+
		"  audit:                             %10.0f events/s = %.2f x baseline; CPU %.1f µs/event in this process\n%s",
		r.Events, r.Streams, r.Shows, r.Orders, loaded.Seconds(), t.String(), baseRate, rate, rate/baseRate, perEvent, checksOf(r))
}

// checksOf renders the checks of an audit report.
func checksOf(r domain.AuditReport) string {
	var t strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&t, "    %-16s %10d checked %4d violations  %s\n", c.Name, c.Checked, c.Violations, c.Note)
	}
	return t.String()
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
	r, err := auditLog(ctx, store, replayTestEvents)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkAudit(r, tally, replayTestEvents); err != nil {
		t.Error(err)
	}
}
