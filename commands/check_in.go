package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// checkIn admits tickets at the door.
type checkIn struct {
	events  *eventLog
	shows   *showRepository
	tickets TicketLocator
	locks   *streamLocks
	now     func() time.Time
	retries int
}

func newCheckIn(events *eventLog, shows *showRepository, tickets TicketLocator, locks *streamLocks, now func() time.Time, retries int) *checkIn {
	mustHave("newCheckIn", events, shows, tickets, locks, now)
	return &checkIn{events: events, shows: shows, tickets: tickets, locks: locks, now: now, retries: retries}
}

// handle admits a ticket at the door; only the show's organizer (or an
// admin) may, and only once.
func (h *checkIn) handle(ctx context.Context, actor domain.Actor, ticketID uuid.UUID) (Result, error) {
	orderID, showID, err := h.tickets.TicketOrder(ctx, ticketID)
	if err != nil {
		return Result{}, err
	}
	if _, err := h.showOwnedBy(ctx, actor, showID); err != nil {
		return Result{}, err
	}
	var out Result
	err = h.changeOrder(ctx, orderID, func(o *domain.Order) error {
		return o.CheckIn(ticketID, h.now())
	}, func(_ *domain.Order, res AppendResult) {
		out = Result{ID: ticketID, Version: res.Version, Position: res.Position}
	})
	return out, err
}

// changeOrder changes an order under its stream's lock, again on a
// conflict: each attempt loads the order, lets change decide (an error
// ends it) and appends the changes; saved gets the order and the append's
// result, also when the append failed.
func (h *checkIn) changeOrder(ctx context.Context, orderID uuid.UUID, change func(*domain.Order) error, saved func(*domain.Order, AppendResult)) error {
	stream := domain.OrderStream(orderID)
	defer h.locks.lock(stream)()
	return retry(ctx, h.retries, func() error {
		o, err := h.events.loadOrder(ctx, orderID)
		if err != nil {
			return err
		}
		if err := change(o); err != nil {
			return err
		}
		res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
		saved(o, res)
		return err
	})
}

// showOwnedBy loads a show that actor may manage.
func (h *checkIn) showOwnedBy(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.Show, error) {
	s, err := h.shows.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.Exists() {
		return nil, domain.ErrShowNotFound
	}
	if !domain.CanManage(actor, s) {
		return nil, ErrForbidden
	}
	return s, nil
}
