package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }

// ownOrder loads an order its buyer may act on; anyone else's order is
// "not found", so that order ids do not leak.
func (h *Handler) ownOrder(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.Order, error) {
	o, err := h.events.loadOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.Status == "" || o.BuyerID != actor.UserID {
		return nil, domain.ErrOrderNotFound
	}
	return o, nil
}

// PayResult is a confirmed order.
type PayResult struct {
	ID       uuid.UUID
	Tickets  []domain.Ticket
	Position domain.Position
}

// PayOrder charges the buyer and confirms a held order. The confirmation is
// decided on the order's stream with its expected version, so a payment
// racing the expirer has exactly one outcome; the loser's charge is refunded.
func (h *Handler) PayOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, token string) (PayResult, error) {
	stream := domain.OrderStream(id)
	defer h.lock(stream)()
	o, err := h.ownOrder(ctx, actor, id)
	if err != nil {
		return PayResult{}, err
	}
	if err := o.CanPay(h.Now()); err != nil {
		return PayResult{}, err
	}
	status, err := h.showStatus(ctx, o.ShowID)
	if err != nil {
		return PayResult{}, err
	}
	if status == domain.ShowStatusCancelled {
		return PayResult{}, domain.ErrShowCancelled
	}
	// One charge per order and card: a retry with the same card replays the
	// first answer; another card after a decline is a new attempt. A free
	// order is confirmed without a charge, and has no charge id.
	var chargeID string
	if !o.Free() {
		if chargeID, err = h.Payments.Charge(ctx, "order-"+id.String()+"/"+token, o.TotalCents, token); err != nil {
			return PayResult{}, err
		}
	}
	var out PayResult
	var confirmed *domain.Order
	loaded := o // this process holds the order's lock: the first try needs no reload
	err = h.retry(ctx, func() error {
		o := loaded
		loaded = nil
		if o == nil {
			var err error
			if o, err = h.events.loadOrder(ctx, id); err != nil {
				return err
			}
		}
		confirmed = o
		if o.Status == domain.OrderStatusConfirmed && o.PaymentID == chargeID {
			out = PayResult{ID: id, Tickets: o.Tickets}
			return nil
		}
		if err := o.Confirm(chargeID, h.Now(), func() (uuid.UUID, string) { return h.NewID(), h.NewCode() }); err != nil {
			return err
		}
		res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
		if err != nil {
			return err
		}
		out = PayResult{ID: id, Tickets: o.Tickets, Position: res.Position}
		return nil
	})
	if errors.Is(err, domain.ErrHoldExpired) || errors.Is(err, domain.ErrOrderNotHeld) {
		if chargeID != "" { // a free order was not charged
			if rerr := h.Payments.Refund(ctx, chargeID); rerr != nil {
				h.Log.Error("refund failed", "order", id, "charge", chargeID, "err", rerr)
			}
		}
		h.settleQuietly(ctx, o.ShowID, id)
		return PayResult{}, err
	}
	if err != nil {
		return PayResult{}, err
	}
	pos, err := h.settleBatched(ctx, o.ShowID, id, confirmed)
	if err != nil {
		// The order is confirmed for good; the expirer settles the show
		// when the hold runs out.
		h.Log.Warn("settling a paid order failed", "order", id, "err", err)
	} else if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// showStatus returns a show's status as its stream has it now, from the
// show cached by this process and caught up under the show's lock: loading
// a hot show afresh for each payment would cost its snapshot every time.
func (h *Handler) showStatus(ctx context.Context, id uuid.UUID) (domain.ShowStatus, error) {
	defer h.lock(domain.ShowStream(id))()
	c, err := h.shows.current(ctx, id)
	if err != nil {
		return "", err
	}
	return c.show.Status, nil
}

// CancelOrder ends a held order at its buyer's request and frees its seats.
func (h *Handler) CancelOrder(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	stream := domain.OrderStream(id)
	var out Result
	var cancelled *domain.Order
	err := func() error {
		defer h.lock(stream)()
		return h.retry(ctx, func() error {
			o, err := h.ownOrder(ctx, actor, id)
			if err != nil {
				return err
			}
			if err := o.Cancel(h.Now()); err != nil {
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
	if pos, err := h.settleBatched(ctx, cancelled.ShowID, id, cancelled); err != nil {
		h.Log.Warn("settling a cancelled order failed", "order", id, "err", err)
	} else if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// Settle brings a show's hold in line with its order: sold when the order
// is confirmed, released when it was cancelled or expired, and expired
// (order first, then the show) when the hold ran out unpaid — also when the
// order was never written because a process died between the two appends.
// A hold that has not run out and whose order is still held is left alone.
// It returns the position of the last append, if any.
func (h *Handler) Settle(ctx context.Context, showID, orderID uuid.UUID) (domain.Position, error) {
	defer h.lock(domain.ShowStream(showID))()
	var pos domain.Position
	err := h.retry(ctx, func() error {
		c, err := h.shows.current(ctx, showID)
		if err != nil {
			return err
		}
		expiry, apply, err := h.settlement(ctx, c.show, orderID, nil)
		if err != nil || apply == nil {
			return err
		}
		// The order first: its stream decides a race with a payment.
		if expiry != nil {
			if _, err := h.events.save(ctx, domain.OrderStream(orderID), expiry.Version(), expiry.Changes()); err != nil {
				return err
			}
		}
		if err := apply(); err != nil || len(c.show.Changes()) == 0 {
			return err
		}
		res, err := h.shows.commit(ctx, c)
		pos = res.Position
		return err
	})
	return pos, err
}

// settlement decides how settling an order changes its show s at now,
// without changing either: expiry is the order with its expiry raised, to be
// appended before the show, or nil; apply raises the show's events on s. A
// nil apply means there is nothing to do. known, if not nil, is the order as
// it stands.
func (h *Handler) settlement(ctx context.Context, s *domain.Show, orderID uuid.UUID, known *domain.Order) (expiry *domain.Order, apply func() error, err error) {
	hold, ok := s.HoldOf(orderID)
	if !ok {
		return nil, nil, nil
	}
	o := known
	if o == nil {
		if o, err = h.events.loadOrder(ctx, orderID); err != nil {
			return nil, nil, err
		}
	}
	now := h.Now()
	switch o.Status {
	case "", domain.OrderStatusHeld:
		if now.Before(hold.ExpiresAt) {
			return nil, nil, nil
		}
		if err := o.Expire(orderID, s.ID, now); err != nil {
			return nil, nil, err
		}
		return o, func() error { s.Release(orderID, domain.ReleaseExpired, now); return nil }, nil
	case domain.OrderStatusConfirmed:
		return nil, func() error { return s.Sell(orderID, now) }, nil
	case domain.OrderStatusCancelled:
		return nil, func() error { s.Release(orderID, domain.ReleaseCancelled, now); return nil }, nil
	case domain.OrderStatusExpired:
		return nil, func() error { s.Release(orderID, domain.ReleaseExpired, now); return nil }, nil
	}
	return nil, nil, fmt.Errorf("order %s: unknown status %q", orderID, o.Status)
}

// SettleMany settles many orders of one show as Settle settles one, in one
// append of the show and, where the store appends to several streams at
// once, of the orders' expiries with it: the expirer's way through the
// holds of a drop that ran out together. Without multi-stream appends the
// expiries go first, one by one. It returns how many orders it settled or
// found settled.
func (h *Handler) SettleMany(ctx context.Context, showID uuid.UUID, orders []uuid.UUID) (int, error) {
	n, _, err := h.settleMany(ctx, showID, orders, nil)
	return n, err
}

// settleReq is a paid or cancelled order waiting for its show to be settled
// with the others of its batch.
type settleReq struct {
	order uuid.UUID
	known *domain.Order // as its caller wrote it
	pos   domain.Position
	err   error
}

// maxSettleBatch bounds the orders settled in one append.
const maxSettleBatch = 512

// settleBatched settles a show for an order its caller just paid or
// cancelled, batched with the other orders of the show settled meanwhile:
// after a drop, payments come in a rush too.
func (h *Handler) settleBatched(ctx context.Context, showID, orderID uuid.UUID, known *domain.Order) (domain.Position, error) {
	r := &settleReq{order: orderID, known: known}
	h.settles.do(ctx, showID, r, maxSettleBatch, h.settleReqs)
	return r.pos, r.err
}

func (h *Handler) settleReqs(ctx context.Context, showID uuid.UUID, batch []*settleReq) {
	orders := make([]uuid.UUID, len(batch))
	known := make(map[uuid.UUID]*domain.Order, len(batch))
	for i, r := range batch {
		orders[i] = r.order
		if r.known != nil {
			known[r.order] = r.known
		}
	}
	_, pos, err := h.settleMany(ctx, showID, orders, known)
	for _, r := range batch {
		r.pos, r.err = pos, err
	}
}

// settleMany is SettleMany with the orders as their callers wrote them,
// where known (confirmed, cancelled or expired orders stay so): the first
// try need not read those back. It also returns the position of the last
// event appended, if any.
func (h *Handler) settleMany(ctx context.Context, showID uuid.UUID, orders []uuid.UUID, known map[uuid.UUID]*domain.Order) (int, domain.Position, error) {
	for id, o := range known {
		switch o.Status {
		case domain.OrderStatusConfirmed, domain.OrderStatusCancelled, domain.OrderStatusExpired:
		default:
			delete(known, id)
		}
	}
	defer h.lock(domain.ShowStream(showID))()
	multi := h.events.multi()
	var settled int
	var pos domain.Position
	err := h.retry(ctx, func() error {
		c, err := h.shows.current(ctx, showID)
		if err != nil {
			return err
		}
		s := c.show
		settled = 0
		first := known
		known = nil
		var expiries []StreamAppend
		for _, id := range orders {
			expiry, apply, err := h.settlement(ctx, s, id, first[id])
			if err == nil && expiry != nil {
				var data []domain.EventData
				if data, err = domain.Encode(expiry.Changes(), h.NewID, metadataOf(ctx)); err == nil {
					expiries = append(expiries, StreamAppend{Stream: domain.OrderStream(id), Expected: expiry.Version(), Events: data})
				}
			}
			if err == nil && apply != nil {
				err = apply()
			}
			if err != nil {
				h.shows.cache.drop(showID) // s may hold events of the orders before
				return err
			}
			settled++
		}
		if len(s.Changes()) == 0 {
			return nil
		}
		if multi == nil {
			for _, e := range expiries {
				if _, err := h.events.appendData(ctx, e.Stream, e.Expected, e.Events); err != nil {
					h.shows.cache.drop(showID)
					return err
				}
			}
			res, err := h.shows.commit(ctx, c)
			pos = res.Position
			return err
		}
		data, err := domain.Encode(s.Changes(), h.NewID, metadataOf(ctx))
		if err != nil {
			h.shows.cache.drop(showID)
			return err
		}
		res, err := multi.AppendMulti(ctx, append([]StreamAppend{{Stream: domain.ShowStream(showID), Expected: s.Version(), Events: data}}, expiries...))
		if err != nil {
			h.shows.failed(c, err)
			return err
		}
		h.shows.committed(c, res[0].Version)
		pos = res[len(res)-1].Position
		return nil
	})
	return settled, pos, err
}

func (h *Handler) settleQuietly(ctx context.Context, showID, orderID uuid.UUID) {
	if _, err := h.Settle(ctx, showID, orderID); err != nil {
		h.Log.Warn("settle failed", "show", showID, "order", orderID, "err", err)
	}
}

// CheckIn admits a ticket at the door; only the show's organizer (or an
// admin) may, and only once.
func (h *Handler) CheckIn(ctx context.Context, actor domain.Actor, ticketID uuid.UUID) (Result, error) {
	orderID, showID, err := h.Tickets.TicketOrder(ctx, ticketID)
	if err != nil {
		return Result{}, err
	}
	if _, err := h.showOwnedBy(ctx, actor, showID); err != nil {
		return Result{}, err
	}
	stream := domain.OrderStream(orderID)
	defer h.lock(stream)()
	var out Result
	err = h.retry(ctx, func() error {
		o, err := h.events.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if err := o.CheckIn(ticketID, h.Now()); err != nil {
			return err
		}
		res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
		out = Result{ID: ticketID, Version: res.Version, Position: res.Position}
		return err
	})
	return out, err
}
