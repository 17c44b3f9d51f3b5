package webhooks

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Store keeps endpoints, deliveries and the fanout's checkpoint.
// infra/postgres implements it.
type Store interface {
	// CreateEndpoint stores a new endpoint.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	// Endpoint returns the endpoint id, or ErrNotFound.
	Endpoint(ctx context.Context, id uuid.UUID) (Endpoint, error)
	// Endpoints returns at most limit endpoints after the one at cursor
	// seq (0: from the first), oldest first, of owner (uuid.Nil: of
	// everyone).
	Endpoints(ctx context.Context, owner uuid.UUID, after int64, limit int) ([]Endpoint, error)
	// UpdateEndpoint saves e's secrets and its enabled state; on enabling,
	// its pending deliveries are due at once with a fresh horizon giveUpAt.
	// ErrNotFound when there is no such endpoint.
	UpdateEndpoint(ctx context.Context, e Endpoint, giveUpAt time.Time) error

	// Deliveries returns at most limit deliveries of endpoint before the
	// one at seq before (0: from the newest), newest first.
	Deliveries(ctx context.Context, endpoint uuid.UUID, before int64, limit int) ([]Delivery, error)
	// Delivery returns delivery id with at most limit of its attempts,
	// newest first, or ErrNotFound.
	Delivery(ctx context.Context, id uuid.UUID, limit int) (Delivery, []Attempt, error)
	// Redeliver makes delivery id pending again, due at now with the
	// horizon giveUpAt. ErrNotFound when there is no such delivery.
	Redeliver(ctx context.Context, id uuid.UUID, now, giveUpAt time.Time) error

	// FanoutCheckpoint returns the position of the last event the fanout
	// handled.
	FanoutCheckpoint(ctx context.Context) (domain.Position, error)
	// Fanout records, in one transaction that locks the checkpoint, the
	// items after the checkpoint as it stands: each show's organizer, and
	// a pending delivery (due at now, given up at giveUpAt) of each
	// deliverable item to every enabled endpoint created before it that
	// subscribes to its type and sees its show; then moves the checkpoint
	// to to. It returns how many deliveries it queued. It calls an item's
	// Encode only when an enabled endpoint subscribes to its type.
	Fanout(ctx context.Context, to domain.Position, items []Item, now, giveUpAt time.Time) (int, error)

	// Claim takes at most limit pending deliveries due at now, at most
	// perEndpoint of each enabled endpoint and none of skip, for lease:
	// no other Claim returns them until now+lease.
	Claim(ctx context.Context, now time.Time, limit, perEndpoint int, skip []uuid.UUID, lease time.Duration) ([]Claimed, error)
	// Record stores attempt a of a claimed delivery and its outcome: done
	// (succeeded), else pending until next, or, when next is zero, failed,
	// with the endpoint disabled for reason. A claim that was lost (its
	// lease ran out and another took it) changes only the attempt log.
	Record(ctx context.Context, c Claimed, a Attempt, done bool, next time.Time, reason string) error
}

// Item is an event as the fanout hands it to the store.
type Item struct {
	Position domain.Position
	EventID  uuid.UUID
	Type     string
	// ShowID is the show the event belongs to (uuid.Nil: none);
	// OrganizerID is set by show.created.
	ShowID      uuid.UUID
	OrganizerID uuid.UUID
	RecordedAt  time.Time
	// Payload is the body to deliver; nil: the event is not delivered,
	// unless Encode is set.
	Payload []byte
	// Encode, when set, returns the body to deliver and the event's show
	// (ok false: not delivered). The store calls it only when an enabled
	// endpoint subscribes to Type (issue 17: feed: most events of a drop
	// go to no endpoint, and their payloads are not built).
	Encode func() (payload []byte, show uuid.UUID, ok bool)
}

// Claimed is a delivery claimed for sending, with its endpoint.
type Claimed struct {
	Delivery Delivery
	Endpoint Endpoint
	// Claim is the claim's token: Record ignores a claim that was lost.
	Claim uuid.UUID
}

// Feed delivers the global log; the event store satisfies it (see
// projections.Feed).
type Feed interface {
	// Follow calls handle with every event after position after, in log
	// order and in batches, until ctx ends or handle fails.
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
