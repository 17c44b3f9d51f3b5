// Package projections turns the global event log into read models: the
// projectors, the runner that feeds them exactly once in effect, and the
// queries the read API answers from. It imports only the domain; the ports it
// needs (DB, Store, Feed) are implemented by adapters in infra/.
//
// The SQL is PostgreSQL's; the read-model tables are created by the
// migrations in schema/ (see Schema), beside the SQL that uses them.
package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/ticketing/ticketing/domain"
)

// ErrNotFound says that a query found no row. Row.Scan returns it where the
// driver would return its own "no rows" error; the queries wrap it together
// with the matching domain error (domain.ErrShowNotFound, ...).
var ErrNotFound = errors.New("not found")

// DB runs SQL against the read-model database, either directly or inside the
// transaction of Store.Apply. Placeholders are $1, $2, ...
type DB interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, sql string, args ...any) error
	// Query runs a query; the caller must Close the rows.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// QueryRow runs a query expected to return at most one row. Errors are
	// deferred to Row.Scan, which returns ErrNotFound when there is no row.
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Rows is the result of DB.Query.
type Rows interface {
	// Next advances to the next row and reports whether there is one.
	Next() bool
	// Scan copies the current row's columns into dest.
	Scan(dest ...any) error
	// Err returns the error that stopped Next, if any.
	Err() error
	// Close releases the rows; it is safe to call more than once.
	Close()
}

// Row is the result of DB.QueryRow.
type Row interface {
	// Scan copies the row's columns into dest, or returns ErrNotFound when
	// the query returned no row.
	Scan(dest ...any) error
}

// Store keeps the read models and the checkpoints of the projections.
type Store interface {
	// Checkpoint returns the position of the last event the projection
	// name applied, or domain.Start when it applied none.
	Checkpoint(ctx context.Context, name string) (domain.Position, error)
	// Apply runs fn and records to as the checkpoint of name, in one
	// transaction: either both the changes of fn and the checkpoint are
	// committed, or neither is. fn gets the checkpoint as it stands in that
	// transaction, locked against other Applies of name until the commit,
	// and must apply only the events after it: another process running the
	// same projection may have applied part of the batch already. When the
	// checkpoint already is at or past to, Apply commits nothing and returns
	// nil without calling fn. An error of fn is returned as it is.
	Apply(ctx context.Context, name string, to domain.Position, fn func(db DB, after domain.Position) error) error
	// Checkpoints returns the checkpoint of every projection that has one.
	Checkpoints(ctx context.Context) (map[string]domain.Position, error)
	// ApplyDelivered applies runs of events that a broker delivered, each
	// from one partition in log order, in one transaction. It locks the
	// progress of (name, partition) for every partition given, in partition
	// order, against other processes; skips every event whose stream
	// version the projection applied already (a redelivery); runs fn for
	// each other event; and records each stream's version and the last
	// position applied from each partition. When a stream skips a version,
	// that partition stops before the event and the others go on: done
	// tells, per delivery, how many of its events are done (applied or
	// skipped), and err is a *GapError. An error of fn rolls everything
	// back and is returned as it is, with nothing done.
	ApplyDelivered(ctx context.Context, name string, deliveries []Delivery, fn func(db DB, rec domain.RecordedEvent) error) (done []int, err error)
}

// DeliveredBatchStore is a Store that can apply delivered events in one
// call, for projectors that apply a batch at once (BatchProjector).
type DeliveredBatchStore interface {
	Store
	// ApplyDeliveredBatch is ApplyDelivered, with one call of fn for all the
	// events to apply, in the order in which ApplyDelivered calls its fn
	// for each; fn is not called when there is none.
	ApplyDeliveredBatch(ctx context.Context, name string, deliveries []Delivery, fn func(db DB, recs []domain.RecordedEvent) error) (done []int, err error)
}

// Delivery is a run of events a broker delivered from one partition, in
// order.
type Delivery struct {
	Partition int
	Events    []domain.RecordedEvent
}

// GapError says that a delivered event's stream version is not the next one
// the projection expects: an event of the stream is missing. It is never
// skipped; the projection stalls until it arrives.
type GapError struct {
	Projection string
	Stream     string
	Want, Got  int64
	Position   domain.Position
}

func (e *GapError) Error() string {
	return fmt.Sprintf("projection %s: stream %s: want version %d, got %d (position %s)", e.Projection, e.Stream, e.Want, e.Got, e.Position)
}

// Feed delivers the global log. The event store satisfies it.
type Feed interface {
	// Follow calls handle with every event after position after, in log
	// order and in batches, as they are committed, until ctx ends (it then
	// returns ctx.Err()) or handle fails (it then returns that error).
	Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error
}

// DecodedFeed is a Feed that hands its events decoded, each decoded once
// for all its followers (issue 17: feed; infra/follow.Shared).
type DecodedFeed interface {
	Feed
	// FollowDecoded is Follow, with events[i] the event recs[i] records,
	// or errs[i] why it does not decode. The events are shared with other
	// followers: handle must only read them.
	FollowDecoded(ctx context.Context, after domain.Position, handle func(ctx context.Context, recs []domain.RecordedEvent, events []domain.Event, errs []error) error) error
}

// Projector maintains one read model from the global log.
type Projector interface {
	// Name is the stable name of the projection, the key of its checkpoint.
	Name() string
	// Apply changes the read model for one event, through db, which is the
	// transaction that also records the checkpoint. Events the projection
	// does not care about are ignored. A poison failure (IsPoison) parks
	// the event's stream until Retry; any other error stops the projection
	// at the event, which is retried. No event is ever skipped.
	Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error
	// Tables names the read-model tables the projection owns, and only it
	// writes: a rebuild replaces exactly these.
	Tables() []string
}

// All returns the projectors of the read models, one per projection.
func All() []Projector {
	return []Projector{Shows{}, Orders{}, Sales{}, Holds{}, Analytics{},
		Refunds{},  // issue 14: money
		Waitlist{}, // issue 14: waitlist
	}
}
