package webhooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Fanout follows the global log with its own checkpoint and queues a
// delivery of each deliverable event to every endpoint that wants it. It
// is a consumer beside the projections: it reads the log and writes only
// the webhook tables, so neither holds the other back.
type Fanout struct {
	Feed     Feed
	Store    Store
	Registry *domain.Registry
	Backoff  Backoff
	Now      func() time.Time
	Log      *slog.Logger
	// Queued, when set, is called after a batch queued deliveries (the
	// dispatcher's Wake).
	Queued func()
	// Retry is the wait before following again after a failure.
	Retry time.Duration
}

// Run follows the log until ctx ends.
func (f *Fanout) Run(ctx context.Context) error {
	for {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.Log.Warn("webhooks: fanout failed; retrying", "err", err, "in", f.Retry)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.Retry):
		}
	}
}

func (f *Fanout) follow(ctx context.Context) error {
	cp, err := f.Store.FanoutCheckpoint(ctx)
	if err != nil {
		return err
	}
	if df, ok := f.Feed.(DecodedFeed); ok { // issue 17: feed: decoded once for every follower
		return df.FollowDecoded(ctx, cp, f.handleDecoded)
	}
	return f.Feed.Follow(ctx, cp, func(ctx context.Context, batch []domain.RecordedEvent) error {
		return f.handleDecoded(ctx, batch, nil, nil)
	})
}

// handleDecoded queues the deliveries of a batch: events and errs are its
// events decoded, or nil when the fanout decodes them.
func (f *Fanout) handleDecoded(ctx context.Context, batch []domain.RecordedEvent, events []domain.Event, errs []error) error {
	if len(batch) == 0 {
		return nil
	}
	items := make([]Item, 0, len(batch))
	for i, rec := range batch {
		var e domain.Event
		var err error
		if events != nil {
			e, err = events[i], errs[i]
		}
		if it, ok := f.item(rec, e, err); ok {
			items = append(items, it)
		}
	}
	now := f.Now()
	n, err := f.Store.Fanout(ctx, batch[len(batch)-1].Position, items, now, now.Add(f.Backoff.Horizon))
	if err == nil && n > 0 && f.Queued != nil {
		f.Queued()
	}
	return err
}

// Payload is the body of a delivery.
type Payload struct {
	// ID is the event's id: the same on every attempt, for deduplication.
	ID uuid.UUID `json:"id"`
	// Type is the event's stable type name.
	Type string `json:"type"`
	// Position is the event's place in the global log.
	Position   string          `json:"position"`
	Stream     string          `json:"stream"`
	Version    int64           `json:"version"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// item is what the fanout needs of rec, if anything: the owner of a new
// show, the payload of a deliverable event, encoded only when an endpoint
// subscribes to it. e and err are rec decoded, or both nil when item
// decodes it.
func (f *Fanout) item(rec domain.RecordedEvent, e domain.Event, err error) (Item, bool) {
	if rec.Type != "show.created" && !deliverable(rec.Type) {
		return Item{}, false
	}
	it := Item{Position: rec.Position, EventID: rec.ID, Type: rec.Type, RecordedAt: rec.RecordedAt}
	if rec.Type == "show.created" {
		_, ids, ok := f.encode(rec, e, err)
		if !ok {
			return Item{}, false
		}
		it.ShowID, it.OrganizerID = ids.ShowID, ids.OrganizerID
	}
	if deliverable(rec.Type) {
		it.Encode = func() ([]byte, uuid.UUID, bool) {
			data, ids, ok := f.encode(rec, e, err)
			if !ok {
				return nil, uuid.Nil, false
			}
			payload, err := json.Marshal(Payload{ID: rec.ID, Type: rec.Type, Position: rec.Position.String(), Stream: rec.StreamID,
				Version: rec.Version, OccurredAt: rec.RecordedAt.UTC(), Data: data})
			return payload, ids.ShowID, err == nil
		}
	}
	return it, true
}

// eventIDs are the ids the fanout reads from an event's data.
type eventIDs struct {
	ShowID      uuid.UUID `json:"show_id"`
	OrganizerID uuid.UUID `json:"organizer_id"`
}

// encode returns the data of rec's event, e (or rec decoded, when e and
// err are nil), as JSON, with its ids; ok false, logged, when it does not
// decode.
func (f *Fanout) encode(rec domain.RecordedEvent, e domain.Event, err error) (data []byte, ids eventIDs, ok bool) {
	if e == nil && err == nil {
		e, err = f.Registry.DecodeRecorded(rec)
	}
	if err == nil {
		data, err = json.Marshal(e)
	}
	if err == nil {
		err = json.Unmarshal(data, &ids)
	}
	if err != nil {
		f.Log.Error("webhooks: event not delivered: it does not decode", "stream", rec.StreamID, "version", rec.Version, "err", err)
		return nil, eventIDs{}, false
	}
	return data, ids, true
}
