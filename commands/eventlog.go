package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// eventLog reads and appends the streams of the event store for the
// handlers: decoding what it reads, encoding what they raised.
type eventLog struct {
	store    EventStore
	registry *domain.Registry
	newID    func() uuid.UUID
	log      *slog.Logger
}

// multi returns the store as a MultiAppender, or nil.
func (l *eventLog) multi() MultiAppender {
	m, _ := l.store.(MultiAppender)
	return m
}

// load returns the events of a stream and its version.
func (l *eventLog) load(ctx context.Context, stream string) ([]domain.Event, int64, error) {
	recs, err := l.store.ReadStream(ctx, stream, 1)
	if err != nil {
		return nil, 0, err
	}
	events, err := l.registry.DecodeAll(recs)
	if err != nil {
		return nil, 0, err
	}
	var version int64
	if n := len(recs); n > 0 {
		version = recs[n-1].Version
	}
	return events, version, nil
}

// loadOrder returns an order as its stream has it; one that was never
// placed has no status.
func (l *eventLog) loadOrder(ctx context.Context, id uuid.UUID) (*domain.Order, error) {
	events, version, err := l.load(ctx, domain.OrderStream(id))
	if err != nil {
		return nil, err
	}
	o := domain.NewOrder()
	o.Load(events, version)
	return o, nil
}

// save appends what an aggregate raised. With nothing raised it writes
// nothing and returns the current version.
func (l *eventLog) save(ctx context.Context, stream string, version int64, events []domain.Event) (AppendResult, error) {
	if len(events) == 0 {
		return AppendResult{Version: version}, nil
	}
	data, err := domain.Encode(events, l.newID, metadataOf(ctx))
	if err != nil {
		return AppendResult{}, err
	}
	return l.appendData(ctx, stream, version, data)
}

// appendData appends, retrying a few times on store failures other than a
// conflict with the very same event ids: the store's idempotent append makes
// that safe when a first try did commit but its answer was lost.
func (l *eventLog) appendData(ctx context.Context, stream string, version int64, data []domain.EventData) (AppendResult, error) {
	var err error
	for i := range 3 {
		var res AppendResult
		res, err = l.store.Append(ctx, stream, version, data)
		if err == nil || errors.Is(err, ErrConflict) || ctx.Err() != nil {
			return res, err
		}
		l.log.Warn("append failed, retrying", "stream", stream, "try", i+1, "err", err)
		time.Sleep(time.Duration(i+1) * 20 * time.Millisecond)
	}
	return AppendResult{}, err
}

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }
