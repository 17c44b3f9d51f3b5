package domain

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// OrderStatusRefunded: every ticket of the confirmed order was refunded.
const OrderStatusRefunded OrderStatus = "refunded"

// Refund errors.
var (
	// ErrNotRefundable: the order is not confirmed (held, cancelled,
	// expired): nothing was paid.
	ErrNotRefundable = errors.New("order is not paid: nothing to refund")
	// ErrAlreadyRefunded: the order, or a ticket asked for, is refunded.
	ErrAlreadyRefunded = errors.New("already refunded")
	// ErrTicketVoided: the ticket was refunded; it admits nobody.
	ErrTicketVoided = errors.New("ticket is void: it was refunded")
)

// ReasonShowCancelled is the reason of the refunds of a cancelled show.
const ReasonShowCancelled = "show cancelled"

// OrderRefunded: tickets of a confirmed order were refunded; they are void.
// RefundID is the idempotency key of the provider's refund, derived from
// the event's place in the order stream; PaymentID is the refunded charge
// ("" for a free order, which moves no money).
type OrderRefunded struct {
	OrderID     uuid.UUID   `json:"order_id"`
	ShowID      uuid.UUID   `json:"show_id"`
	BuyerID     uuid.UUID   `json:"buyer_id"`
	RefundID    string      `json:"refund_id"`
	PaymentID   string      `json:"payment_id"`
	AmountCents int64       `json:"amount_cents"`
	TicketIDs   []uuid.UUID `json:"ticket_ids"`
	Items       []HeldItem  `json:"items,omitempty"`
	Seats       []HeldSeat  `json:"seats,omitempty"`
	Reason      string      `json:"reason"`
	Restock     bool        `json:"restock"`
	RefundedAt  time.Time   `json:"refunded_at"`
}

// SeatsReturned: the units of a refund went back on sale. Like a release,
// it gives back the quota units its units take (Quotas, issue 14: rules),
// and the waiting-list offers its units allow follow it in the same append
// (issue 14: waitlist).
type SeatsReturned struct {
	ShowID   uuid.UUID  `json:"show_id"`
	OrderID  uuid.UUID  `json:"order_id"`
	BuyerID  uuid.UUID  `json:"buyer_id"`
	RefundID string     `json:"refund_id"`
	Items    []HeldItem `json:"items,omitempty"`
	Seats    []HeldSeat `json:"seats,omitempty"`
	At       time.Time  `json:"at"`
	Quotas   []QuotaUse `json:"quotas,omitempty"`
}

// EventType implementations: stable names, never renamed.
func (OrderRefunded) EventType() string { return "order.refunded" }
func (SeatsReturned) EventType() string { return "show.seats_returned" }

// RefundRequest asks to refund tickets of an order; no tickets means every
// ticket not refunded yet.
type RefundRequest struct {
	Tickets []uuid.UUID
	Reason  string
	Restock bool
}

// RefundKey is the provider key of the refund appended at stream version
// version of order id.
func RefundKey(id uuid.UUID, version int64) string {
	return "refund-" + id.String() + "-" + strconv.FormatInt(version, 10)
}

