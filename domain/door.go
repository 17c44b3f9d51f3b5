package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TicketTransferred: a ticket's holder gave it to another registered
// buyer. The ticket's code changes: Generation is the new one, and codes
// of earlier generations are refused at the door.
type TicketTransferred struct {
	OrderID    uuid.UUID `json:"order_id"`
	ShowID     uuid.UUID `json:"show_id"`
	TicketID   uuid.UUID `json:"ticket_id"`
	FromUserID uuid.UUID `json:"from_user_id"`
	ToUserID   uuid.UUID `json:"to_user_id"`
	Generation int       `json:"generation"`
	At         time.Time `json:"at"`
}

// EventType implements Event: a stable name, never renamed.
func (TicketTransferred) EventType() string { return "order.ticket_transferred" }

// MaxTicketTransfers bounds the transfers of one ticket: its generation
// fits a code's two bytes.
const MaxTicketTransfers = 1000

// Bounds of a scan's nonce, which an offline scanner makes.
const MaxNonceLen = 64

// Reasons the door refuses a ticket: the Reason of a *CheckInRefusedError.
const (
	RefusedAlreadyCheckedIn = "already_checked_in"
	RefusedVoided           = "voided"
	RefusedTransferred      = "transferred"
	RefusedWrongShow        = "wrong_show"
	RefusedUnknownCode      = "unknown_code"
	// RefusedDuplicate: the scan's nonce was recorded already (an offline
	// batch uploaded again); nothing is written.
	RefusedDuplicate = "duplicate"
)

// ErrTicketNotTransferable: the ticket is void or was transferred too
// often.
var ErrTicketNotTransferable = errors.New("ticket cannot be transferred")

// CheckInRefusedError says why the door refuses a ticket. CheckedInAt is
// set when Reason is RefusedAlreadyCheckedIn. It matches
// ErrAlreadyCheckedIn for that reason and ErrUnknownCode for an unknown
// code.
type CheckInRefusedError struct {
	Reason      string
	TicketID    uuid.UUID
	CheckedInAt time.Time
}

func (e *CheckInRefusedError) Error() string {
	switch e.Reason {
	case RefusedAlreadyCheckedIn:
		return fmt.Sprintf("the ticket was checked in already, at %s", e.CheckedInAt.UTC().Format(time.RFC3339))
	case RefusedVoided:
		return "the ticket is void"
	case RefusedTransferred:
		return "the ticket was transferred: this code is no longer valid"
	case RefusedWrongShow:
		return "the ticket is for another show"
	case RefusedDuplicate:
		return "this scan was recorded already"
	}
	return "no ticket has this code"
}

// Is matches ErrAlreadyCheckedIn and ErrUnknownCode for their reasons.
func (e *CheckInRefusedError) Is(target error) bool {
	return (target == ErrAlreadyCheckedIn && e.Reason == RefusedAlreadyCheckedIn) ||
		(target == ErrUnknownCode && e.Reason == RefusedUnknownCode)
}

func refused(reason string, ticket uuid.UUID) error {
	return &CheckInRefusedError{Reason: reason, TicketID: ticket}
}

// DoorScan is one scan of a ticket's code at the door of ShowID: the
// ticket and generation its code names. Nonce and ScannedAt come from an
// offline scanner; online, both are empty.
type DoorScan struct {
	ShowID     uuid.UUID
	TicketID   uuid.UUID
	Generation int
	Nonce      string
	ScannedAt  time.Time
}

// CheckNonce checks a scanner's nonce: 1 to MaxNonceLen characters of
// A-Z, a-z, 0-9, '-', '_', '.' and ':'.
func CheckNonce(field, nonce string) error {
	var v validator
	ok := len(nonce) > 0 && len(nonce) <= MaxNonceLen
	for i := 0; ok && i < len(nonce); i++ {
		c := nonce[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
	}
	v.check(ok, field, "must be 1 to %d characters of letters, digits, '-', '_', '.' or ':'", MaxNonceLen)
	return v.err()
}

// Admit checks a ticket in by its code's scan: once, at the right show,
// for the code's current generation. A refusal is a *CheckInRefusedError
// and raises nothing.
func (o *Order) Admit(s DoorScan, now time.Time) error {
	if _, ok := o.Ticket(s.TicketID); !ok || o.Status != OrderStatusConfirmed && !o.ticketVoided(s.TicketID) {
		return refused(RefusedUnknownCode, s.TicketID)
	}
	gen := o.Generation(s.TicketID)
	_, dup := o.nonces[s.Nonce]
	switch {
	case o.ShowID != s.ShowID:
		return refused(RefusedWrongShow, s.TicketID)
	case s.Nonce != "" && dup:
		return refused(RefusedDuplicate, s.TicketID)
	case o.ticketVoided(s.TicketID):
		return refused(RefusedVoided, s.TicketID)
	case s.Generation < gen:
		return refused(RefusedTransferred, s.TicketID)
	case s.Generation > gen:
		return refused(RefusedUnknownCode, s.TicketID)
	}
	if at, done := o.CheckedIn[s.TicketID]; done {
		return &CheckInRefusedError{Reason: RefusedAlreadyCheckedIn, TicketID: s.TicketID, CheckedInAt: at}
	}
	e := TicketCheckedIn{OrderID: o.ID, ShowID: o.ShowID, TicketID: s.TicketID, At: now.UTC(), Generation: gen, Nonce: s.Nonce}
	if !s.ScannedAt.IsZero() {
		e.ScannedAt = s.ScannedAt.UTC()
	}
	o.raise(e)
	return nil
}

// Transfer gives a ticket from its holder, from, to another registered
// buyer, to: the ticket's code moves to the next generation. A ticket from
// does not hold is not found; one checked in fails with
// ErrAlreadyCheckedIn; a void one, or one transferred MaxTicketTransfers
// times, with ErrTicketNotTransferable.
func (o *Order) Transfer(ticket, from, to uuid.UUID, now time.Time) error {
	if _, ok := o.Ticket(ticket); !ok || o.Status != OrderStatusConfirmed || o.Holder(ticket) != from {
		return ErrTicketNotFound
	}
	var v validator
	v.check(to != uuid.Nil, "email", "must name a registered buyer")
	v.check(to != from, "email", "must name another account than yours")
	if err := v.err(); err != nil {
		return err
	}
	if _, done := o.CheckedIn[ticket]; done {
		return ErrAlreadyCheckedIn
	}
	gen := o.Generation(ticket)
	if o.ticketVoided(ticket) || gen >= MaxTicketTransfers {
		return ErrTicketNotTransferable
	}
	o.raise(TicketTransferred{OrderID: o.ID, ShowID: o.ShowID, TicketID: ticket, FromUserID: from, ToUserID: to,
		Generation: gen + 1, At: now.UTC()})
	return nil
}

// Holder returns who holds a ticket of the order now: its buyer, unless
// the ticket was transferred.
func (o *Order) Holder(ticket uuid.UUID) uuid.UUID {
	if h, ok := o.holders[ticket]; ok {
		return h
	}
	return o.BuyerID
}

// Generation returns the generation of a ticket's code: 0 when issued, one
// more per transfer.
func (o *Order) Generation(ticket uuid.UUID) int { return o.generations[ticket] }

// ticketVoided reports whether a ticket is void: refunded (order.refunded).
// Admit refuses it as RefusedVoided and Transfer as
// ErrTicketNotTransferable.
func (o *Order) ticketVoided(ticket uuid.UUID) bool { return o.Voided[ticket] }

func (o *Order) applyTransferred(e TicketTransferred) {
	if o.holders == nil {
		o.holders, o.generations = map[uuid.UUID]uuid.UUID{}, map[uuid.UUID]int{}
	}
	o.holders[e.TicketID], o.generations[e.TicketID] = e.ToUserID, e.Generation
}

func (o *Order) applyScanNonce(e TicketCheckedIn) {
	if e.Nonce == "" {
		return
	}
	if o.nonces == nil {
		o.nonces = map[string]struct{}{}
	}
	o.nonces[e.Nonce] = struct{}{}
}

// SchemaVersion implements Versioned: version 2 of order.confirmed carries
// no ticket codes (issue 14: door).
func (OrderConfirmed) SchemaVersion() int { return 2 }

// upcastOrderConfirmedV1 brings order.confirmed from version 1 to 2: it
// drops the plain code of each ticket. Codes are derived from the ticket
// now, so an old plain code, which the log and its copies may hold, no
// longer opens a door.
func upcastOrderConfirmedV1(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	var tickets []map[string]json.RawMessage
	if raw, ok := fields["tickets"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &tickets); err != nil {
			return nil, fmt.Errorf("tickets: %w", err)
		}
		for _, t := range tickets {
			delete(t, "code")
		}
		out, err := json.Marshal(tickets)
		if err != nil {
			return nil, err
		}
		fields["tickets"] = out
	}
	return json.Marshal(fields)
}
