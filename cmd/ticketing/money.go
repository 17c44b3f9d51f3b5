package main

import (
	"context"
	"fmt"
	"io"
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

// refundBacklog returns the refund process's backlog.
func refundBacklog(ctx context.Context, q *projections.Queries) (*projections.RefundBacklog, error) {
	b, err := q.RefundBacklog(ctx)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// printRefundProcess writes the refund process's backlog, when there is
// one: orders of cancelled shows left to refund, and decided refunds not
// settled, of which how many failed (a stuck one keeps failing).
func printRefundProcess(w io.Writer, b *projections.RefundBacklog) {
	if b == nil {
		return
	}
	state := "idle"
	switch {
	case b.Failing > 0:
		state = "failing"
	case b.OrdersToRefund > 0 || b.Unsettled > 0:
		state = "in progress"
	}
	oldest := "-"
	if b.Oldest != nil {
		oldest = b.Oldest.UTC().Format(time.RFC3339) + " (" + time.Since(*b.Oldest).Round(time.Second).String() + " ago)"
	}
	fmt.Fprintln(w, "\nREFUND PROCESS\tORDERS TO REFUND\tUNSETTLED REFUNDS\tFAILING\tOLDEST UNSETTLED")
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\n", state, b.OrdersToRefund, b.Unsettled, b.Failing, oldest)
}

func (w refundWork) HoldsToRelease(ctx context.Context, limit int) ([]uuid.UUID, error) {
	return w.q.HoldsToRelease(ctx, limit)
}
