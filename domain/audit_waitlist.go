package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// The Auditor's waiting-list checks, reported under AuditHolds: a buyer
// joins only the list of a sold-out general-admission section, once; an
// offer goes only to the first buyer waiting, for the units they asked
// for, and is followed by its hold; no more units are reserved or offered
// than were released (or returned by a restocking refund) while buyers
// waited; reserved units are held by no
// one else; a buyer has at most one open offer per section.

// auditWaitlist is what the Auditor remembers of a show's waiting lists.
type auditWaitlist struct {
	sections map[string]*auditWaitSection
	pending  *WaitlistOffered // an offer whose hold has yet to follow
	pendRef  EventRef
	open     map[uuid.UUID]WaitlistOffered // open offers by order
}

type auditWaitSection struct {
	queue    []WaitlistEntry
	reserved int64
	credit   int64 // units released while buyers waited, not yet reserved or offered
}

func (a *Auditor) waitlistOf(id uuid.UUID) *auditWaitlist {
	if a.waitlists == nil {
		a.waitlists = map[uuid.UUID]*auditWaitlist{}
	}
	w := a.waitlists[id]
	if w == nil {
		w = &auditWaitlist{sections: map[string]*auditWaitSection{}, open: map[uuid.UUID]WaitlistOffered{}}
		a.waitlists[id] = w
	}
	return w
}

func (w *auditWaitlist) section(name string) *auditWaitSection {
	ws := w.sections[name]
	if ws == nil {
		ws = &auditWaitSection{}
		w.sections[name] = ws
	}
	return ws
}

// waitlistEvent audits a waiting-list event.
func (a *Auditor) waitlistEvent(ref EventRef, e Event) {
	switch e := e.(type) {
	case WaitlistJoined:
		a.waitlistJoined(ref, e)
	case WaitlistLeft:
		if s := a.showEvent(ref, e.ShowID); s != nil {
			w := a.waitlistOf(e.ShowID)
			a.checked[cHolds]++
			if !w.remove(e.Section, e.BuyerID) {
				a.violate(cHolds, fmt.Sprintf("buyer %s left the waiting list of %q without being on it", e.BuyerID, e.Section), ref)
			}
		}
	case WaitlistReserved:
		a.waitlistReserved(ref, e)
	case WaitlistOffered:
		a.waitlistOffered(ref, e)
	}
}

// waitSectionOf returns the general-admission section a waiting-list event
// names, or reports that there is none.
func (a *Auditor) waitSectionOf(ref EventRef, s *auditShow, name string) *auditSection {
	sec := s.sections[name]
	if sec == nil || sec.seated {
		a.violate(cHolds, fmt.Sprintf("no general-admission section %q for a waiting list", name), ref)
		return nil
	}
	return sec
}

// waitSection counts a check of a waiting-list event and returns its show
// and section, or nil when either is missing (reported).
func (a *Auditor) waitSection(ref EventRef, show uuid.UUID, name string) (*auditShow, *auditSection) {
	s := a.showEvent(ref, show)
	if s == nil {
		return nil, nil
	}
	a.checked[cHolds]++
	return s, a.waitSectionOf(ref, s, name)
}

func (a *Auditor) waitlistJoined(ref EventRef, e WaitlistJoined) {
	s, sec := a.waitSection(ref, e.ShowID, e.Section)
	if sec == nil {
		return
	}
	w := a.waitlistOf(e.ShowID)
	ws := w.section(e.Section)
	switch {
	case s.status != ShowStatusOnSale:
		a.violate(cHolds, "a waiting list joined on a show not on sale", ref)
	case e.Quantity <= 0 || e.Quantity > MaxUnitsPerOrder:
		a.violate(cHolds, fmt.Sprintf("a waiting list joined for %d units", e.Quantity), ref)
		return
	case slices.ContainsFunc(ws.queue, func(x WaitlistEntry) bool { return x.BuyerID == e.BuyerID }):
		a.violate(cHolds, fmt.Sprintf("buyer %s joined the waiting list of %q twice", e.BuyerID, e.Section), ref)
		return
	case sec.held+sec.sold+ws.reserved < sec.capacity:
		a.violate(cHolds, fmt.Sprintf("buyer %s joined the waiting list of %q, which has %d units left", e.BuyerID, e.Section,
			sec.capacity-sec.held-sec.sold-ws.reserved), ref)
	}
	ws.queue = append(ws.queue, WaitlistEntry{BuyerID: e.BuyerID, Quantity: e.Quantity, JoinedAt: e.JoinedAt, TicketType: e.TicketType})
}

