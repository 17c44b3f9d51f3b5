package main

import (
	"bytes"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// barFigures returns the last count, total and rate a progress bar wrote:
// "(done/total, rate unit/s)".
func barFigures(t *testing.T, out, unit string) (done, total, rate int64) {
	t.Helper()
	m := regexp.MustCompile(`\((\d+)/(\d+), (\d+) `+unit+`/s\)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("no count and rate in the bar's output %q", out)
	}
	last := m[len(m)-1]
	done, _ = strconv.ParseInt(last[1], 10, 64)
	total, _ = strconv.ParseInt(last[2], 10, 64)
	rate, _ = strconv.ParseInt(last[3], 10, 64)
	return done, total, rate
}

// The bar of a replay counts the log's events (not events × projections),
// as far as the slowest projection got, at the rate since the replay
// began: the first batch's time counts.
func TestReplayProgress_Bar(t *testing.T) {
	t.Parallel()
	const events, projections = 10_047, 5
	var out bytes.Buffer
	p := &replayProgress{total: events, done: make([]int64, projections), start: time.Now(), stop: make(chan struct{})}
	p.bar = newReplayBar(events, projections, "events", &out)
	began := time.Now()
	time.Sleep(300 * time.Millisecond) // the first batch
	for i := range projections {
		p.add(i, 5000)
	}
	p.add(0, 5047)
	if done, _, _ := p.rate(time.Now()); done != 5000 {
		t.Errorf("one projection past 5,000: done %d, want the slowest's 5,000", done)
	}
	for i := 1; i < projections; i++ {
		p.add(i, 5047+100) // a catch-up past the head the replay began at
	}
	p.finish()
	took := time.Since(began).Seconds()
	done, total, rate := barFigures(t, out.String(), "events")
	if done != events || total != events {
		t.Errorf("bar at %d/%d, want %d/%d", done, total, events, events)
	}
	if want := float64(events) / took; float64(rate) < want/2 || float64(rate) > want*2 {
		t.Errorf("rate %d events/s, want about %.0f: %d events in %.2fs", rate, want, events, took)
	}
}

func TestReplayProgress_Rate(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		total    int64
		done     []int64
		after    time.Duration
		wantDone int64
		wantRate float64
		wantETA  time.Duration
	}{
		{"nothing yet", 10_047, []int64{0, 0}, time.Second, 0, 0, 0},
		{"the slowest counts", 10_000, []int64{8_000, 2_000}, 2 * time.Second, 2_000, 1_000, 8 * time.Second},
		{"done", 10_000, []int64{10_000, 10_000}, 4 * time.Second, 10_000, 2_500, 0},
		{"caught up past the head", 10_000, []int64{10_500, 10_200}, 5 * time.Second, 10_000, 2_000, 0},
		{"at the start", 10_000, []int64{100}, 0, 100, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := &replayProgress{total: c.total, done: c.done, start: start}
			done, rate, eta := p.rate(start.Add(c.after))
			if done != c.wantDone || rate != c.wantRate || eta != c.wantETA {
				t.Errorf("rate = %d, %v/s, eta %v; want %d, %v/s, eta %v", done, rate, eta, c.wantDone, c.wantRate, c.wantETA)
			}
		})
	}
}

// Without a terminal the replay logs its progress; with one, finish stops
// the bar. Either way finish returns.
func TestReplayProgress_NoTerminal(t *testing.T) {
	t.Parallel()
	p := newReplayProgress(100, 2, "events", io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if p.bar != nil {
		t.Fatal("a bar on a writer that is no terminal")
	}
	p.add(0, 100)
	p.add(1, 50)
	if done, _, _ := p.rate(time.Now()); done != 50 {
		t.Errorf("done %d, want 50", done)
	}
	p.finish()
}

// The bar of an export counts the positions from where it starts to the
// head, at the rate since it began.
func TestExportProgress_Bar(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	after, head := domain.Position{Commit: 1_000, Prepare: 1_000}, domain.Position{Commit: 21_000, Prepare: 21_000}
	p := newExportProgress(after, head, &out)
	began := time.Now()
	time.Sleep(300 * time.Millisecond)
	for pos := uint64(5_096); pos <= 21_000; pos += 4_096 {
		p.set(domain.Position{Commit: pos, Prepare: pos})
		time.Sleep(110 * time.Millisecond) // past the throttle: each is shown
	}
	took := time.Since(began).Seconds()
	// A bar that reaches its end is cleared (OptionClearOnFinish): the
	// last figures shown are those of position 17,384.
	done, total, rate := barFigures(t, out.String(), "positions")
	if done != 16_384 || total != 20_000 {
		t.Errorf("bar at %d/%d, want 16384/20000", done, total)
	}
	// The library averages its last rates over windows of half a second:
	// within a factor of two of the truth (the fault was a thousandfold).
	if want := 16_384 / (took - 0.11); float64(rate) < want/2 || float64(rate) > want*2 {
		t.Errorf("rate %d positions/s, want about %.0f", rate, want)
	}
	p.finish()
	if small := newExportProgress(after, domain.Position{Commit: 2_000, Prepare: 2_000}, &out); small.bar != nil {
		t.Error("a bar for an export of 1,000 positions")
	}
}
