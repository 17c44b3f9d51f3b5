package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/ticketing/ticketing/domain"
)

// errViolations says that an audit found broken invariants.
var errViolations = errors.New("the log breaks invariants")

// auditCommand is `ticketing audit`: it reads the whole event log, every
// stream in global order, checks the invariants at every position
// (domain.Auditor) and prints what it checked and every violation. It fails
// when it found any.
type auditCommand struct {
	JSON   bool   // the report as JSON, not text
	Output string // a file; empty or "-" for stdout
}

// Flags attaches --json and --output.
func (a *auditCommand) Flags(fs *flag.FlagSet, _ *Config) {
	fs.BoolVar(&a.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&a.Output, "output", "", "write to this file instead of stdout")
	fs.StringVar(&a.Output, "o", "", "shorthand for --output")
}

// Run audits the log.
func (a *auditCommand) Run(ctx context.Context, s *session) error {
	if err := s.noArgs(); err != nil {
		return err
	}
	store, registry, err := s.Store(ctx)
	if err != nil {
		return err
	}
	return withOutput(a.Output, func(out io.Writer) error {
		head, err := store.Head(ctx)
		if err != nil {
			return err
		}
		var progress func(domain.Position)
		if term.IsTerminal(int(os.Stderr.Fd())) {
			bar := newExportProgress(domain.Start, head, os.Stderr)
			defer bar.finish()
			progress = bar.set
		}
		start := time.Now()
		r, err := auditEvents(ctx, exporterOf(store), registry, int(min(head.Commit, 1<<30)), progress)
		if err != nil {
			return fmt.Errorf("audit: after %d events: %w", r.Events, err)
		}
		took := time.Since(start)
		if a.JSON {
			err = writeIndented(out, r)
		} else {
			err = printAudit(out, r, took)
		}
		if err != nil {
			return err
		}
		s.Log.Info("audited", "events", r.Events, "violations", r.ViolationCount(), "took", took.Round(time.Millisecond).String(),
			"events_per_second", int64(float64(r.Events)/max(took.Seconds(), 1e-9)))
		if n := r.ViolationCount(); n > 0 {
			return fmt.Errorf("audit: %d violations: %w", n, errViolations)
		}
		return nil
	})
}

// auditEvents reads every event x exports, in log order, through an
// auditor of the events registry decodes, and returns its report. The
// events are decoded on every core while the auditor audits those before.
// expect is about how many events the log holds (see Auditor.Expect). It
// reports the position reached to progress, if not nil, every few thousand
// events.
func auditEvents(ctx context.Context, x exporter, registry *domain.Registry, expect int, progress func(domain.Position)) (domain.AuditReport, error) {
	a := domain.NewAuditor(registry)
	a.Expect(expect)
	feed := a.Feed(runtime.GOMAXPROCS(0))
	var n int64
	var last domain.Position
	err := x.Export(ctx, domain.EventFilter{}, func(rec domain.RecordedEvent) error {
		feed.Add(rec)
		if n++; progress != nil && n%progressEvery == 0 {
			progress(rec.Position)
		}
		last = rec.Position
		return nil
	})
	r := feed.Close()
	if err == nil && progress != nil && n > 0 {
		progress(last)
	}
	return r, err
}

// printAudit writes an audit report as text: the counts, one line per
// check, what was not audited or is pending, then every violation with its
// events.
func printAudit(out io.Writer, r domain.AuditReport, took time.Duration) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "audited %d events of %d streams in %s (%.0f events/s): %d shows, %d orders, %d seats, %d general-admission units\n\n",
		r.Events, r.Streams, took.Round(time.Millisecond), float64(r.Events)/max(took.Seconds(), 1e-9), r.Shows, r.Orders, r.Seats, r.Units)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tchecked\tviolations\t")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", c.Name, c.Checked, c.Violations, c.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range []struct {
		title string
		m     map[string]int64
	}{{"not audited (unknown event types)", r.NotAudited}, {"pending at the end of the log", r.Pending}} {
		if len(m.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", m.title)
		keys := make([]string, 0, len(m.m))
		for k := range m.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %d\n", k, m.m[k])
		}
	}
	if n := r.ViolationCount(); n == 0 {
		fmt.Fprintf(w, "\nno violations\n")
	} else {
		fmt.Fprintf(w, "\nviolations: %d\n", n)
		for _, v := range r.Violations {
			fmt.Fprintf(w, "  %s: %s\n", v.Check, v.Detail)
			for _, e := range v.Events {
				fmt.Fprintf(w, "      %s\n", e)
			}
		}
		if r.Dropped > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", r.Dropped)
		}
	}
	return w.Flush()
}
