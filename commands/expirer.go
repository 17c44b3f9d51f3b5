package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Expirer settles holds that ran out unpaid, including those that ran out
// while no process was running: it polls the hold index every interval.
type Expirer struct {
	settle   HoldSettler
	holds    HoldIndex
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
}

var _ HoldSettler = (*Handler)(nil)

// NewExpirer returns an expirer that finds the holds due by now in holds
// every interval and settles them with settle (a *Handler is one).
func NewExpirer(settle HoldSettler, holds HoldIndex, now func() time.Time, interval time.Duration, log *slog.Logger) *Expirer {
	mustHave("NewExpirer", settle, holds, now, log)
	return &Expirer{settle: settle, holds: holds, now: now, interval: interval, log: log}
}

// Run settles due holds until ctx ends.
func (e *Expirer) Run(ctx context.Context) error {
	return runEvery(ctx, e.interval, func() { e.Tick(ctx) })
}

// Tick settles the holds due now and reports how many it settled.
func (e *Expirer) Tick(ctx context.Context) int {
	due, err := e.holds.DueHolds(ctx, e.now(), 500)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("expirer: listing due holds failed", "err", err)
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
		settled, err := e.settle.SettleMany(ctx, show, orders[show])
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("expirer: settling failed", "show", show, "orders", len(orders[show]), "err", err)
			}
			continue
		}
		n += settled
	}
	return n
}

// runEvery calls tick at once and then every interval until ctx ends, and
// returns ctx's error.
func runEvery(ctx context.Context, interval time.Duration, tick func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		tick()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
