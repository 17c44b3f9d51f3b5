package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Expirer settles holds that ran out unpaid, including those that ran out
// while no process was running: it polls the hold index every Interval.
type Expirer struct {
	Handler  *Handler
	Holds    HoldIndex
	Interval time.Duration
	Log      *slog.Logger
}

// Run settles due holds until ctx ends.
func (e *Expirer) Run(ctx context.Context) error {
	t := time.NewTicker(e.Interval)
	defer t.Stop()
	for {
		e.Tick(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick settles the holds due now and reports how many it settled.
func (e *Expirer) Tick(ctx context.Context) int {
	due, err := e.Holds.DueHolds(ctx, e.Handler.Now(), 500)
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Warn("expirer: listing due holds failed", "err", err)
		}
		return 0
	}
	// The holds of a drop run out together: each show's are settled in one
	// append.
	var shows []uuid.UUID
	orders := map[uuid.UUID][]uuid.UUID{}
	for _, h := range due {
		if _, ok := orders[h.ShowID]; !ok {
			shows = append(shows, h.ShowID)
		}
		orders[h.ShowID] = append(orders[h.ShowID], h.OrderID)
	}
	n := 0
	for _, show := range shows {
		settled, err := e.Handler.SettleMany(ctx, show, orders[show])
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("expirer: settling failed", "show", show, "orders", len(orders[show]), "err", err)
			}
			continue
		}
		n += settled
	}
	return n
}