// Refund refunds tickets of a confirmed order and voids them: the amount is
// what the tickets were paid, so the refunds of an order never exceed its
// total. It fails with ErrOrderNotFound, ErrNotRefundable (not paid),
// ErrAlreadyRefunded (the order or a ticket asked for) or a
// *ValidationError (a reason or ticket that is not right).
func (o *Order) Refund(r RefundRequest, now time.Time) error {
	switch {
	case !o.Exists():
		return ErrOrderNotFound
	case o.Status == OrderStatusRefunded:
		return ErrAlreadyRefunded
	case o.Status != OrderStatusConfirmed:
		return ErrNotRefundable
	}
	var v validator
	checkText(&v, "reason", r.Reason, MaxTextLen)
	tickets, err := o.refundable(&v, r.Tickets)
	if err != nil {
		return err
	}
	e := OrderRefunded{OrderID: o.ID, ShowID: o.ShowID, BuyerID: o.BuyerID, PaymentID: o.PaymentID,
		RefundID: RefundKey(o.ID, o.version+int64(len(o.changes))+1), Reason: r.Reason, Restock: r.Restock, RefundedAt: now.UTC()}
	for _, t := range tickets {
		price, typ, ok := o.unitOf(t)
		if !ok {
			return ErrInvalidState // a ticket the order's units do not price: a corrupt event
		}
		e.TicketIDs = append(e.TicketIDs, t.ID)
		e.AmountCents += price // at most MaxUnitsPerOrder × MaxPriceCents
		if t.Row != "" {
			e.Seats = append(e.Seats, HeldSeat{SeatRef: SeatRef{Section: t.Section, Row: t.Row, Seat: t.Seat}, PriceCents: price, TicketType: typ})
		} else {
			e.Items = addTypedItem(e.Items, t.Section, typ, price)
		}
	}
	if sum, ok := addInt64(o.RefundedCents, e.AmountCents); !ok || sum > o.TotalCents {
		return fmt.Errorf("%w: refunds would exceed the total", ErrInvalidState)
	}
	o.raise(e)
	return nil
}

