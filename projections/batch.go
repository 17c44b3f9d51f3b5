package projections

import (
	"context"
	"fmt"

	"github.com/ticketing/ticketing/domain"
)

// BatchProjector is a Projector that applies a batch of events at once, in
// fewer statements than one Apply per event. The Runner uses ApplyBatch
// instead of Apply when a projector has it.
type BatchProjector interface {
	Projector
	// ApplyBatch changes the read model for the events of recs, in order,
	// exactly as Apply would for each in turn; events[i] is recs[i]
	// decoded. db is the transaction that also records the checkpoint. A
	// failure names the event it failed at with a *BatchError; it stops
	// the projection there, as a failure of Apply does.
	ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error
}

// BatchError says at which event of a batch ApplyBatch failed. When the
// work of a run of events was done in one statement, it names the run's
// last event.
type BatchError struct {
	// Index is the event's index in the batch.
	Index int
	Err   error
}

// Error names the index and the failure.
func (e *BatchError) Error() string { return fmt.Sprintf("event %d of the batch: %v", e.Index, e.Err) }

// Unwrap returns the failure, for errors.Is and errors.As.
func (e *BatchError) Unwrap() error { return e.Err }

// runAction is what a run does with an event: see batchRun.add.
type runAction int

// Run actions.
const (
	// runIgnored: the projector's Apply ignores the event.
	runIgnored runAction = iota
	// runJoined: the event's work joined the run.
	runJoined
	// runAlone: the event is applied alone, with Apply, after the run
	// is flushed.
	runAlone
)

// batchRun accumulates the commuting work of a run of events: work whose
// effect does not depend on the order in which it is done, such as counter
// deltas summed per row and inserts of distinct rows, so that it can be done
// in a few statements.
type batchRun interface {
	// add takes the event into the run and returns runJoined, or leaves
	// the run as it is and returns runIgnored or runAlone. An error
	// leaves the run as it is.
	add(rec domain.RecordedEvent, e domain.Event) (runAction, error)
	// flush does the work of the run and empties it.
	flush(ctx context.Context, db DB) error
}

// applyRuns applies events as Apply would one at a time: runs of events
// that join run are done together, flushed before every event applied
// alone (with apply) and at the end, so that the order of the effects is
// kept. An error is a *BatchError; the failure of a flush names the last
// event of the run.
func applyRuns(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event, run batchRun,
	apply func(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error) error {
	last := -1 // the last event of the run, if any
	flush := func() error {
		if last < 0 {
			return nil
		}
		i := last
		last = -1
		if err := run.flush(ctx, db); err != nil {
			return &BatchError{Index: i, Err: err}
		}
		return nil
	}
	for i, e := range events {
		what, err := run.add(recs[i], e)
		if err != nil {
			// The events before it come first, and may fail first.
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return &BatchError{Index: i, Err: err}
		}
		switch what {
		case runJoined:
			last = i
		case runAlone:
			if err := flush(); err != nil {
				return err
			}
			if err := apply(ctx, db, recs[i], e); err != nil {
				return &BatchError{Index: i, Err: err}
			}
		}
	}
	return flush()
}

// addCents returns the sum of a run's money, a+b, or an error wrapping
// ErrPoison when it is past a bigint, as only corrupt events make it: the
// run then fails, and is narrowed down to the event whose addition
// PostgreSQL refuses, rather than store a sum that wrapped around.
func addCents(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, fmt.Errorf("%w: %d + %d cents overflows a bigint", ErrPoison, a, b)
	}
	return s, nil
}

// keyed is a list of values with distinct keys, in the order in which
// their keys were first added.
type keyed[K comparable, V any] struct {
	at   map[K]int
	keys []K
	vals []V
}

// get returns the value of k, added as zero if k is new.
func (l *keyed[K, V]) get(k K) *V {
	if i, ok := l.at[k]; ok {
		return &l.vals[i]
	}
	if l.at == nil {
		l.at = map[K]int{}
	}
	l.at[k] = len(l.keys)
	l.keys = append(l.keys, k)
	var zero V
	l.vals = append(l.vals, zero)
	return &l.vals[len(l.vals)-1]
}

// has reports whether k was added.
func (l *keyed[K, V]) has(k K) bool {
	_, ok := l.at[k]
	return ok
}

// len returns the number of keys.
func (l *keyed[K, V]) len() int { return len(l.keys) }

// reset empties the list.
func (l *keyed[K, V]) reset() { *l = keyed[K, V]{} }

// column returns the field f of each of rows, in order: a column of an
// unnest(...) over rows.
func column[R, T any](rows []R, f func(R) T) []T {
	c := make([]T, len(rows))
	for i, r := range rows {
		c[i] = f(r)
	}
	return c
}
