package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/projections"
)

// refundGrace is how old a decided refund must be before the refund
// process settles it: the writer that decided it settles it first.
const refundGrace = time.Second

// refundWork is the refund process's work, from the refunds projection.
type refundWork struct{ q *projections.Queries }

var _ commands.RefundWork = refundWork{}

func (w refundWork) OrdersToRefund(ctx context.Context, limit int) ([]uuid.UUID, error) {
	return w.q.OrdersToRefund(ctx, limit)
}

func (w refundWork) UnsettledRefunds(ctx context.Context, before time.Time, limit int) ([]commands.RefundRef, error) {
	refs, err := w.q.UnsettledRefunds(ctx, before, limit)
	out := make([]commands.RefundRef, len(refs))
	for i, r := range refs {
		out[i] = commands.RefundRef{OrderID: r.OrderID, RefundID: r.RefundID}
	}
	return out, err
}

func (w refundWork) SettleRefund(ctx context.Context, refundID string, failure error) error {
	return w.q.SettleRefund(ctx, refundID, failure)
}