// refundable returns the tickets ids asks for (none: all that are not
// void), checking each is the order's, once, and not void.
func (o *Order) refundable(v *validator, ids []uuid.UUID) ([]Ticket, error) {
	if len(ids) > MaxUnitsPerOrder {
		v.check(false, "tickets", "at most %d tickets", MaxUnitsPerOrder)
		return nil, v.err()
	}
	var out []Ticket
	if len(ids) == 0 {
		for _, t := range o.Tickets {
			if !o.Voided[t.ID] {
				out = append(out, t)
			}
		}
		return out, v.err()
	}
	seen := map[uuid.UUID]bool{}
	void := false
	for i, id := range ids {
		f := fmt.Sprintf("tickets[%d]", i)
		t, ok := o.Ticket(id)
		v.check(ok, f, "is not a ticket of the order")
		v.check(!seen[id], f, "ticket asked for twice")
		seen[id] = true
		void = void || o.Voided[id]
		if ok {
			out = append(out, t)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if void {
		return nil, fmt.Errorf("%w: a ticket asked for", ErrAlreadyRefunded)
	}
	return out, nil
}

// unitOf returns what the order paid for ticket t, and its ticket type.
// The general-admission tickets were issued item by item (Confirm), so the
// i-th of them is a unit of the item that covers i.
func (o *Order) unitOf(t Ticket) (price int64, typ string, ok bool) {
	if t.Row != "" {
		for _, s := range o.Seats {
			if s.Section == t.Section && s.Row == t.Row && s.Seat == t.Seat {
				return s.PriceCents, s.TicketType, true
			}
		}
		return 0, "", false
	}
	if i := slices.IndexFunc(o.Tickets, func(x Ticket) bool { return x.ID == t.ID }); i >= 0 {
		for _, it := range o.Items {
			if i < it.Quantity {
				if it.Section == t.Section {
					return it.UnitPriceCents, it.TicketType, true
				}
				break
			}
			i -= it.Quantity
		}
	}
	for _, it := range o.Items { // tickets issued otherwise: the section's first item
		if it.Section == t.Section {
			return it.UnitPriceCents, it.TicketType, true
		}
	}
	return 0, "", false
}

// addItem adds one unit of section at price to items.
func addItem(items []HeldItem, section string, price int64) []HeldItem {
	return addTypedItem(items, section, "", price)
}

// addTypedItem adds one unit of section and ticket type typ at price to
// items.
func addTypedItem(items []HeldItem, section, typ string, price int64) []HeldItem {
	for i := range items {
		if items[i].Section == section && items[i].TicketType == typ && items[i].UnitPriceCents == price {
			items[i].Quantity++
			return items
		}
	}
	return append(items, HeldItem{Section: section, Quantity: 1, UnitPriceCents: price, TicketType: typ})
}

// Void reports whether a ticket of the order was refunded.
func (o *Order) Void(ticket uuid.UUID) bool { return o.Voided[ticket] }

func (o *Order) applyRefunded(e OrderRefunded) {
	if o.Voided == nil {
		o.Voided = map[uuid.UUID]bool{}
	}
	for _, id := range e.TicketIDs {
		o.Voided[id] = true
	}
	o.RefundedCents += e.AmountCents
	o.Refunds = append(o.Refunds, e.RefundID)
	if len(o.Voided) >= len(o.Tickets) {
		o.Status = OrderStatusRefunded
	}
}

// ReturnSeats puts the units of an order's refund back on sale, as a
// release does: the quotas that cover them get their units back, and the
// returned units of a section with buyers waiting go to its waiting list
// in the same decision (the offers follow show.seats_returned). Returning
// a refund twice raises nothing; units the order did not buy, or that are
// no longer sold to it, fail with ErrInvalidState.
func (s *Show) ReturnSeats(r OrderRefunded, now time.Time) error {
	switch {
	case !s.Exists():
		return ErrShowNotFound
	case s.returned[r.RefundID]:
		return nil
	case !s.sold[r.OrderID]:
		return fmt.Errorf("%w: order %s was not sold", ErrInvalidState, r.OrderID)
	}
	for _, it := range r.Items {
		sec, ok := s.sections[it.Section]
		if !ok || sec.spec.Seated() || it.Quantity < 1 || sec.sold < it.Quantity {
			return fmt.Errorf("%w: %d units of section %q are not sold", ErrInvalidState, it.Quantity, it.Section)
		}
	}
	for _, st := range r.Seats {
		sec, ok := s.sections[st.Section]
		if !ok || !sec.spec.Seated() || sec.taken[st.SeatRef] != (takenBy{order: r.OrderID, sold: true}) {
			return fmt.Errorf("%w: seat %s is not sold to the order", ErrInvalidState, st.SeatRef)
		}
	}
	s.raise(SeatsReturned{ShowID: s.ID, OrderID: r.OrderID, BuyerID: r.BuyerID, RefundID: r.RefundID,
		Items: r.Items, Seats: r.Seats, At: now.UTC(), Quotas: s.returnedQuotas(r.Items, r.Seats)})
	s.offerReleased(r.Items, now) // issue 14: waitlist
	return nil
}

// returnedQuotas is what returned units give back to each quota: the units
// a quota covers (by section or ticket type, as at a hold), at most the
// units taken of it. In quota order; nil for a show without quotas.
func (s *Show) returnedQuotas(items []HeldItem, seats []HeldSeat) []QuotaUse {
	if s.rules == nil {
		return nil
	}
	var out []QuotaUse
	for _, code := range s.rules.quotaOrder {
		q := s.rules.quotas[code]
		if n := min(quotaCovered(&q.Quota, items, seats), q.used); n > 0 {
			out = append(out, QuotaUse{Quota: code, Units: n})
		}
	}
	return out
}

// quotaCovered counts the units of items and seats that q covers. Bounded:
// a refund has at most MaxUnitsPerOrder units.
func quotaCovered(q *Quota, items []HeldItem, seats []HeldSeat) int {
	n := 0
	for _, it := range items {
		if q.covers(it.Section, it.TicketType) && it.Quantity > 0 {
			n += it.Quantity
		}
	}
	for _, st := range seats {
		if q.covers(st.Section, st.TicketType) {
			n++
		}
	}
	return n
}

// Returned reports whether the units of a refund went back on sale.
func (s *Show) Returned(refundID string) bool { return s.returned[refundID] }

func (s *Show) applyReturned(e SeatsReturned) {
	if s.returned == nil {
		s.returned = map[string]bool{}
	}
	s.returned[e.RefundID] = true
	for _, it := range e.Items {
		if sec := s.sections[it.Section]; sec != nil {
			sec.sold -= it.Quantity
		}
	}
	for _, st := range e.Seats {
		if sec := s.sections[st.Section]; sec != nil {
			delete(sec.taken, st.SeatRef)
		}
	}
	s.countBuyer(e.BuyerID, e.Items, e.Seats, -1)
	s.countUses("", e.Quotas, -1) // issue 14: rules
}
