package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// RefundResult is a decided refund.
type RefundResult struct {
	ID          uuid.UUID // the order
	RefundID    string
	AmountCents int64
	Tickets     []uuid.UUID
	Status      domain.OrderStatus
	Version     int64
	Position    domain.Position
	// Settled says the provider refunded the money and the units went
	// back on sale if asked; when false the refund process finishes it.
	Settled bool
}

// refundOrder refunds confirmed orders: the decision is an order.refunded
// appended to the order's stream with its expected version; only then does
// money move, by the provider's refund under the event's RefundID, and the
// units go back on sale (show.seats_returned). Both steps are idempotent
// and re-driven by the refund process after a crash (see Refunder).
type refundOrder struct {
	events   *eventLog
	shows    *showRepository
	locks    *streamLocks
	payments PaymentProvider
	now      func() time.Time
	retries  int
	log      *slog.Logger
	// offers appends a show's changes with the orders of the waiting-list
	// offers a restock makes (issue 14: waitlist); only its append is used.
	offers *settler
}

func newRefundOrder(events *eventLog, shows *showRepository, locks *streamLocks, payments PaymentProvider,
	now func() time.Time, retries int, log *slog.Logger) *refundOrder {
	mustHave("newRefundOrder", events, shows, locks, payments, now, log)
	offers := &settler{events: events, shows: shows, locks: locks, now: now, newID: events.newID, retries: retries, log: log}
	return &refundOrder{events: events, shows: shows, locks: locks, payments: payments, now: now, retries: retries, log: log,
		offers: offers}
}

// handle refunds tickets of order id for actor, the show's organizer or an
// admin. A restock of a cancelled show fails with domain.ErrShowCancelled.
func (h *refundOrder) handle(ctx context.Context, actor domain.Actor, id uuid.UUID, r domain.RefundRequest) (RefundResult, error) {
	o, err := h.events.loadOrder(ctx, id)
	if err != nil {
		return RefundResult{}, err
	}
	if !o.Exists() || o.ShowID == uuid.Nil {
		return RefundResult{}, domain.ErrOrderNotFound
	}
	s, err := h.shows.load(ctx, o.ShowID)
	if err != nil {
		return RefundResult{}, err
	}
	if !domain.CanManage(actor, s) {
		return RefundResult{}, ErrForbidden
	}
	if r.Restock && s.Status == domain.ShowStatusCancelled {
		return RefundResult{}, domain.ErrShowCancelled
	}
	return h.refund(ctx, id, r)
}

// cancelled refunds every ticket left of order id, whose show must be
// cancelled; an order refunded already, or never paid, is left alone.
func (h *refundOrder) cancelled(ctx context.Context, id uuid.UUID) error {
	o, err := h.events.loadOrder(ctx, id)
	if err != nil {
		return err
	}
	s, err := h.shows.load(ctx, o.ShowID)
	if err != nil {
		return err
	}
	if s.Status != domain.ShowStatusCancelled {
		return fmt.Errorf("refund order %s: its show is %s: %w", id, s.Status, domain.ErrInvalidState)
	}
	_, err = h.refund(ctx, id, domain.RefundRequest{Reason: domain.ReasonShowCancelled})
	if errors.Is(err, domain.ErrAlreadyRefunded) || errors.Is(err, domain.ErrNotRefundable) {
		return nil
	}
	return err
}

// refund decides the refund on the order's stream, then settles it.
func (h *refundOrder) refund(ctx context.Context, id uuid.UUID, r domain.RefundRequest) (RefundResult, error) {
	stream := domain.OrderStream(id)
	unlock := h.locks.lock(stream)
	var out RefundResult
	var e domain.OrderRefunded
	err := retry(ctx, h.retries, func() error {
		o, err := h.events.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		if err := o.Refund(r, h.now()); err != nil {
			return err
		}
		e = o.Changes()[0].(domain.OrderRefunded)
		res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
		out = RefundResult{ID: id, RefundID: e.RefundID, AmountCents: e.AmountCents, Tickets: e.TicketIDs,
			Status: o.Status, Version: res.Version, Position: res.Position}
		return err
	})
	unlock()
	if err != nil {
		return RefundResult{}, err
	}
	pos, err := h.settle(ctx, e)
	if err != nil {
		// Decided for good: the refund process settles it.
		h.log.Warn("settling a refund failed", "order", id, "refund", e.RefundID, "err", err)
		return out, nil
	}
	out.Settled = true
	if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// settle moves the money of a decided refund and returns its units to
// sale when it restocks; both are idempotent. The return is decided on the
// show's stream with its expected version, and appended with the
// waiting-list offers it makes and their orders (as a release is). It
// returns the position of the show's append, if any.
func (h *refundOrder) settle(ctx context.Context, e domain.OrderRefunded) (domain.Position, error) {
	if e.AmountCents > 0 && e.PaymentID != "" {
		if _, err := h.payments.Refund(ctx, e.RefundID, e.PaymentID, e.AmountCents); err != nil {
			return domain.Position{}, fmt.Errorf("provider refund %s: %w", e.RefundID, err)
		}
	}
	if !e.Restock {
		return domain.Position{}, nil
	}
	defer h.locks.lock(domain.ShowStream(e.ShowID))()
	var pos domain.Position
	err := retry(ctx, h.retries, func() error {
		c, err := h.shows.current(ctx, e.ShowID)
		if err != nil {
			return err
		}
		if err := c.show.ReturnSeats(e, h.now()); err != nil {
			h.shows.drop(e.ShowID)
			return err
		}
		if len(c.show.Changes()) == 0 {
			return nil // returned already
		}
		p, err := h.offers.append(ctx, c, nil)
		pos = p
		return err
	})
	return pos, err
}

// settleRecorded settles the refund refundID of order id, as recorded in
// the order's stream: what the refund process re-drives.
func (h *refundOrder) settleRecorded(ctx context.Context, id uuid.UUID, refundID string) error {
	events, _, err := h.events.load(ctx, domain.OrderStream(id))
	if err != nil {
		return err
	}
	for _, ev := range events {
		if e, ok := ev.(domain.OrderRefunded); ok && e.RefundID == refundID {
			_, err := h.settle(ctx, e)
			return err
		}
	}
	return fmt.Errorf("order %s has no refund %s: %w", id, refundID, domain.ErrInvalidState)
}

// releaseHold cancels held order id of a cancelled show as its buyer would,
// which frees its hold; an order no longer held is left alone.
func (h *cancelOrder) releaseHold(ctx context.Context, shows *showRepository, id uuid.UUID) error {
	o, err := h.events.loadOrder(ctx, id)
	if err != nil || o.Status != domain.OrderStatusHeld {
		return err
	}
	s, err := shows.load(ctx, o.ShowID)
	if err != nil {
		return err
	}
	if s.Status != domain.ShowStatusCancelled {
		return fmt.Errorf("release order %s: its show is %s: %w", id, s.Status, domain.ErrInvalidState)
	}
	_, err = h.handle(ctx, domain.Actor{UserID: o.BuyerID, Role: domain.RoleBuyer}, id)
	if errors.Is(err, domain.ErrOrderNotHeld) || errors.Is(err, domain.ErrHoldExpired) {
		return nil
	}
	return err
}
