package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
)

// replayOptions are the flags of `ticketing replay`.
type replayOptions struct {
	Projections     []string
	All             bool
	InPlace         bool
	DryRun          bool
	ExpectIdentical bool
	Batch           int
	// Store is the event store to replay from.
	Store storeConfig
	// afterBatch, if set, is called after each applied batch (tests).
	afterBatch func()
}

// replayCommand is `ticketing replay`: it rebuilds projections from the
// event store's global log (never from Kafka, whose retention is not the
// source of truth), whether or not the engine runs at the time.
type replayCommand struct{ o replayOptions }

// Flags attaches --projection, --all, --in-place, --dry-run,
// --expect-identical and --batch.
func (x *replayCommand) Flags(fs *flag.FlagSet, _ *Config) {
	o := &x.o
	fs.Func("projection", "a projection to rebuild (repeatable): "+strings.Join(projectionNames(), ", "), func(s string) error {
		o.Projections = append(o.Projections, s)
		return nil
	})
	fs.BoolVar(&o.All, "all", false, "rebuild every projection")
	fs.BoolVar(&o.InPlace, "in-place", false, "truncate and rebuild the live tables (reads see them empty meanwhile)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "rebuild into shadow tables and report the differences; change nothing")
	fs.BoolVar(&o.ExpectIdentical, "expect-identical", false, "refuse the swap when the rebuild differs from the live tables")
	fs.IntVar(&o.Batch, "batch", projections.DefaultRebuildBatch, "events per transaction")
}

// Run rebuilds and prints what it did.
func (x *replayCommand) Run(ctx context.Context, s *session) error {
	pool, err := s.Pool(ctx)
	if err != nil {
		return err
	}
	o := x.o
	o.Store = s.Config.Store
	reports, err := replay(ctx, pool, o, os.Stdout, s.Log)
	printReplay(os.Stdout, reports)
	return err
}

func projectionNames() []string {
	var out []string
	for _, p := range projections.All() {
		out = append(out, p.Name())
	}
	return out
}

// replayReport is what a replay did to one projection.
type replayReport struct {
	Projection string
	Events     uint64 // events read
	Took       time.Duration
	Swap       postgres.SwapResult
	// Parked are the streams the rebuild parked at an event the projector
	// cannot apply; a swap makes them the live projection's.
	Parked []projections.ParkedStream
	Err    error
}

// replay rebuilds the chosen projections side by side, each in its own
// shadow schema, with a progress bar on a terminal and log lines otherwise.
func replay(ctx context.Context, pool *pgxpool.Pool, o replayOptions, out io.Writer, log *slog.Logger) ([]replayReport, error) {
	chosen, err := chooseProjections(o)
	if err != nil {
		return nil, err
	}
	if o.InPlace && o.DryRun {
		return nil, errors.New("replay: --in-place and --dry-run exclude each other")
	}
	store, err := openStore(ctx, pool, o.Store, log)
	if err != nil {
		return nil, err
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	defer projections.RebuildGC()()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	head, err := store.Head(ctx)
	if err != nil {
		return nil, err
	}
	rebuilds := postgres.NewRebuilds(pool)
	unit := "events" // the PostgreSQL log is dense: a position is an event
	if _, dense := store.(*postgres.Store); !dense {
		unit = "positions"
	}
	prog := newReplayProgress(int64(head.Commit), len(chosen), unit, out, log)
	defer prog.finish()

	reports := make([]replayReport, len(chosen))
	// The rebuilds read and decode the log once for all of them.
	shared := projections.NewSharedLog(store, registry, projections.SharedPagesFor(o.Batch))
	readers := shared.Readers(len(chosen))
	var wg sync.WaitGroup
	for i, p := range chosen {
		reader := readers[i]
		wg.Go(func() {
			defer reader.Close()
			start := time.Now()
			reports[i] = replayOne(ctx, pool, store, reader, registry, rebuilds, p, o, head, func(n int64) { prog.add(i, n) })
			reports[i].Took = time.Since(start)
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range reports {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Projection, r.Err))
		}
	}
	return reports, errors.Join(errs...)
}

func chooseProjections(o replayOptions) ([]projections.Projector, error) {
	all := projections.All()
	if o.All {
		if len(o.Projections) > 0 {
			return nil, errors.New("replay: give --all or --projection, not both")
		}
		return all, nil
	}
	if len(o.Projections) == 0 {
		return nil, fmt.Errorf("replay: give --all or --projection NAME (one of %s)", strings.Join(projectionNames(), ", "))
	}
	var out []projections.Projector
	for _, name := range o.Projections {
		found := false
		for _, p := range all {
			if p.Name() == name {
				out, found = append(out, p), true
			}
		}
		if !found {
			return nil, fmt.Errorf("replay: no projection %q (one of %s)", name, strings.Join(projectionNames(), ", "))
		}
	}
	return out, nil
}

// replayOne rebuilds one projection: in place, or into a shadow schema that
// is verified and swapped in. The live tables are untouched until the swap,
// which is one transaction: a replay killed before it leaves them as they
// were, and can be run again.
// It reads the log through log, and catches up from store.
func replayOne(ctx context.Context, pool *pgxpool.Pool, store eventStore, log projections.Reader, registry *domain.Registry, rebuilds *postgres.Rebuilds,
	p projections.Projector, o replayOptions, head domain.Position, add func(int64)) replayReport {
	rep := replayReport{Projection: p.Name()}
	mode := "shadow"
	switch {
	case o.InPlace:
		mode = "in-place"
	case o.DryRun:
		mode = "dry-run"
	}
	var last domain.Position
	progress := func(at domain.Position) {
		add(int64(at.Commit) - int64(last.Commit))
		rep.Events += at.Commit - last.Commit
		last = at
		_ = rebuilds.Progress(ctx, p.Name(), mode, at, head)
		if o.afterBatch != nil {
			o.afterBatch()
		}
	}
	defer func() {
		if err := rebuilds.Done(context.WithoutCancel(ctx), p.Name()); err != nil && rep.Err == nil {
			rep.Err = err
		}
	}()
	if o.InPlace {
		if err := postgres.ResetLive(ctx, pool, p.Name(), p.Tables()); err != nil {
			rep.Err = err
			return rep
		}
		live := postgres.NewReadModels(pool)
		at, err := projections.Rebuild(ctx, log, live, registry, p, o.Batch, progress)
		rep.Err, rep.Swap.Position, rep.Swap.Swapped = err, at, err == nil
		if rep.Parked, err = projections.NewQueries(live.DB()).ParkedStreams(ctx, p.Name()); err != nil && rep.Err == nil {
			rep.Err = err
		}
		return rep
	}
	shadow, err := postgres.NewShadow(ctx, pool, p.Name(), p.Tables())
	if err != nil {
		rep.Err = err
		return rep
	}
	defer func() {
		if err := shadow.Close(context.WithoutCancel(ctx)); err != nil && rep.Err == nil {
			rep.Err = err
		}
	}()
	sstore := shadow.Store()
	if _, err := projections.Rebuild(ctx, log, sstore, registry, p, o.Batch, progress); err != nil {
		rep.Err = err
		return rep
	}
	rep.Swap, rep.Err = shadow.Swap(ctx, postgres.SwapOptions{
		DryRun:          o.DryRun,
		ExpectIdentical: o.ExpectIdentical,
		CatchUp: func(ctx context.Context, until domain.Position) (domain.Position, error) {
			return projections.RebuildUntil(ctx, store, sstore, registry, p, o.Batch, until, progress)
		},
	})
	if rep.Parked, err = projections.NewQueries(sstore.DB()).ParkedStreams(ctx, p.Name()); err != nil && rep.Err == nil {
		rep.Err = err
	}
	return rep
}

// replayProgress shows how far a replay got: a progress bar with the rate
// and ETA on a terminal (schollz/progressbar), a log line every few seconds
// otherwise. What it counts is the log: the events every projection
// replayed (the slowest one's count), of the events the log held when the
// replay started; a projection's catch-up past that end counts until the
// bar is full.
type replayProgress struct {
	bar   *progressbar.ProgressBar
	mu    sync.Mutex
	done  []int64 // per projection
	total int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// newReplayProgress counts total events (or log positions, as unit says)
// for each of projections side by side.
func newReplayProgress(total int64, projections int, unit string, out io.Writer, log *slog.Logger) *replayProgress {
	p := &replayProgress{total: total, done: make([]int64, projections), start: time.Now(), stop: make(chan struct{})}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = newReplayBar(total, projections, unit, out)
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				done, rate, eta := p.rate(time.Now())
				log.Info("replay progress", unit, done, "of", p.total, unit+"_per_s", int64(rate), "eta", eta.Round(time.Second).String())
			}
		}
	})
	return p
}

