package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands/groupcommit"
	"github.com/ticketing/ticketing/domain"
)

// PlaceOrder is a buyer's request to hold units or seats of a show.
type PlaceOrder struct {
	ShowID uuid.UUID
	Items  []domain.ItemRequest
	Seats  []domain.SeatRef
	// issue 14: rules. SeatTypes, nil or one per seat, names the seats'
	// ticket types; Voucher a voucher code.
	SeatTypes []string
	Voucher   string
}

// OrderResult is a placed order.
type OrderResult struct {
	ID         uuid.UUID
	ExpiresAt  time.Time
	TotalCents int64
	Position   domain.Position
}

// placeOrder places orders: it holds their inventory in the show's stream,
// batched with the other holds of the show, and opens their streams.
type placeOrder struct {
	events   *eventLog
	shows    *showRepository
	locks    *streamLocks
	now      func() time.Time
	newID    func() uuid.UUID
	holdTTL  time.Duration
	retries  int
	stats    *Stats
	appended func(ids []uuid.UUID, events []domain.Event) // may be nil
	holds    *groupcommit.Batcher[uuid.UUID, *holdReq]    // by show
}

// newPlaceOrder returns the handler of PlaceOrder; appended, if not nil, is
// told of what each batch appended (Handler.Appended).
func newPlaceOrder(events *eventLog, shows *showRepository, locks *streamLocks, now func() time.Time, newID func() uuid.UUID,
	holdTTL time.Duration, retries int, stats *Stats, appended func([]uuid.UUID, []domain.Event)) *placeOrder {
	mustHave("newPlaceOrder", events, shows, locks, now, newID, stats)
	h := &placeOrder{events: events, shows: shows, locks: locks, now: now, newID: newID, holdTTL: holdTTL, retries: retries,
		stats: stats, appended: appended}
	h.holds = groupcommit.New(maxHoldBatch, nil, func(ctx context.Context, show uuid.UUID, batch []*holdReq) error {
		h.decideHolds(ctx, show, batch)
		return nil // each request has its own answer
	})
	return h
}

