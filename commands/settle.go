package commands

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands/groupcommit"
	"github.com/ticketing/ticketing/domain"
)

// settler brings a show's holds in line with their orders: Settle,
// SettleMany, and the settling that follows a payment or a cancellation,
// batched per show.
type settler struct {
	events  *eventLog
	shows   *showRepository
	locks   *streamLocks
	now     func() time.Time
	newID   func() uuid.UUID
	retries int
	log     *slog.Logger
	settles *groupcommit.Batcher[uuid.UUID, *settleReq] // by show
}

func newSettler(events *eventLog, shows *showRepository, locks *streamLocks, now func() time.Time, newID func() uuid.UUID, retries int, log *slog.Logger) *settler {
	mustHave("newSettler", events, shows, locks, now, newID, log)
	h := &settler{events: events, shows: shows, locks: locks, now: now, newID: newID, retries: retries, log: log}
	h.settles = groupcommit.New(maxSettleBatch, nil, h.settleReqs)
	return h
}

// settleOne brings a show's hold in line with its order: sold when the order
// is confirmed, released when it was cancelled or expired, and expired
// (order first, then the show) when the hold ran out unpaid — also when the
// order was never written because a process died between the two appends.
// A hold that has not run out and whose order is still held is left alone.
// It returns the position of the last append, if any.
func (h *settler) settleOne(ctx context.Context, showID, orderID uuid.UUID) (domain.Position, error) {
	defer h.locks.lock(domain.ShowStream(showID))()
	var pos domain.Position
	err := retry(ctx, h.retries, func() error {
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
		pos, err = h.append(ctx, c, nil) // with the orders of waiting-list offers (issue 14)
		return err
	})
	return pos, err
}

// settlement decides how settling an order changes its show s at now,
// without changing either: expiry is the order with its expiry raised, to be
// appended before the show, or nil; apply raises the show's events on s. A
// nil apply means there is nothing to do. known, if not nil, is the order as
// it stands.
func (h *settler) settlement(ctx context.Context, s *domain.Show, orderID uuid.UUID, known *domain.Order) (expiry *domain.Order, apply func() error, err error) {
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
	now := h.now()
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

// settleAll settles many orders of one show as Settle settles one, in one
// append of the show and, where the store appends to several streams at
// once, of the orders' expiries with it: the expirer's way through the
// holds of a drop that ran out together. Without multi-stream appends the
// expiries go first, one by one. It returns how many orders it settled or
// found settled.
func (h *settler) settleAll(ctx context.Context, showID uuid.UUID, orders []uuid.UUID) (int, error) {
	n, _, err := h.settleMany(ctx, showID, orders, nil)
	return n, err
}

// settleReq is a paid or cancelled order waiting for its show to be settled
// with the others of its batch.
type settleReq struct {
	order uuid.UUID
	known *domain.Order // as its caller wrote it
	pos   domain.Position
}

// maxSettleBatch bounds the orders settled in one append.
const maxSettleBatch = 512

// batched settles a show for an order its caller just paid or
// cancelled, batched with the other orders of the show settled meanwhile:
// after a drop, payments come in a rush too.
func (h *settler) batched(ctx context.Context, showID, orderID uuid.UUID, known *domain.Order) (domain.Position, error) {
	r := &settleReq{order: orderID, known: known}
	// Once queued, the settling of a written order is done even if its
	// caller goes away.
	err := h.settles.Do(context.WithoutCancel(ctx), showID, r)
	return r.pos, err
}

// settleReqs settles a batch of orders of one show in one append.
func (h *settler) settleReqs(ctx context.Context, showID uuid.UUID, batch []*settleReq) error {
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
		r.pos = pos
	}
	return err
}