// newReplayBar is the terminal's bar. Its clock starts now: left to start
// at the first Add, as the library does by default, it would leave the
// first batch's time out and show rates of millions of events a second.
func newReplayBar(total int64, projections int, unit string, out io.Writer) *progressbar.ProgressBar {
	bar := progressbar.NewOptions64(max(total, 1), progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(fmt.Sprintf("replaying %d projection(s)", projections)),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth())
	bar.StartWithoutRender()
	return bar
}

// rate returns the events every projection replayed, their rate since the
// start and the time left at that rate.
func (p *replayProgress) rate(now time.Time) (done int64, perSecond float64, eta time.Duration) {
	p.mu.Lock()
	done = p.slowest()
	p.mu.Unlock()
	if s := now.Sub(p.start).Seconds(); s > 0 {
		perSecond = float64(done) / s
	}
	if perSecond > 0 && done < p.total {
		eta = time.Duration(float64(p.total-done) / perSecond * float64(time.Second))
	}
	return done, perSecond, eta
}

// slowest is the count of the projection furthest behind, at most the
// total; p.mu is held.
func (p *replayProgress) slowest() int64 {
	if len(p.done) == 0 {
		return 0
	}
	return min(slices.Min(p.done), p.total)
}

// add counts n more events replayed by projection i.
func (p *replayProgress) add(i int, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[i] += n
	if p.bar != nil {
		_ = p.bar.Set64(p.slowest())
	}
}

