package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// The SQL of this file uses the tables of migration
// infra/postgres/migrations/00013_parked_streams.sql.

// ErrPoison marks a failure that applying the same event again gives again
// (see IsPoison). A projector wraps it to have its own refusal of an event
// park the event's stream.
var ErrPoison = errors.New("poison event")

// DecodeError says that an event could not be decoded: it is a poison event.
type DecodeError struct{ Err error }

// Error names the failure.
func (e *DecodeError) Error() string { return "decode: " + e.Err.Error() }

// Unwrap returns the failure.
func (e *DecodeError) Unwrap() error { return e.Err }

// IsPoison reports whether err is deterministic: applying the same event
// again, with the same projector, fails again. Those are ErrPoison, a
// *DecodeError and the PostgreSQL data errors (SQLSTATE class 22, such as
// a text with a NUL character, and class 23, integrity constraints).
// Everything else (a lost connection, a serialization failure, a deadlock,
// a bug that fails every event alike) is taken as transient: the
// projection stalls and retries rather than park stream after stream.
func IsPoison(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrPoison) {
		return true
	}
	if _, ok := errors.AsType[*DecodeError](err); ok {
		return true
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		class := coded.SQLState()
		return strings.HasPrefix(class, "22") || strings.HasPrefix(class, "23")
	}
	return false
}

// ParkedStream is a stream a projection parked: the first event it could
// not apply, and why. The stream's later events wait behind it.
type ParkedStream struct {
	Projection string          `json:"projection"`
	Stream     string          `json:"stream"`
	Version    int64           `json:"version"`
	Position   domain.Position `json:"-"`
	Type       string          `json:"type"`
	Error      string          `json:"error"`
	ParkedAt   time.Time       `json:"parked_at"`
	// Waiting counts the events waiting, the parked one included; only
	// Queries.ParkedStreams fills it.
	Waiting int `json:"waiting,omitempty"`
}

// MarshalJSON renders the parked stream with its position as a token.
func (s ParkedStream) MarshalJSON() ([]byte, error) {
	type plain ParkedStream
	return json.Marshal(struct {
		plain
		Position string `json:"position"`
	}{plain(s), s.Position.String()})
}

// ParkedError says that a read needs a stream a projection parked at or
// before the position it must reflect: waiting will not help.
type ParkedError struct {
	Parked   ParkedStream
	Position domain.Position
}

// Error names the projection, the stream and the event.
func (e *ParkedError) Error() string {
	return fmt.Sprintf("projection %s parked stream %s at version %d (%s, position %s), before position %s: %s",
		e.Parked.Projection, e.Parked.Stream, e.Parked.Version, e.Parked.Type, e.Parked.Position, e.Position, e.Parked.Error)
}

// maxParkError bounds the error recorded with a parked stream.
const maxParkError = 2000