// settleMany is SettleMany with the orders as their callers wrote them,
// where known (confirmed, cancelled or expired orders stay so): the first
// try need not read those back. It also returns the position of the last
// event appended, if any.
//
// The orders are settled on the show as this process has it, without
// first reading the show's stream, as a batch of holds is (decideHolds):
// what they raise is appended at the show's expected version, which
// conflicts if another process wrote the show meanwhile. Only when they
// raise nothing, or fail, is the stream read to prove the show current.
func (h *settler) settleMany(ctx context.Context, showID uuid.UUID, orders []uuid.UUID, known map[uuid.UUID]*domain.Order) (int, domain.Position, error) {
	for id, o := range known {
		switch o.Status {
		case domain.OrderStatusConfirmed, domain.OrderStatusCancelled, domain.OrderStatusExpired:
		default:
			delete(known, id)
		}
	}
	defer h.locks.lock(domain.ShowStream(showID))()
	var settled int
	var pos domain.Position
	err := retry(ctx, h.retries, func() error {
		first := known
		known = nil
		for {
			c, fresh, err := h.shows.cached(ctx, showID)
			if err != nil {
				return err
			}
			var expiries []StreamAppend
			expiries, settled, err = h.decide(ctx, c.show, orders, first)
			if (err != nil || len(c.show.Changes()) == 0) && !fresh {
				// Nothing appended proves the show was current: read its
				// stream, and decide again on the show loaded afresh if
				// another process moved it on.
				moved, merr := h.shows.moved(ctx, c)
				if merr != nil {
					h.shows.drop(showID)
					return merr
				}
				if moved {
					continue
				}
			}
			if err != nil {
				h.shows.drop(showID) // the show may hold events of the orders before
				return err
			}
			if len(c.show.Changes()) == 0 {
				return nil
			}
			pos, err = h.append(ctx, c, expiries)
			return err
		}
	})
	return settled, pos, err
}

// decide raises on show s the settlement of each order, known holding
// those whose caller wrote them, and returns the expiries to append with
// the show and how many orders it settled. On an error s may hold part of
// the events.
func (h *settler) decide(ctx context.Context, s *domain.Show, orders []uuid.UUID, known map[uuid.UUID]*domain.Order) ([]StreamAppend, int, error) {
	var expiries []StreamAppend
	settled := 0
	for _, id := range orders {
		expiry, apply, err := h.settlement(ctx, s, id, known[id])
		if err == nil && expiry != nil {
			var data []domain.EventData
			if data, err = domain.Encode(expiry.Changes(), h.newID, metadataOf(ctx)); err == nil {
				expiries = append(expiries, StreamAppend{Stream: domain.OrderStream(id), Expected: expiry.Version(), Events: data})
			}
		}
		if err == nil && apply != nil {
			err = apply()
		}
		if err != nil {
			return nil, settled, err
		}
		settled++
	}
	return expiries, settled, nil
}

// append appends what the cached show c raised and the orders' expiries:
// in one append where the store can, else the expiries first, one by one.
// It returns the position of the last event appended.
//
// issue 14: waitlist — the orders of the waiting-list offers among the
// show's changes go with them: in the same append, else right after it
// (a crash in between leaves a hold without an order, which its expiry
// heals).
func (h *settler) append(ctx context.Context, c *cachedShow, expiries []StreamAppend) (domain.Position, error) {
	s := c.show
	offers, err := offerPlacements(ctx, s.Changes(), h.newID)
	if err != nil {
		h.shows.drop(s.ID)
		return domain.Position{}, err
	}
	multi := h.events.multi()
	if multi == nil {
		for _, e := range expiries {
			if _, err := h.events.appendData(ctx, e.Stream, e.Expected, e.Events); err != nil {
				h.shows.drop(s.ID)
				return domain.Position{}, err
			}
		}
		res, err := h.shows.commit(ctx, c)
		if err == nil {
			h.placeOffers(ctx, offers)
		}
		return res.Position, err
	}
	data, err := domain.Encode(s.Changes(), h.newID, metadataOf(ctx))
	if err != nil {
		h.shows.drop(s.ID)
		return domain.Position{}, err
	}
	parts := append([]StreamAppend{{Stream: domain.ShowStream(s.ID), Expected: s.Version(), Events: data}}, expiries...)
	res, err := multi.AppendMulti(ctx, append(parts, offers...))
	if err != nil {
		h.shows.failed(c, err)
		return domain.Position{}, err
	}
	h.shows.committed(c, res[0].Version)
	return res[len(res)-1].Position, nil
}

// placeOffers opens the order streams of offers whose holds were
// appended, one by one.
func (h *settler) placeOffers(ctx context.Context, offers []StreamAppend) {
	for _, o := range offers {
		if _, err := h.events.appendData(ctx, o.Stream, o.Expected, o.Events); err != nil {
			h.log.Warn("placing a waiting-list offer failed", "stream", o.Stream, "err", err)
		}
	}
}

func (h *settler) quietly(ctx context.Context, showID, orderID uuid.UUID) {
	if _, err := h.settleOne(ctx, showID, orderID); err != nil {
		h.log.Warn("settle failed", "show", showID, "order", orderID, "err", err)
	}
}
