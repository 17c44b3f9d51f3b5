// Package commands holds one handler per command and the ports they need:
// the event store, the payment provider, the user store and the clock.
package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/domain"
)

// ErrConflict is the class of every optimistic-concurrency failure.
var ErrConflict = errors.New("wrong expected version")

// ConflictError says that an append expected a stream version that was not
// the stream's version. It matches ErrConflict.
type ConflictError struct {
	Stream   string
	Expected int64
	Actual   int64 // -1 when the adapter cannot tell
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s: expected version %d, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// StoreError wraps an adapter failure with the operation and stream.
type StoreError struct {
	Op      string
	Stream  string
	Version int64
	Err     error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("eventstore %s %s@%d: %v", e.Op, e.Stream, e.Version, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// AppendResult tells where an append landed.
type AppendResult struct {
	// Version is the stream's version after the append.
	Version int64
	// Position is the global position of the last appended event.
	Position domain.Position
}

// EventStore is the event store port.
type EventStore interface {
	// Append adds events to the end of a stream if the stream is at expected
	// (domain.NoStream for a new stream, domain.AnyVersion to skip the check).
	// It returns a *ConflictError (errors.Is ErrConflict) and writes nothing
	// when the stream is elsewhere. It is idempotent by event id: when every
	// event id was already appended to the stream in the same order, it
	// stores nothing and returns the original result, whatever expected is.
	// Events of one append are written atomically.
	Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (AppendResult, error)

	// ReadStream returns the events of a stream with version >= from, in
	// order. A stream that does not exist has no events, and no error.
	ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error)

	// ReadAll returns up to limit events of the global log after position
	// after, in log order. It never skips a committed event: an event that
	// becomes visible later always has a later position than every event
	// already returned.
	ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error)

	// Follow calls handle with every event after position after, in log
	// order and in batches, as they are committed, until ctx ends (it then
	// returns ctx.Err()) or handle fails (it then returns that error).
	Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error
}

// StreamAppend is one stream's part of a multi-stream append.
type StreamAppend struct {
	Stream   string
	Expected int64
	Events   []domain.EventData
}

// MultiAppender is an event store that can append to several streams in one
// atomic write. A hold batch uses it to write the show's holds and the new
// orders together: one write per batch, and no window in which a hold has no
// order. Stores without it get the holds and the orders in two writes.
type MultiAppender interface {
	// AppendMulti appends every part to its stream, all or none. Each part
	// is decided as Append decides it; when one conflicts, nothing is
	// written and the *ConflictError names that part's stream. When every
	// event of every part was already appended the same way, it writes
	// nothing and returns the original results. It returns one result per
	// part, in order.
	AppendMulti(ctx context.Context, parts []StreamAppend) ([]AppendResult, error)
}