// storable returns s as PostgreSQL text can hold it: valid UTF-8 without
// NUL, at most maxParkError bytes. The error of a poison event may quote
// the very input that poisons it.
func storable(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\x00`)
	if len(s) > maxParkError {
		s = s[:maxParkError]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// parkedSQL reads the parked streams of the projections $1, each one's in
// the order they were parked, locked against a retry until the
// transaction ends: an event queued behind a stream is never left behind by
// a retry that finished meanwhile.
const parkedSQL = `select name, stream_id, version, commit_pos, prepare_pos, type, error, parked_at
	from projection_parked_streams where name = any($1) order by name, parked_at, stream_id for share`

// ParkedDB is a DB whose transaction read the parked streams of its
// projections with the locks of their checkpoints (infra/postgres's Apply):
// the runner's read of them costs no round trip of its own.
type ParkedDB interface {
	DB
	// Parked returns the parked streams of the projection name as the
	// transaction read them, and false when it did not read them.
	Parked(name string) ([]ParkedStream, bool)
}

// loadParked returns the parked streams of the projection name.
func loadParked(ctx context.Context, db DB, name string) ([]ParkedStream, error) {
	if pdb, ok := db.(ParkedDB); ok {
		if parked, ok := pdb.Parked(name); ok {
			return parked, nil
		}
	}
	sql, args := ParkedQuery(name)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read parked streams: %w", err)
	}
	return ScanParked(name, rows)
}

// queueSQL adds an event behind its parked stream.
const queueSQL = `insert into projection_parked_events
	(name, stream_id, version, commit_pos, prepare_pos, event_id, type, data, metadata, recorded_at)
	values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict do nothing`

// queue adds rec behind its stream, parked in the projection name.
func queue(ctx context.Context, db DB, name string, rec domain.RecordedEvent) error {
	data, meta := rec.Data, rec.Metadata
	if data == nil {
		data = []byte{}
	}
	if meta == nil {
		meta = []byte{}
	}
	err := db.Exec(ctx, queueSQL, name, rec.StreamID, rec.Version, int64(rec.Position.Commit), int64(rec.Position.Prepare),
		rec.ID, rec.Type, data, meta, rec.RecordedAt)
	if err != nil {
		return fmt.Errorf("queue %s@%d behind its parked stream: %w", rec.StreamID, rec.Version, err)
	}
	return nil
}

// park parks the stream of rec in the projection name at rec, which failed
// with cause, and returns the parked stream.
func park(ctx context.Context, db DB, name string, rec domain.RecordedEvent, cause error) (ParkedStream, error) {
	s := ParkedStream{Projection: name, Stream: rec.StreamID, Version: rec.Version, Position: rec.Position,
		Type: rec.Type, Error: storable(cause.Error()), ParkedAt: time.Now().UTC()}
	err := db.Exec(ctx, `insert into projection_parked_streams
		(name, stream_id, version, commit_pos, prepare_pos, type, error, parked_at) values ($1, $2, $3, $4, $5, $6, $7, $8)
		on conflict (name, stream_id) do nothing`,
		name, s.Stream, s.Version, int64(s.Position.Commit), int64(s.Position.Prepare), s.Type, s.Error, s.ParkedAt)
	if err != nil {
		return s, fmt.Errorf("park %s@%d: %w", rec.StreamID, rec.Version, err)
	}
	return s, queue(ctx, db, name, rec)
}

// holdBack splits recs, decoded as events or failed with errs, into those
// to apply and those of a parked stream, which it queues behind their
// stream.
func holdBack(ctx context.Context, db DB, name string, parked []ParkedStream, recs []domain.RecordedEvent, events []domain.Event, errs []error) ([]domain.RecordedEvent, []domain.Event, []error, error) {
	if len(parked) == 0 || len(recs) == 0 {
		return recs, events, errs, nil
	}
	is := make(map[string]bool, len(parked))
	for _, s := range parked {
		is[s.Stream] = true
	}
	var keepRecs []domain.RecordedEvent
	var keepEvents []domain.Event
	var keepErrs []error
	for i, rec := range recs {
		if !is[rec.StreamID] {
			keepRecs, keepEvents, keepErrs = append(keepRecs, rec), append(keepEvents, events[i]), append(keepErrs, errs[i])
			continue
		}
		if err := queue(ctx, db, name, rec); err != nil {
			return nil, nil, nil, err
		}
	}
	return keepRecs, keepEvents, keepErrs, nil
}

// Transactor runs work in one transaction of the read-model database.
type Transactor interface {
	// InTx runs fn in a transaction and commits it when fn returns nil; an
	// error of fn rolls it back and is returned as it is. fn may use
	// savepoints.
	InTx(ctx context.Context, fn func(db DB) error) error
}

// RetryResult is what Retry did with a parked stream.
type RetryResult struct {
	// Applied counts the waiting events applied.
	Applied int
	// Parked is the stream as it stays parked, when an event failed
	// again; nil when the stream is no longer parked.
	Parked *ParkedStream
}

// retryChunk is how many waiting events Retry applies per transaction.
const retryChunk = 500

// Retry resumes the stream a projection parked: it applies the events
// waiting behind it with p (a fixed projector), in order, each in a
// savepoint. When all are applied the stream is no longer parked and its
// next events are applied as they come. When one fails again with a poison
// failure, those before it stay applied and the stream stays parked at it,
// with the new error; any other failure rolls the current transaction back
// and is returned. A stream that is not parked gives a zero result.
func Retry(ctx context.Context, tx Transactor, registry *domain.Registry, p Projector, stream string) (RetryResult, error) {
	var res RetryResult
	for {
		var step retryStep
		err := tx.InTx(ctx, func(db DB) error {
			var err error
			step, err = retryOnce(ctx, db, registry, p, stream)
			return err
		})
		if err != nil {
			return res, err
		}
		res.Applied += step.applied
		res.Parked = step.parked
		if step.done {
			return res, nil
		}
	}
}

// retryStep is what one transaction of Retry did.
type retryStep struct {
	applied int
	parked  *ParkedStream // the event that failed again, if one did
	done    bool          // nothing more to do
}

// retryOnce applies, in the transaction of db, up to retryChunk events
// waiting behind the parked stream, each in a savepoint, and moves the
// parked stream past them.
func retryOnce(ctx context.Context, db DB, registry *domain.Registry, p Projector, stream string) (retryStep, error) {
	name := p.Name()
	fail := func(err error) (retryStep, error) {
		return retryStep{}, fmt.Errorf("retry %s %s: %w", name, stream, err)
	}
	var version int64
	err := db.QueryRow(ctx, `select version from projection_parked_streams where name = $1 and stream_id = $2 for update`,
		name, stream).Scan(&version)
	if errors.Is(err, ErrNotFound) {
		return retryStep{done: true}, nil
	}
	if err != nil {
		return fail(err)
	}
	recs, err := waiting(ctx, db, name, stream, retryChunk)
	if err != nil {
		return retryStep{}, err
	}
	var step retryStep
	for _, rec := range recs {
		if err := db.Exec(ctx, "savepoint retry_event"); err != nil {
			return fail(err)
		}
		e, derr := registry.DecodeRecorded(rec)
		if aerr := applyEvents(ctx, db, p, []domain.RecordedEvent{rec}, []domain.Event{e}, []error{derr}); aerr != nil {
			if !IsPoison(aerr) {
				return retryStep{}, aerr
			}
			if err := db.Exec(ctx, "rollback to savepoint retry_event"); err != nil {
				return fail(err)
			}
			step.parked = &ParkedStream{Projection: name, Stream: stream, Version: rec.Version, Position: rec.Position,
				Type: rec.Type, Error: storable(aerr.Error()), ParkedAt: time.Now().UTC()}
			break
		}
		if err := db.Exec(ctx, "release savepoint retry_event"); err != nil {
			return fail(err)
		}
		step.applied++
		version = rec.Version
	}
	if step.applied > 0 {
		if err := db.Exec(ctx, `delete from projection_parked_events where name = $1 and stream_id = $2 and version <= $3`,
			name, stream, version); err != nil {
			return fail(err)
		}
	}
	if s := step.parked; s != nil {
		step.done = true
		if err := db.Exec(ctx, `update projection_parked_streams set version = $3, commit_pos = $4, prepare_pos = $5,
			type = $6, error = $7, parked_at = $8 where name = $1 and stream_id = $2`,
			name, stream, s.Version, int64(s.Position.Commit), int64(s.Position.Prepare), s.Type, s.Error, s.ParkedAt); err != nil {
			return fail(err)
		}
		return step, nil
	}
	var more bool
	if err := db.QueryRow(ctx, `select exists (select 1 from projection_parked_events where name = $1 and stream_id = $2)`,
		name, stream).Scan(&more); err != nil {
		return fail(err)
	}
	if !more {
		step.done = true
		if err := db.Exec(ctx, `delete from projection_parked_streams where name = $1 and stream_id = $2`, name, stream); err != nil {
			return fail(err)
		}
		return step, nil
	}
	// More wait: the stream stays parked at the next of them until the
	// next transaction applies it.
	if err := db.Exec(ctx, `update projection_parked_streams s set (version, commit_pos, prepare_pos, type, error) =
		(select e.version, e.commit_pos, e.prepare_pos, e.type, '' from projection_parked_events e
		 where e.name = s.name and e.stream_id = s.stream_id order by e.version limit 1)
		where s.name = $1 and s.stream_id = $2`, name, stream); err != nil {
		return fail(err)
	}
	return step, nil
}

// waiting returns up to limit events waiting behind a parked stream, in
// order.
func waiting(ctx context.Context, db DB, name, stream string, limit int) ([]domain.RecordedEvent, error) {
	rows, err := db.Query(ctx, `select version, commit_pos, prepare_pos, event_id, type, data, metadata, recorded_at
		from projection_parked_events where name = $1 and stream_id = $2 order by version limit $3`, name, stream, limit)
	if err != nil {
		return nil, fmt.Errorf("read waiting events of %s: %w", stream, err)
	}
	defer rows.Close()
	var out []domain.RecordedEvent
	for rows.Next() {
		rec := domain.RecordedEvent{StreamID: stream}
		var c, p int64
		var id uuid.UUID
		if err := rows.Scan(&rec.Version, &c, &p, &id, &rec.Type, &rec.Data, &rec.Metadata, &rec.RecordedAt); err != nil {
			return nil, fmt.Errorf("read waiting events of %s: %w", stream, err)
		}
		rec.ID, rec.Position = id, pos(c, p)
		if len(rec.Metadata) == 0 {
			rec.Metadata = nil
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read waiting events of %s: %w", stream, err)
	}
	return out, nil
}