// spend takes q units of a section's credit, or reports that they were
// never released to the list.
func (a *Auditor) spend(ref EventRef, ws *auditWaitSection, section string, q int64, what string) {
	if q > ws.credit {
		a.violate(cHolds, fmt.Sprintf("section %q: %d units %s, only %d released to the waiting list", section, q, what, ws.credit), ref)
		ws.credit = 0
		return
	}
	ws.credit -= q
}

func (a *Auditor) waitlistReserved(ref EventRef, e WaitlistReserved) {
	_, sec := a.waitSection(ref, e.ShowID, e.Section)
	if sec == nil {
		return
	}
	ws := a.waitlistOf(e.ShowID).section(e.Section)
	if e.Quantity <= 0 || len(ws.queue) == 0 {
		a.violate(cHolds, fmt.Sprintf("section %q: %d units reserved for a waiting list of %d buyers", e.Section, e.Quantity, len(ws.queue)), ref)
		return
	}
	a.spend(ref, ws, e.Section, int64(e.Quantity), "reserved")
	ws.reserved += int64(e.Quantity)
	if sec.held+sec.sold+ws.reserved > sec.capacity {
		a.violate(cCapacity, fmt.Sprintf("section %q: %d held + %d sold + %d reserved, capacity %d", e.Section, sec.held, sec.sold, ws.reserved, sec.capacity), ref)
	}
}

func (a *Auditor) waitlistOffered(ref EventRef, e WaitlistOffered) {
	if a.shows[e.ShowID] != nil {
		a.offerWithoutHold(a.waitlistOf(e.ShowID))
	}
	if _, sec := a.waitSection(ref, e.ShowID, e.Section); sec == nil {
		return
	}
	w := a.waitlistOf(e.ShowID)
	ws := w.section(e.Section)
	switch {
	case len(ws.queue) == 0 || !slices.ContainsFunc(ws.queue, func(x WaitlistEntry) bool { return x.BuyerID == e.BuyerID }):
		a.violate(cHolds, fmt.Sprintf("an offer of %q to buyer %s, who is not waiting", e.Section, e.BuyerID), ref)
		return
	case ws.queue[0].BuyerID != e.BuyerID:
		a.violate(cHolds, fmt.Sprintf("an offer of %q to buyer %s out of turn: buyer %s waits ahead", e.Section, e.BuyerID, ws.queue[0].BuyerID), ref)
	case ws.queue[0].Quantity != e.Quantity:
		a.violate(cHolds, fmt.Sprintf("an offer of %d units of %q, buyer %s asked for %d", e.Quantity, e.Section, e.BuyerID, ws.queue[0].Quantity), ref)
	case ws.queue[0].TicketType != e.TicketType:
		a.violate(cHolds, fmt.Sprintf("an offer of type %q of %q, buyer %s waits for %q", e.TicketType, e.Section, e.BuyerID, ws.queue[0].TicketType), ref)
	}
	for _, o := range w.open {
		if o.BuyerID == e.BuyerID && o.Section == e.Section {
			a.violate(cHolds, fmt.Sprintf("buyer %s has two open offers of %q", e.BuyerID, e.Section), ref)
		}
	}
	fromReserved := min(ws.reserved, int64(e.Quantity))
	ws.reserved -= fromReserved
	a.spend(ref, ws, e.Section, int64(e.Quantity)-fromReserved, "offered")
	w.remove(e.Section, e.BuyerID)
	w.pending, w.pendRef = &e, ref
}

