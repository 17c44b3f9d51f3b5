package domain

import (
	"fmt"

	"github.com/google/uuid"
)

// Issue 14 (door): the auditor's view of transfers and of the door. Under
// AuditCheckIns it also checks that a ticket is transferred only by its
// holder, before it is checked in, one generation at a time; that a
// check-in admits the ticket's current generation (a code transferred away
// opens no door); and that an offline scan's nonce is recorded once per
// order: the engine keeps the nonces of an order's check-ins in its stream
// (a scan uploaded again names the same ticket, so the same order).

// auditDoor is the auditor's state of transfers and scans.
type auditDoor struct {
	generations map[uuid.UUID]int       // ticket → current generation
	holders     map[uuid.UUID]uuid.UUID // ticket → holder, once transferred
	nonces      map[auditNonce]EventRef // → the check-in that recorded it
	scans       int64                   // distinct nonces: the offline scans
}

// auditNonce is a scan's nonce in an order.
type auditNonce struct {
	order uuid.UUID
	nonce string
}

func (a *Auditor) doorState() *auditDoor {
	if a.door == nil {
		a.door = &auditDoor{generations: map[uuid.UUID]int{}, holders: map[uuid.UUID]uuid.UUID{}, nonces: map[auditNonce]EventRef{}}
	}
	return a.door
}

// ticketTransferred audits an order.ticket_transferred.
func (a *Auditor) ticketTransferred(ref EventRef, e TicketTransferred) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.checked[cCheckIns]++
	d := a.doorState()
	t, issued := a.tickets[e.TicketID]
	holder, moved := d.holders[e.TicketID]
	if !moved {
		holder = o.buyer
	}
	id := e.TicketID.String()
	switch {
	case o.status != OrderStatusConfirmed:
		a.violate(cCheckIns, "ticket "+id+" transferred, its order is "+statusOf(o), lastOf(o, ref)...)
		return
	case !issued || t.order != e.OrderID:
		a.violate(cCheckIns, "ticket "+id+" transferred is not one of the order's", o.last, ref)
		return
	case t.checked:
		a.violate(cCheckIns, "ticket "+id+" transferred after its check-in", ref)
	case e.FromUserID != holder:
		a.violate(cCheckIns, "ticket "+id+" transferred by "+e.FromUserID.String()+", held by "+holder.String(), ref)
	case e.Generation != d.generations[e.TicketID]+1:
		a.violate(cCheckIns, fmt.Sprintf("ticket %s transferred to generation %d from %d", id, e.Generation, d.generations[e.TicketID]), ref)
	}
	d.generations[e.TicketID], d.holders[e.TicketID] = e.Generation, e.ToUserID
}

// doorCheckIn audits the door's part of an order.ticket_checked_in: the
// generation its code named and its scan's nonce.
func (a *Auditor) doorCheckIn(ref EventRef, e TicketCheckedIn) {
	d := a.doorState()
	if gen := d.generations[e.TicketID]; e.Generation != gen {
		a.violate(cCheckIns, fmt.Sprintf("ticket %s checked in with the code of generation %d; its code is of generation %d (transferred)",
			e.TicketID, e.Generation, gen), ref)
	}
	if e.Nonce == "" {
		return
	}
	key := auditNonce{e.OrderID, e.Nonce}
	if first, dup := d.nonces[key]; dup {
		a.violate(cCheckIns, "scan nonce "+e.Nonce+" recorded twice", first, ref)
		return
	}
	d.nonces[key] = ref
	d.scans++
}