// handle holds inventory in the show's stream, then opens the order's
// stream. A crash between the two appends leaves a hold without an order,
// which the expirer releases when it runs out: no seat leaks for good, and
// none is sold twice because only a held order can be paid.
func (h *placeOrder) handle(ctx context.Context, actor domain.Actor, c PlaceOrder) (OrderResult, error) {
	if actor.Role != domain.RoleBuyer {
		return OrderResult{}, ErrForbidden
	}
	orderID := h.newID()
	r, err := h.hold(ctx, c.ShowID, domain.HoldRequest{OrderID: orderID, BuyerID: actor.UserID, Items: c.Items, Seats: c.Seats,
		SeatTypes: c.SeatTypes, Voucher: c.Voucher})
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

// holdReq is a hold waiting for its batch: one writer decides the holds of
// a show queued meanwhile against the show in memory and appends them
// together (group commit), still guarded by the expected version.
type holdReq struct {
	req  domain.HoldRequest
	md   domain.Metadata // of the request's own context
	held domain.SeatsHeld
	// placed reports that the order stream was written with the hold, at
	// pos.
	placed bool
	pos    domain.Position
	err    error
}

// maxHoldBatch bounds the holds appended at once.
const maxHoldBatch = 2048

// hold reserves inventory for one order, batched with the other holds of the
// show that arrive meanwhile. When the store appends to several streams at
// once, the order is placed in the same append, and the request comes back
// with placed set.
func (h *placeOrder) hold(ctx context.Context, show uuid.UUID, req domain.HoldRequest) (*holdReq, error) {
	r := &holdReq{req: req, md: metadataOf(ctx)}
	// Once queued, a hold is decided even if its caller goes away.
	if err := h.holds.Do(context.WithoutCancel(ctx), show, r); err != nil {
		return r, err
	}
	return r, r.err
}

// decideHolds decides every hold of a batch against the show in memory and
// appends the accepted ones in one append, with their new orders when the
// store can; on a conflict it reloads and decides them all again.
//
// The show in memory is not first caught up with its stream: when every
// hold is accepted, the append's expected version proves that no other
// process wrote the show meanwhile (or conflicts, and they are decided
// again). A refusal writes nothing, so when one is refused the stream is
// read after the decisions: found as the show was, they stand as they
// would have on a show read just before; found moved on, the show is
// loaded again and they are decided again. A batch of holds all accepted,
// the usual case, costs no read of the show's stream.
func (h *placeOrder) decideHolds(ctx context.Context, show uuid.UUID, batch []*holdReq) {
	defer h.locks.lock(domain.ShowStream(show))()
	for attempt := 0; ; attempt++ {
		c, fresh, err := h.shows.cached(ctx, show)
		if err != nil {
			answer(batch, err)
			return
		}
		if !c.show.Exists() {
			answer(batch, domain.ErrShowNotFound)
			return
		}
		now := h.now()
		var accepted []*holdReq
		for _, r := range batch {
			r.err, r.placed = nil, false
			before := len(c.show.Changes())
			if r.err = c.show.Hold(r.req, now, h.holdTTL); r.err != nil {
				continue
			}
			r.held = c.show.Changes()[before].(domain.SeatsHeld)
			accepted = append(accepted, r)
		}
		if len(accepted) < len(batch) && !fresh {
			moved, err := h.shows.moved(ctx, c)
			if err != nil {
				answer(batch, err)
				return
			}
			if moved {
				continue // loaded again, as it stands
			}
		}
		if len(accepted) == 0 {
			return
		}
		if err = h.appendHolds(ctx, c, accepted); err == nil {
			h.stats.HoldBatches.Add(1)
			h.stats.Holds.Add(int64(len(accepted)))
			return
		}
		var ce *ConflictError
		if errors.As(err, &ce) && ce.Stream != domain.ShowStream(show) {
			// An order stream exists already: only that request fails.
			var rest []*holdReq
			for _, r := range batch {
				if domain.OrderStream(r.req.OrderID) == ce.Stream {
					r.err = domain.ErrOrderExists
				} else {
					rest = append(rest, r)
				}
			}
			batch = rest
		} else if !isConflict(err) || attempt+1 >= h.retries {
			answer(accepted, err)
			return
		}
		h.stats.Retries.Add(1)
	}
}

// appendHolds appends the holds a batch raised on its show, each with its
// own request's metadata. When the store appends to several streams at
// once, the same append places the orders.
func (h *placeOrder) appendHolds(ctx context.Context, c *cachedShow, accepted []*holdReq) error {
	s := c.show
	multi := h.events.multi()
	parts := make([]StreamAppend, 1, len(accepted)+1)
	parts[0] = StreamAppend{Stream: domain.ShowStream(s.ID), Expected: s.Version()}
	// What was appended, for Appended.
	var ids []uuid.UUID
	var events []domain.Event
	err := func() error {
		for _, r := range accepted {
			raised := []domain.Event{r.held}
			if multi != nil {
				o := domain.NewOrder()
				if err := o.Place(r.held); err != nil {
					return err
				}
				raised = append(raised, o.Changes()...)
			}
			data, err := domain.Encode(raised, h.newID, r.md)
			if err != nil {
				return err
			}
			parts[0].Events = append(parts[0].Events, data[0])
			if multi != nil {
				parts = append(parts, StreamAppend{Stream: domain.OrderStream(r.req.OrderID), Expected: domain.NoStream, Events: data[1:]})
			}
			if h.appended != nil {
				for i := range data {
					ids = append(ids, data[i].ID)
				}
				events = append(events, raised...)
			}
		}
		return nil
	}()
	var res []AppendResult
	if err == nil && multi != nil {
		res, err = multi.AppendMulti(ctx, parts)
	} else if err == nil {
		var one AppendResult
		one, err = h.events.appendData(ctx, parts[0].Stream, parts[0].Expected, parts[0].Events)
		res = []AppendResult{one}
	}
	if err != nil {
		h.shows.failed(c, err)
		return err
	}
	h.shows.committed(c, res[0].Version)
	if h.appended != nil {
		h.appended(ids, events)
	}
	last := res[len(res)-1].Position
	for _, r := range accepted {
		r.placed, r.pos = multi != nil, last
	}
	return nil
}

func answer(batch []*holdReq, err error) {
	for _, r := range batch {
		r.err = err
	}
}