// offerWithoutHold reports a pending offer whose hold did not follow.
func (a *Auditor) offerWithoutHold(w *auditWaitlist) {
	if w.pending != nil {
		a.violate(cHolds, "an offer to buyer "+w.pending.BuyerID.String()+" without its hold", w.pendRef)
		w.pending = nil
	}
}

// waitlistHeld checks a hold against the waiting lists: an offer's hold
// matches its offer; no other hold takes units reserved for a list.
func (a *Auditor) waitlistHeld(ref EventRef, s *auditShow, e SeatsHeld) {
	w := a.waitlists[e.ShowID]
	if w == nil {
		return
	}
	if p := w.pending; p != nil && p.OrderID == e.OrderID {
		w.pending = nil
		a.checked[cHolds]++
		if e.BuyerID != p.BuyerID || len(e.Seats) > 0 || len(e.Items) != 1 || e.Items[0].Section != p.Section || e.Items[0].Quantity != p.Quantity ||
			e.Items[0].TicketType != p.TicketType {
			a.violate(cHolds, "the hold of an offer to buyer "+p.BuyerID.String()+" is not the offer", w.pendRef, ref)
		}
		w.open[e.OrderID] = *p
		return
	}
	a.offerWithoutHold(w)
	for _, it := range e.Items {
		ws, sec := w.sections[it.Section], s.sections[it.Section]
		if ws == nil || sec == nil || ws.reserved == 0 {
			continue
		}
		a.checked[cCapacity]++
		if sec.held+sec.sold+ws.reserved > sec.capacity {
			a.violate(cCapacity, fmt.Sprintf("section %q: a hold took units reserved for its waiting list", it.Section), ref)
		}
	}
}

// waitlistFreed records a hold's end: released units of a section with
// buyers waiting are theirs; an offer's hold closes the offer.
func (a *Auditor) waitlistFreed(e SeatsReleased) {
	w := a.waitlists[e.ShowID]
	if w == nil {
		return
	}
	delete(w.open, e.OrderID)
	w.credit(e.Items)
}

// waitlistReturned records a restocking refund's units: returned units of
// a section with buyers waiting are theirs, as released units are.
func (a *Auditor) waitlistReturned(e SeatsReturned) {
	if w := a.waitlists[e.ShowID]; w != nil {
		w.credit(e.Items)
	}
}

// credit gives freed general-admission units of the sections with buyers
// waiting to their lists.
func (w *auditWaitlist) credit(items []HeldItem) {
	for _, it := range items {
		if ws := w.sections[it.Section]; ws != nil && len(ws.queue) > 0 && it.Quantity > 0 {
			ws.credit += int64(it.Quantity) // bounded by the section's capacity per release
		}
	}
}

// waitlistSold closes the offer of a sold order.
func (a *Auditor) waitlistSold(e SeatsSold) {
	if w := a.waitlists[e.ShowID]; w != nil {
		delete(w.open, e.OrderID)
	}
}

// remove takes a buyer off a section's queue, as the show does, and
// reports whether they were on it.
func (w *auditWaitlist) remove(section string, buyer uuid.UUID) bool {
	ws := w.sections[section]
	if ws == nil {
		return false
	}
	n := len(ws.queue)
	ws.queue = slices.DeleteFunc(ws.queue, func(x WaitlistEntry) bool { return x.BuyerID == buyer })
	var want int64
	for _, x := range ws.queue {
		want += int64(x.Quantity)
	}
	ws.reserved = min(ws.reserved, want)
	if len(ws.queue) == 0 {
		ws.credit = 0
	}
	return len(ws.queue) < n
}
