package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// OrderStatus is where an order is: held → confirmed, cancelled or expired.
type OrderStatus string

// Order statuses.
const (
	OrderStatusHeld      OrderStatus = "held"
	OrderStatusConfirmed OrderStatus = "confirmed"
	OrderStatusCancelled OrderStatus = "cancelled"
	OrderStatusExpired   OrderStatus = "expired"
)

// OrderPlaced: a buyer's order was placed on a hold of the show's inventory.
type OrderPlaced struct {
	OrderID    uuid.UUID  `json:"order_id"`
	ShowID     uuid.UUID  `json:"show_id"`
	BuyerID    uuid.UUID  `json:"buyer_id"`
	Items      []HeldItem `json:"items,omitempty"`
	Seats      []HeldSeat `json:"seats,omitempty"`
	TotalCents int64      `json:"total_cents"`
	PlacedAt   time.Time  `json:"placed_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// OrderConfirmed: the order was paid; it carries one ticket per unit.
type OrderConfirmed struct {
	OrderID     uuid.UUID `json:"order_id"`
	ShowID      uuid.UUID `json:"show_id"`
	BuyerID     uuid.UUID `json:"buyer_id"`
	PaymentID   string    `json:"payment_id"`
	TotalCents  int64     `json:"total_cents"`
	Tickets     []Ticket  `json:"tickets"`
	ConfirmedAt time.Time `json:"confirmed_at"`
}

// OrderCancelled: the buyer cancelled the held order.
type OrderCancelled struct {
	OrderID uuid.UUID `json:"order_id"`
	ShowID  uuid.UUID `json:"show_id"`
	At      time.Time `json:"at"`
}

// OrderExpired: the hold ran out unpaid. As the first event of a stream it is
// a tombstone: the order can never be placed.
type OrderExpired struct {
	OrderID uuid.UUID `json:"order_id"`
	ShowID  uuid.UUID `json:"show_id"`
	At      time.Time `json:"at"`
}

// TicketCheckedIn: a ticket was admitted at the door.
//
// Issue 14 (door) added Generation, the generation of the code admitted,
// and, for the scans of an offline scanner, Nonce and ScannedAt. They are
// optional: absent, as in every older event, they mean generation 0 and an
// online check-in, which is what those events were; so the schema version
// stays 1.
type TicketCheckedIn struct {
	OrderID    uuid.UUID `json:"order_id"`
	ShowID     uuid.UUID `json:"show_id"`
	TicketID   uuid.UUID `json:"ticket_id"`
	At         time.Time `json:"at"`
	Generation int       `json:"generation,omitempty"`
	Nonce      string    `json:"nonce,omitempty"`
	ScannedAt  time.Time `json:"scanned_at,omitzero"`
}

// EventType implementations: stable names, never renamed.
func (OrderPlaced) EventType() string     { return "order.placed" }
func (OrderConfirmed) EventType() string  { return "order.confirmed" }
func (OrderCancelled) EventType() string  { return "order.cancelled" }
func (OrderExpired) EventType() string    { return "order.expired" }
func (TicketCheckedIn) EventType() string { return "order.ticket_checked_in" }

// Order is the aggregate of a buyer's order and its tickets.
type Order struct {
	ID         uuid.UUID
	ShowID     uuid.UUID
	BuyerID    uuid.UUID
	Status     OrderStatus
	Items      []HeldItem
	Seats      []HeldSeat
	TotalCents int64
	ExpiresAt  time.Time
	PaymentID  string
	Tickets    []Ticket
	CheckedIn  map[uuid.UUID]time.Time

	// issue 14: door (door.go). Who holds each transferred ticket, the
	// generation of its code, and the nonces of the offline scans
	// recorded; nil until the first transfer or offline scan.
	holders     map[uuid.UUID]uuid.UUID
	generations map[uuid.UUID]int
	nonces      map[string]struct{}
	// issue 14: asyncpay
	// Intent is the provider payment intent started for the order, if any.
	Intent *PaymentIntent
	// issue 14: money. Voided are the refunded tickets; RefundedCents the
	// sum of the refunds; Refunds their ids, oldest first.
	Voided        map[uuid.UUID]bool
	RefundedCents int64
	Refunds       []string

	version int64
	changes []Event
}

// NewOrder returns an empty order, ready to load history or to be placed.
func NewOrder() *Order { return &Order{CheckedIn: map[uuid.UUID]time.Time{}} }

// Load replays history through the appliers.
func (o *Order) Load(history []Event, version int64) {
	for _, e := range history {
		o.apply(e)
	}
	o.version = version
}

// Version is the stream version the order was loaded at.
func (o *Order) Version() int64 { return o.version }

// Changes returns the events raised since loading.
func (o *Order) Changes() []Event { return o.changes }

// Exists reports whether the order stream has any event, a tombstone included.
func (o *Order) Exists() bool { return o.Status != "" }

func (o *Order) raise(e Event) {
	o.apply(e)
	o.changes = append(o.changes, e)
}

// Place records the order from the show's SeatsHeld event. An order stream
// that already exists (a tombstone included) fails with ErrOrderExists; a
// hold that breaks the show's rules (quantities, units per order, prices,
// a total that is not the sum of its prices, an expiry not after the hold)
// fails with a *ValidationError: the order does not trust its caller.
func (o *Order) Place(h SeatsHeld) error {
	if o.Exists() {
		return ErrOrderExists
	}
	if err := checkHeld(h); err != nil {
		return err
	}
	o.raise(OrderPlaced{
		OrderID: h.OrderID, ShowID: h.ShowID, BuyerID: h.BuyerID, Items: h.Items, Seats: h.Seats,
		TotalCents: h.TotalCents, PlacedAt: h.HeldAt, ExpiresAt: h.ExpiresAt,
	})
	return nil
}

// checkHeld checks a hold as Show.Hold makes them.
func checkHeld(h SeatsHeld) error {
	var v validator
	v.check(h.OrderID != uuid.Nil, "order_id", "is required")
	n := len(h.Items) + len(h.Seats)
	v.check(n > 0 && n <= MaxUnitsPerOrder, "items", "must hold between 1 and %d units", MaxUnitsPerOrder)
	if n > MaxUnitsPerOrder {
		return v.err()
	}
	for i, it := range h.Items {
		v.check(it.Quantity > 0 && it.Quantity <= MaxUnitsPerOrder, fmt.Sprintf("items[%d].quantity", i), "must be between 1 and %d", MaxUnitsPerOrder)
		checkPrice(&v, fmt.Sprintf("items[%d].unit_price_cents", i), it.UnitPriceCents)
	}
	for i, st := range h.Seats {
		checkPrice(&v, fmt.Sprintf("seats[%d].price_cents", i), st.PriceCents)
	}
	if err := v.err(); err != nil {
		return err
	}
	units, _ := UnitsOf(h.Items, h.Seats) // bounded: no overflow
	v.check(units <= MaxUnitsPerOrder, "items", "at most %d units per order", MaxUnitsPerOrder)
	total, ok := TotalOf(h.Items, h.Seats)
	v.check(ok && total == h.TotalCents, "total_cents", "must be the sum of the prices")
	v.check(h.ExpiresAt.After(h.HeldAt), "expires_at", "must be after held_at")
	return v.err()
}

// Units is the number of tickets the order is for; -1 when its items do
// not add up (a corrupt event: such an order cannot be paid).
func (o *Order) Units() int {
	n, ok := UnitsOf(o.Items, o.Seats)
	if !ok {
		return -1
	}
	return n
}

// Free reports whether the order costs nothing: it is confirmed without a
// charge.
func (o *Order) Free() bool { return o.TotalCents == 0 }

// held reports why the order is not held, or nil: it does not exist, its
// hold expired, or it ended otherwise.
func (o *Order) held() error {
	switch {
	case !o.Exists():
		return ErrOrderNotFound
	case o.Status == OrderStatusExpired:
		return ErrHoldExpired
	case o.Status != OrderStatusHeld:
		return ErrOrderNotHeld
	}
	return nil
}

// CanPay reports why the order cannot be paid at now, or nil.
func (o *Order) CanPay(now time.Time) error {
	if err := o.held(); err != nil {
		return err
	}
	switch {
	case !now.Before(o.ExpiresAt):
		return ErrHoldExpired
	case o.TotalCents < 0 || o.Units() < 1 || o.Units() > MaxUnitsPerOrder:
		// Only an order placed before the domain bounded its holds.
		return ErrInvalidState
	}
	return nil
}

// Confirm records a successful payment and issues one ticket per unit, with
// ids from newID. A ticket's code is not in the event: it is derived from
// the ticket (TicketCodes). Only a free order may be confirmed without a
// payment id.
func (o *Order) Confirm(paymentID string, now time.Time, newID func() uuid.UUID) error {
	if err := o.CanPay(now); err != nil {
		return err
	}
	if paymentID == "" && !o.Free() {
		return ErrInvalidState
	}
	tickets := make([]Ticket, 0, o.Units())
	for _, it := range o.Items {
		for range it.Quantity {
			tickets = append(tickets, Ticket{ID: newID(), Section: it.Section})
		}
	}
	for _, st := range o.Seats {
		tickets = append(tickets, Ticket{ID: newID(), Section: st.Section, Row: st.Row, Seat: st.Seat})
	}
	o.raise(OrderConfirmed{
		OrderID: o.ID, ShowID: o.ShowID, BuyerID: o.BuyerID, PaymentID: paymentID,
		TotalCents: o.TotalCents, Tickets: tickets, ConfirmedAt: now.UTC(),
	})
	return nil
}

// Cancel ends a held order at the buyer's request. Cancelling a cancelled
// order raises nothing.
func (o *Order) Cancel(now time.Time) error {
	if o.Exists() && o.Status == OrderStatusCancelled {
		return nil
	}
	if err := o.held(); err != nil {
		return err
	}
	o.raise(OrderCancelled{OrderID: o.ID, ShowID: o.ShowID, At: now.UTC()})
	return nil
}

// Expire ends a held order whose hold ran out. On an order that does not
// exist yet it writes a tombstone, so that a late placement fails. It raises
// nothing when the order is no longer held and fails with ErrInvalidState
// when the hold has not run out yet.
func (o *Order) Expire(id, show uuid.UUID, now time.Time) error {
	switch {
	case !o.Exists():
		o.raise(OrderExpired{OrderID: id, ShowID: show, At: now.UTC()})
		return nil
	case o.Status != OrderStatusHeld:
		return nil
	case now.Before(o.ExpiresAt):
		return ErrInvalidState
	}
	o.raise(OrderExpired{OrderID: o.ID, ShowID: o.ShowID, At: now.UTC()})
	return nil
}

// Ticket returns one of the order's tickets.
func (o *Order) Ticket(id uuid.UUID) (Ticket, bool) {
	for _, t := range o.Tickets {
		if t.ID == id {
			return t, true
		}
	}
	return Ticket{}, false
}

// CheckIn admits a ticket once; a second check-in fails with a
// *CheckInRefusedError that says when the first was, which is
// ErrAlreadyCheckedIn.
func (o *Order) CheckIn(ticket uuid.UUID, now time.Time) error {
	if _, ok := o.Ticket(ticket); ok && o.Voided[ticket] {
		return ErrTicketVoided
	}
	if _, ok := o.Ticket(ticket); !ok || o.Status != OrderStatusConfirmed {
		return ErrTicketNotFound
	}
	if at, done := o.CheckedIn[ticket]; done { // says when (issue 16), and Is ErrAlreadyCheckedIn
		return &CheckInRefusedError{Reason: RefusedAlreadyCheckedIn, TicketID: ticket, CheckedInAt: at}
	}
	o.raise(TicketCheckedIn{OrderID: o.ID, ShowID: o.ShowID, TicketID: ticket, At: now.UTC(), Generation: o.Generation(ticket)})
	return nil
}

func (o *Order) apply(e Event) {
	switch e := e.(type) {
	case OrderPlaced:
		o.ID, o.ShowID, o.BuyerID = e.OrderID, e.ShowID, e.BuyerID
		o.Items, o.Seats, o.TotalCents, o.ExpiresAt = e.Items, e.Seats, e.TotalCents, e.ExpiresAt
		o.Status = OrderStatusHeld
	case OrderConfirmed:
		o.Status, o.PaymentID, o.Tickets = OrderStatusConfirmed, e.PaymentID, e.Tickets
	case OrderCancelled:
		o.Status = OrderStatusCancelled
	case OrderExpired:
		o.ID, o.ShowID = e.OrderID, e.ShowID
		o.Status = OrderStatusExpired
	case TicketCheckedIn:
		o.CheckedIn[e.TicketID] = e.At
		o.applyScanNonce(e) // issue 14: door
	case TicketTransferred: // issue 14: door
		o.applyTransferred(e)
	case OrderPaymentStarted, OrderPaymentSucceeded, OrderPaymentFailed, OrderPaymentRefunded: // issue 14: asyncpay
		o.applyPayment(e)
	case OrderRefunded: // issue 14: money
		o.applyRefunded(e)
	}
}
