package commands

import (
	"context"
	"log/slog"
	"time"
)

// Refunder is the refund process manager, driven by the log through a
// projection (RefundWork) whose checkpoint makes it durable: every Interval
// it refunds the confirmed orders of cancelled shows (each an
// order.refunded decided on the order's stream, so that two processes, or
// a process and its restart, never refund twice) and settles every decided
// refund (the provider's refund under the event's key, the return of its
// units), however the refund was decided and whatever crashed since. It
// sees an order confirmed after its show was cancelled like any other, so
// a payment that raced a cancellation is refunded too.
type Refunder struct {
	Handler *Handler
	Work    RefundWork
	// Interval is how often it looks for work; Grace how old a decided
	// refund must be before it settles it, leaving the writer that decided
	// it time to do so itself.
	Interval time.Duration
	Grace    time.Duration
	Log      *slog.Logger
}

// refunderBatch bounds the work of one tick.
const refunderBatch = 200

// Run refunds and settles until ctx ends.
func (r *Refunder) Run(ctx context.Context) error {
	return runEvery(ctx, r.Interval, func() { r.Tick(ctx) })
}

// Tick does the work due now and reports how many orders it refunded (or
// found refunded) and how many refunds it settled.
func (r *Refunder) Tick(ctx context.Context) (refunded, settled int) {
	orders, err := r.Work.OrdersToRefund(ctx, refunderBatch)
	if err != nil && ctx.Err() == nil {
		r.Log.Warn("refunder: listing orders to refund failed", "err", err)
	}
	for _, id := range orders {
		if err := r.Handler.RefundCancelledOrder(ctx, id); err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("refunder: refunding an order of a cancelled show failed", "order", id, "err", err)
			}
			continue
		}
		refunded++
	}
	r.release(ctx)
	due, err := r.Work.UnsettledRefunds(ctx, r.Handler.Now().Add(-r.Grace), refunderBatch)
	if err != nil && ctx.Err() == nil {
		r.Log.Warn("refunder: listing unsettled refunds failed", "err", err)
	}
	for _, ref := range due {
		failure := r.Handler.SettleRefund(ctx, ref.OrderID, ref.RefundID)
		if ctx.Err() != nil {
			return refunded, settled
		}
		if failure != nil {
			r.Log.Warn("refunder: settling a refund failed", "order", ref.OrderID, "refund", ref.RefundID, "err", failure)
		}
		if err := r.Work.SettleRefund(ctx, ref.RefundID, failure); err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("refunder: recording a settlement failed", "refund", ref.RefundID, "err", err)
			}
		} else if failure == nil {
			settled++
		}
	}
	return refunded, settled
}

// release cancels the held orders of cancelled shows, freeing their holds.
func (r *Refunder) release(ctx context.Context) {
	holds, err := r.Work.HoldsToRelease(ctx, refunderBatch)
	if err != nil && ctx.Err() == nil {
		r.Log.Warn("refunder: listing holds of cancelled shows failed", "err", err)
	}
	for _, id := range holds {
		if err := r.Handler.ReleaseCancelledHold(ctx, id); err != nil && ctx.Err() == nil {
			r.Log.Warn("refunder: releasing a hold of a cancelled show failed", "order", id, "err", err)
		}
	}
}
