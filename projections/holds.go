package projections

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var _ Projector = Holds{}

// Holds maintains hold_deadlines, the open holds and when they run out, which
// the hold expirer polls through Queries.DueHolds.
type Holds struct{}

// Name returns NameHolds.
func (Holds) Name() string { return NameHolds }

// Tables returns the tables of the projection.
func (Holds) Tables() []string { return []string{"hold_deadlines"} }

// Apply projects the events that open and close holds.
func (Holds) Apply(ctx context.Context, db DB, _ domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.SeatsHeld:
		return db.Exec(ctx, `insert into hold_deadlines (order_id, show_id, expires_at) values ($1, $2, $3) on conflict (order_id) do nothing`,
			e.OrderID, e.ShowID, e.ExpiresAt)
	case domain.SeatsSold:
		return db.Exec(ctx, `delete from hold_deadlines where order_id = $1`, e.OrderID)
	case domain.SeatsReleased:
		return db.Exec(ctx, `delete from hold_deadlines where order_id = $1`, e.OrderID)
	}
	return nil
}

var _ BatchProjector = Holds{}

// ApplyBatch projects the events of a batch that open and close holds, in
// at most two statements per run of them: the deletes, then the inserts.
func (p Holds) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &holdsRun{}, p.Apply)
}

// holdsRun is a run of SeatsHeld, SeatsSold and SeatsReleased. Of each
// order's inserts and deletes in turn, what remains is: a delete if there
// was one, then the first insert after the last delete, if any.
type holdsRun struct {
	orders keyed[uuid.UUID, holdChange]
}

type holdChange struct {
	deleted  bool
	inserted bool
	show     uuid.UUID
	expires  time.Time
}

func (r *holdsRun) add(_ domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.SeatsHeld:
		// A second insert of an order changes nothing: "on conflict do
		// nothing".
		if c := r.orders.get(e.OrderID); !c.inserted {
			c.inserted, c.show, c.expires = true, e.ShowID, e.ExpiresAt
		}
	case domain.SeatsSold:
		*r.orders.get(e.OrderID) = holdChange{deleted: true}
	case domain.SeatsReleased:
		*r.orders.get(e.OrderID) = holdChange{deleted: true}
	case domain.ShowCreated, domain.ShowDetailsChanged, domain.SectionPriceChanged, domain.ShowPublished, domain.ShowCancelled,
		domain.OrderPlaced, domain.OrderConfirmed, domain.OrderCancelled, domain.OrderExpired, domain.TicketCheckedIn:
		return runIgnored, nil
	default:
		return runAlone, nil
	}
	return runJoined, nil
}

func (r *holdsRun) flush(ctx context.Context, db DB) error {
	defer r.orders.reset()
	var deleted, inserted, shows []uuid.UUID
	var expires []time.Time
	for i, c := range r.orders.vals {
		if c.deleted {
			deleted = append(deleted, r.orders.keys[i])
		}
		if c.inserted {
			inserted, shows, expires = append(inserted, r.orders.keys[i]), append(shows, c.show), append(expires, c.expires)
		}
	}
	if len(deleted) > 0 {
		if err := db.Exec(ctx, `delete from hold_deadlines where order_id = any($1::uuid[])`, deleted); err != nil {
			return err
		}
	}
	if len(inserted) == 0 {
		return nil
	}
	return db.Exec(ctx, `insert into hold_deadlines (order_id, show_id, expires_at)
		select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
		on conflict (order_id) do nothing`,
		inserted, shows, expires)
}
