package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// cancelOrder ends held orders at their buyers' request.
type cancelOrder struct {
	events  *eventLog
	locks   *streamLocks
	settle  *settler
	now     func() time.Time
	retries int
	log     *slog.Logger
}

func newCancelOrder(events *eventLog, locks *streamLocks, settle *settler, now func() time.Time, retries int, log *slog.Logger) *cancelOrder {
	mustHave("newCancelOrder", events, locks, settle, now, log)
	return &cancelOrder{events: events, locks: locks, settle: settle, now: now, retries: retries, log: log}
}

// handle ends a held order at its buyer's request and frees its seats.
func (h *cancelOrder) handle(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	stream := domain.OrderStream(id)
	var out Result
	var cancelled *domain.Order
	err := func() error {
		defer h.locks.lock(stream)()
		return retry(ctx, h.retries, func() error {
			o, err := ownOrder(ctx, h.events, actor, id)
			if err != nil {
				return err
			}
			if err := o.Cancel(h.now()); err != nil {
				return err
			}
			res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
			if err != nil {
				return err
			}
			cancelled, out = o, Result{ID: id, Version: res.Version, Position: res.Position}
			return nil
		})
	}()
	if err != nil {
		return Result{}, err
	}
	if pos, err := h.settle.batched(ctx, cancelled.ShowID, id, cancelled); err != nil {
		h.log.Warn("settling a cancelled order failed", "order", id, "err", err)
	} else if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// ownOrder loads an order its buyer may act on; anyone else's order is
// "not found", so that order ids do not leak.
func ownOrder(ctx context.Context, events *eventLog, actor domain.Actor, id uuid.UUID) (*domain.Order, error) {
	o, err := events.loadOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.Status == "" || o.BuyerID != actor.UserID {
		return nil, domain.ErrOrderNotFound
	}
	return o, nil
}
