package projections

import (
	"context"

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
