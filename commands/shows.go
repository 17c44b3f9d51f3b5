package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// CreateShow creates a draft show owned by the organizer actor. With
// h.Shows set, an organizer at domain.MaxLiveShowsPerOrganizer live shows
// gets domain.ErrShowQuota. The quota is not exact: the count comes from a
// read model, so shows created meanwhile, or not projected yet, may take an
// organizer past it by as many.
func (h *Handler) CreateShow(ctx context.Context, actor domain.Actor, c domain.CreateShow) (Result, error) {
	if actor.Role != domain.RoleOrganizer {
		return Result{}, ErrForbidden
	}
	c.ShowID = h.NewID()
	c.OrganizerID = actor.UserID
	s := domain.NewShow()
	if err := s.Create(c, h.Now()); err != nil {
		return Result{}, err
	}
	if h.Shows != nil {
		live, err := h.Shows.LiveShows(ctx, actor.UserID, h.Now())
		if err != nil {
			return Result{}, err
		}
		if err := domain.CheckShowQuota(live); err != nil {
			return Result{}, err
		}
	}
	res, err := h.events.save(ctx, domain.ShowStream(c.ShowID), domain.NoStream, s.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{ID: c.ShowID, Version: res.Version, Position: res.Position}, nil
}

// EditShow changes a show's details, prices and per-buyer limit.
func (h *Handler) EditShow(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.EditShow) (Result, error) {
	return h.changeShow(ctx, actor, id, func(s *domain.Show) error { return s.Edit(c, h.Now()) })
}

// PublishShow puts a show on sale.
func (h *Handler) PublishShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.changeShow(ctx, actor, id, func(s *domain.Show) error { return s.Publish(h.Now()) })
}

// CancelShow stops a show's sales.
func (h *Handler) CancelShow(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.changeShow(ctx, actor, id, func(s *domain.Show) error { return s.Cancel(h.Now()) })
}

func (h *Handler) changeShow(ctx context.Context, actor domain.Actor, id uuid.UUID, decide func(*domain.Show) error) (Result, error) {
	defer h.lock(domain.ShowStream(id))()
	var out Result
	err := h.retry(ctx, func() error {
		c, err := h.shows.current(ctx, id)
		if err != nil {
			return err
		}
		s := c.show
		if !s.Exists() {
			return domain.ErrShowNotFound
		}
		if !domain.CanManage(actor, s) {
			return ErrForbidden
		}
		if err := decide(s); err != nil {
			h.shows.cache.drop(id) // a failed decision may have raised part of its events
			return err
		}
		res, err := h.shows.commit(ctx, c)
		if err != nil {
			return err
		}
		out = Result{ID: id, Version: res.Version, Position: res.Position}
		return nil
	})
	return out, err
}

// PlaceOrder is a buyer's request to hold units or seats of a show.
type PlaceOrder struct {
	ShowID uuid.UUID
	Items  []domain.ItemRequest
	Seats  []domain.SeatRef
}

// OrderResult is a placed order.
type OrderResult struct {
	ID         uuid.UUID
	ExpiresAt  time.Time
	TotalCents int64
	Position   domain.Position
}

// PlaceOrder holds inventory in the show's stream, then opens the order's
// stream. A crash between the two appends leaves a hold without an order,
// which the expirer releases when it runs out: no seat leaks for good, and
// none is sold twice because only a held order can be paid.
func (h *Handler) PlaceOrder(ctx context.Context, actor domain.Actor, c PlaceOrder) (OrderResult, error) {
	if actor.Role != domain.RoleBuyer {
		return OrderResult{}, ErrForbidden
	}
	orderID := h.NewID()
	r, err := h.hold(ctx, c.ShowID, domain.HoldRequest{OrderID: orderID, BuyerID: actor.UserID, Items: c.Items, Seats: c.Seats})
	if err != nil {
		return OrderResult{}, err
	}
	held := r.held
	if r.placed {
		return OrderResult{ID: orderID, ExpiresAt: held.ExpiresAt, TotalCents: held.TotalCents, Position: r.pos}, nil
	}
	// The store writes one stream at a time: the order follows its hold.
	o := domain.NewOrder()
	if err := o.Place(held); err != nil {
		return OrderResult{}, err
	}
	res, err := h.events.save(ctx, domain.OrderStream(orderID), domain.NoStream, o.Changes())
	if err != nil {
		// The expirer wrote its tombstone first: the hold ran out already.
		if isConflict(err) {
			return OrderResult{}, domain.ErrHoldExpired
		}
		return OrderResult{}, err
	}
	return OrderResult{ID: orderID, ExpiresAt: held.ExpiresAt, TotalCents: held.TotalCents, Position: res.Position}, nil
}
