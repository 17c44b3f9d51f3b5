package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// PayResult is a confirmed order.
type PayResult struct {
	ID       uuid.UUID
	Tickets  []domain.Ticket
	Position domain.Position
}

// payOrder charges buyers and confirms their orders.
type payOrder struct {
	events   *eventLog
	shows    *showRepository
	locks    *streamLocks
	payments PaymentProvider
	settle   *settler
	now      func() time.Time
	newID    func() uuid.UUID
	codes    *domain.TicketCodes
	retries  int
	log      *slog.Logger
}

func newPayOrder(events *eventLog, shows *showRepository, locks *streamLocks, payments PaymentProvider, settle *settler,
	now func() time.Time, newID func() uuid.UUID, codes *domain.TicketCodes, retries int, log *slog.Logger) *payOrder {
	mustHave("newPayOrder", events, shows, locks, payments, settle, now, newID, codes, log)
	return &payOrder{events: events, shows: shows, locks: locks, payments: payments, settle: settle, now: now, newID: newID,
		codes: codes, retries: retries, log: log}
}

// handle charges the buyer and confirms a held order. The confirmation is
// decided on the order's stream with its expected version, so a payment
// racing the expirer has exactly one outcome; the loser's charge is refunded.
func (h *payOrder) handle(ctx context.Context, actor domain.Actor, id uuid.UUID, token string) (PayResult, error) {
	defer h.locks.lock(domain.OrderStream(id))()
	o, err := h.payable(ctx, actor, id)
	if err != nil {
		return PayResult{}, err
	}
	chargeID, err := h.charge(ctx, o, id, token)
	if err != nil {
		return PayResult{}, err
	}
	out, confirmed, err := h.confirm(ctx, o, id, chargeID)
	if errors.Is(err, domain.ErrHoldExpired) || errors.Is(err, domain.ErrOrderNotHeld) {
		h.lost(ctx, o, id, chargeID)
		return PayResult{}, err
	}
	if err != nil {
		return PayResult{}, err
	}
	pos, err := h.settle.batched(ctx, o.ShowID, id, confirmed)
	if err != nil {
		// The order is confirmed for good; the expirer settles the show
		// when the hold runs out.
		h.log.Warn("settling a paid order failed", "order", id, "err", err)
	} else if out.Position.Less(pos) {
		out.Position = pos
	}
	return out, nil
}

// payable loads the actor's order id, if it may be paid now and its show
// is not cancelled.
func (h *payOrder) payable(ctx context.Context, actor domain.Actor, id uuid.UUID) (*domain.Order, error) {
	o, err := ownOrder(ctx, h.events, actor, id)
	if err != nil {
		return nil, err
	}
	if err := o.CanPay(h.now()); err != nil {
		return nil, err
	}
	status, err := h.showStatus(ctx, o.ShowID)
	if err != nil {
		return nil, err
	}
	if status == domain.ShowStatusCancelled {
		return nil, domain.ErrShowCancelled
	}
	return o, nil
}

// charge takes the total of order o (id) from the card behind token. One charge
// per order and card: a retry with the same card replays the first answer;
// another card after a decline is a new attempt. A free order is confirmed
// without a charge, and has no charge id.
func (h *payOrder) charge(ctx context.Context, o *domain.Order, id uuid.UUID, token string) (chargeID string, err error) {
	if o.Free() {
		return "", nil
	}
	return h.payments.Charge(ctx, "order-"+id.String()+"/"+token, o.TotalCents, token)
}

// confirm confirms order o (id), as loaded under its lock, paid by
// chargeID, reloading it on a conflict. A confirmation by the same charge
// is replayed. It returns the order as it confirmed it.
func (h *payOrder) confirm(ctx context.Context, o *domain.Order, id uuid.UUID, chargeID string) (PayResult, *domain.Order, error) {
	stream := domain.OrderStream(id)
	var out PayResult
	var confirmed *domain.Order
	loaded := o // this process holds the order's lock: the first try needs no reload
	err := retry(ctx, h.retries, func() error {
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
			out = PayResult{ID: id, Tickets: withCodes(h.codes, o)}
			return nil
		}
		if err := o.Confirm(chargeID, h.now(), h.newID); err != nil {
			return err
		}
		res, err := h.events.save(ctx, stream, o.Version(), o.Changes())
		if err != nil {
			return err
		}
		out = PayResult{ID: id, Tickets: withCodes(h.codes, o), Position: res.Position}
		return nil
	})
	return out, confirmed, err
}

// lost refunds the charge of an order whose hold ran out before it was
// confirmed, and settles its show.
func (h *payOrder) lost(ctx context.Context, o *domain.Order, id uuid.UUID, chargeID string) {
	if chargeID != "" { // a free order was not charged
		if _, err := h.payments.Refund(ctx, "lost-"+chargeID, chargeID, o.TotalCents); err != nil {
			h.log.Error("refund failed", "order", id, "charge", chargeID, "err", err)
		}
	}
	h.settle.quietly(ctx, o.ShowID, id)
}

// showStatus returns a show's status as its stream has it now, from the
// show cached by this process and caught up under the show's lock: loading
// a hot show afresh for each payment would cost its snapshot every time.
func (h *payOrder) showStatus(ctx context.Context, id uuid.UUID) (domain.ShowStatus, error) {
	defer h.locks.lock(domain.ShowStream(id))()
	c, err := h.shows.current(ctx, id)
	if err != nil {
		return "", err
	}
	return c.show.Status, nil
}
