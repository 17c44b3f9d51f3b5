package projections

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/ticketing/ticketing/domain"
)

// Reader reads the global log; the event store satisfies it.
type Reader interface {
	// ReadAll returns up to limit events after position after, in order.
	ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error)
}

// DefaultRebuildBatch is how many events a rebuild applies per transaction.
// The larger a batch, the more of an order's events (its placing and its
// outcome, minutes apart; the seats it holds and sells) the projectors fold
// into one write of its rows, instead of an insert in one batch and an
// update in the next: 20,000 (issue 17: rebuilds; it was 5,000).
const DefaultRebuildBatch = 20000

// The collector of a process that rebuilds (RebuildGC).
const (
	rebuildGCPercent   = 400
	rebuildMemoryLimit = 1 << 30
)

// RebuildGC sets the collector for a rebuild, and returns the function that
// restores the settings it found. Most of what a rebuild allocates (the
// decoded pages of the log, each batch's rows and statements) is garbage a
// batch later, and with the default GOGC=100 the collector took a third of
// the process's CPU (make bench-replay, 200,000 events: 16-17 us an event
// in the process, 11-13 with GOGC=400). So it runs the collector a quarter
// as often (GOGC=400) under a soft limit of 1 GiB, past which the collector
// works harder again: memory stays bounded. GOGC or GOMEMLIMIT set in the
// environment win: it then changes nothing. It is for a process whose work
// is the rebuild (`ticketing replay`), not for a server.
func RebuildGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	rebuildGC.Lock()
	defer rebuildGC.Unlock()
	if rebuildGC.n == 0 {
		rebuildGC.percent = debug.SetGCPercent(rebuildGCPercent)
		rebuildGC.limit = debug.SetMemoryLimit(rebuildMemoryLimit)
	}
	rebuildGC.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			rebuildGC.Lock()
			defer rebuildGC.Unlock()
			if rebuildGC.n--; rebuildGC.n == 0 {
				debug.SetGCPercent(rebuildGC.percent)
				debug.SetMemoryLimit(rebuildGC.limit)
			}
		})
	}
}

// rebuildGC counts the rebuilds under RebuildGC's settings (several may
// overlap in one process): the first sets them, the last restores those it
// found.
var rebuildGC struct {
	sync.Mutex
	n       int
	percent int
	limit   int64
}

// SharedPagesFor is how many pages a SharedLog keeps for rebuilds that read
// batch events at a time: as many events as DefaultSharedPages pages of
// 5,000, and at least 2 pages.
func SharedPagesFor(batch int) int {
	return max(2, DefaultSharedPages*5000/max(batch, 1))
}

// Rebuild applies the log to a projection's read model through store, from
// the store's checkpoint of the projection up to the log's end as it is
// read, in batches of batch events (one transaction each, with the
// checkpoint, so that a rebuild that is killed resumes where it stopped). It
// calls progress after each batch with the position reached, and returns the
// last position applied. A poison event parks its stream, as in the Runner;
// any other failure stops it with an *ApplyError. No event is skipped.
// Through a SharedReader, the rebuild takes the events it reads decoded
// (see SharedLog).
func Rebuild(ctx context.Context, log Reader, store Store, registry *domain.Registry, p Projector, batch int, progress func(domain.Position)) (domain.Position, error) {
	return RebuildUntil(ctx, log, store, registry, p, batch, domain.Position{}, progress)
}

// RebuildUntil is Rebuild that stops at position until (inclusive); a zero
// until means the end of the log.
func RebuildUntil(ctx context.Context, log Reader, store Store, registry *domain.Registry, p Projector, batch int, until domain.Position, progress func(domain.Position)) (domain.Position, error) {
	if batch <= 0 {
		batch = DefaultRebuildBatch
	}
	at, err := store.Checkpoint(ctx, p.Name())
	if err != nil {
		return at, fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	for {
		events, err := log.ReadAll(ctx, at, batch)
		if err != nil {
			return at, fmt.Errorf("rebuild %s: read the log after %s: %w", p.Name(), at, err)
		}
		full := len(events) == batch
		if !until.IsZero() {
			n := len(events)
			for n > 0 && until.Less(events[n-1].Position) {
				n--
			}
			full = full && n == len(events)
			events = events[:n]
		}
		if len(events) == 0 {
			return at, nil
		}
		r := Runner{Store: store, Registry: registry}
		r.shared, _ = log.(*SharedReader)
		if err := r.apply(ctx, p, events); err != nil {
			return at, err
		}
		at = events[len(events)-1].Position
		if progress != nil {
			progress(at)
		}
		if !full {
			return at, nil
		}
	}
}
