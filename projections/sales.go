package projections

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var _ Projector = Sales{}

// Sales maintains rm_sales, the sales figures of each show. Units (held,
// sold, expired, cancelled) and revenue come from the show's inventory
// events; order counts come from the order events, each order counted once by
// its outcome, through rm_sales_orders. Expiry tombstones of orders never
// placed count no order.
type Sales struct{}

// Name returns NameSales.
func (Sales) Name() string { return NameSales }

// Apply projects the events that move sales figures.
func (Sales) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.ShowCreated:
		return db.Exec(ctx, `insert into rm_sales (show_id, organizer_id) values ($1, $2) on conflict (show_id) do nothing`,
			e.ShowID, e.OrganizerID)
	case domain.SeatsHeld:
		return db.Exec(ctx, `update rm_sales set held = held + $2 where show_id = $1`,
			e.ShowID, units(e.Items, e.Seats))
	case domain.SeatsSold:
		return db.Exec(ctx, `update rm_sales set held = held - $2, sold = sold + $2, revenue_cents = revenue_cents + $3 where show_id = $1`,
			e.ShowID, units(e.Items, e.Seats), e.TotalCents)
	case domain.SeatsReleased:
		var expired, cancelled int
		switch n := units(e.Items, e.Seats); e.Reason {
		case domain.ReleaseExpired:
			expired = n
		case domain.ReleaseCancelled:
			cancelled = n
		}
		return db.Exec(ctx, `update rm_sales set held = held - $2, expired = expired + $3, cancelled = cancelled + $4 where show_id = $1`,
			e.ShowID, units(e.Items, e.Seats), expired, cancelled)
	case domain.OrderPlaced:
		return db.Exec(ctx, `insert into rm_sales_orders (order_id, show_id, status) values ($1, $2, $3) on conflict (order_id) do nothing`,
			e.OrderID, e.ShowID, string(domain.OrderStatusHeld))
	case domain.OrderConfirmed:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusConfirmed, "orders_confirmed")
	case domain.OrderCancelled:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusCancelled, "orders_cancelled")
	case domain.OrderExpired:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusExpired, "orders_expired")
	}
	return nil
}

// countOrder moves a held order to its outcome and counts it in column. An
// order that was never placed, or that already has an outcome, counts nothing.
func countOrder(ctx context.Context, db DB, order uuid.UUID, status domain.OrderStatus, column string) error {
	var show uuid.UUID
	err := db.QueryRow(ctx, `update rm_sales_orders set status = $2 where order_id = $1 and status = $3 returning show_id`,
		order, string(status), string(domain.OrderStatusHeld)).Scan(&show)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// column is one of three constants above, never input.
	return db.Exec(ctx, `update rm_sales set `+column+` = `+column+` + 1 where show_id = $1`, show)
}

func units(items []domain.HeldItem, seats []domain.HeldSeat) int {
	n := len(seats)
	for _, it := range items {
		n += it.Quantity
	}
	return n
}