func (p *replayProgress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// printReplay writes what the replay found and did.
func printReplay(w io.Writer, reports []replayReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPROJECTION\tTABLE\tLIVE ROWS\tREBUILT ROWS\tSAME\tONLY LIVE\tONLY REBUILT")
	for _, r := range reports {
		for _, d := range r.Swap.Diffs {
			same := "yes"
			if !d.Same() {
				same = "NO"
			}
			if !d.SamePosition {
				same += fmt.Sprintf(" (live at %s, rebuilt at %s)", d.LivePos, d.ShadowPos)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\n", r.Projection, d.Table, d.LiveRows, d.ShadowRows, same, d.OnlyLive, d.OnlyShadow)
		}
	}
	fmt.Fprintln(tw, "\nPROJECTION\tEVENTS\tTOOK\tEVENTS/S\tRESULT")
	for _, r := range reports {
		result := "swapped in; live continues from " + r.Swap.Position.String()
		switch {
		case r.Err != nil:
			result = "FAILED: " + r.Err.Error()
		case !r.Swap.Swapped:
			result = "dry run: nothing changed"
		}
		rate := 0.0
		if s := r.Took.Seconds(); s > 0 {
			rate = float64(r.Events) / s
		}
		if n := len(r.Parked); n > 0 {
			result += fmt.Sprintf("; %d stream(s) parked", n)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\n", r.Projection, r.Events, r.Took.Round(time.Millisecond), rate, result)
	}
	var parked []projections.ParkedStream
	for _, r := range reports {
		parked = append(parked, r.Parked...)
	}
	if len(parked) > 0 {
		fmt.Fprintln(tw, "\nPARKED STREAM\tPROJECTION\tVERSION\tPOSITION\tTYPE\tWAITING\tPARKED AT\tERROR")
		printParked(tw, parked)
	}
	_ = tw.Flush()
}
