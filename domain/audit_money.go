package domain

import (
	"fmt"

	"github.com/google/uuid"
)

// auditMoney is what the Auditor keeps of refunds (issue 14: money).
type auditMoney struct {
	voided   map[uuid.UUID]EventRef  // refunded tickets, by their refund
	refunded map[uuid.UUID]int64     // tickets refunded per order
	restock  map[string]auditRestock // restocking refunds whose units have not gone back yet
	returned map[string]EventRef     // refunds whose units went back on sale
}

type auditRestock struct {
	order uuid.UUID
	print uint64
	ref   EventRef
}

// moneyState returns the auditor's refund state, made on first use.
func (a *Auditor) moneyState() *auditMoney {
	if a.money == nil {
		a.money = &auditMoney{voided: map[uuid.UUID]EventRef{}, refunded: map[uuid.UUID]int64{},
			restock: map[string]auditRestock{}, returned: map[string]EventRef{}}
	}
	return a.money
}

// orderRefunded checks a refund: of a paid order, of its own payment and
// tickets, each ticket once, never above the payment (refund).
func (a *Auditor) orderRefunded(ref EventRef, e OrderRefunded) {
	m := a.moneyState()
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	if o.status != OrderStatusConfirmed {
		a.refunds++
		a.checked[cRefunds]++
		a.violate(cRefunds, "refund of order "+e.OrderID.String()+", which is "+statusOf(o)+", not paid", lastOf(o, ref)...)
		return
	}
	switch {
	case e.PaymentID != o.payment:
		a.refunds++
		a.checked[cRefunds]++
		a.violate(cRefunds, fmt.Sprintf("refund of payment %q, the order paid with %q", e.PaymentID, o.payment), o.last, ref)
	case e.PaymentID == "":
		a.refunds++
		a.checked[cRefunds]++
		if e.AmountCents != 0 {
			a.violate(cRefunds, fmt.Sprintf("refund of %d of a free order", e.AmountCents), ref)
		}
	default:
		a.refund(ref, e.PaymentID, e.AmountCents)
	}
	for _, id := range e.TicketIDs {
		t, issued := a.tickets[id]
		first, twice := m.voided[id]
		switch {
		case !issued || t.order != e.OrderID:
			a.violate(cRefunds, "refund of ticket "+id.String()+", not one of the order's", o.last, ref)
		case twice:
			a.violate(cRefunds, "ticket "+id.String()+" refunded twice", first, ref)
		default:
			m.voided[id] = ref
			m.refunded[e.OrderID]++
		}
	}
	if e.Restock {
		m.restock[e.RefundID] = auditRestock{order: e.OrderID, print: unitsPrint(e.Items, e.Seats), ref: ref}
	}
}

// seatsReturned checks that units go back on sale once per restocking
// refund, as refunded, and that they were sold to its order; like a
// release, the return gives back its quota units and its units are the
// waiting list's.
func (a *Auditor) seatsReturned(ref EventRef, e SeatsReturned) {
	s := a.showEvent(ref, e.ShowID)
	m := a.moneyState()
	a.checked[cHolds]++
	if first, twice := m.returned[e.RefundID]; twice {
		a.violate(cHolds, "the units of refund "+e.RefundID+" returned twice", first, ref)
		return
	}
	r, ok := m.restock[e.RefundID]
	switch {
	case !ok:
		a.violate(cHolds, "units returned without a restocking refund "+e.RefundID, ref)
		return
	case r.order != e.OrderID || r.print != unitsPrint(e.Items, e.Seats):
		a.violate(cHolds, "units returned other than refund "+e.RefundID+" refunded", r.ref, ref)
		return
	}
	delete(m.restock, e.RefundID)
	m.returned[e.RefundID] = ref
	if s == nil {
		return
	}
	units, _, ok := a.priced(ref, e.Items, e.Seats)
	if !ok {
		return
	}
	a.returnUnits(ref, s, e)
	s.buyers[e.BuyerID] -= units
	a.ruleReturn(ref, s, e) // issue 14: rules
	a.waitlistReturned(e)   // issue 14: waitlist
}

// returnUnits takes sold units of a refund off a show.
func (a *Auditor) returnUnits(ref EventRef, s *auditShow, e SeatsReturned) {
	for _, it := range e.Items {
		if sec := s.sections[it.Section]; sec != nil && !sec.seated {
			a.moveGA(ref, it.Section, sec, 0, -int64(it.Quantity))
		}
	}
	for _, st := range e.Seats {
		a.checked[cSeats]++
		sec := s.sections[st.Section]
		if sec == nil || !sec.seated {
			continue
		}
		if by := sec.seats[st.SeatRef]; by.order != e.OrderID || !by.sold {
			a.violate(cSeats, "seat "+st.SeatRef.String()+" returned, not sold to order "+e.OrderID.String(), ref)
			continue
		}
		delete(sec.seats, st.SeatRef)
	}
}

// voidCheckIn reports a check-in of a refunded ticket.
func (a *Auditor) voidCheckIn(ref EventRef, e TicketCheckedIn) {
	if a.money == nil {
		return
	}
	if by, void := a.money.voided[e.TicketID]; void {
		a.violate(cCheckIns, "ticket "+e.TicketID.String()+" checked in after it was refunded", by, ref)
	}
}

// moneyReport adds the checks of refunds that need the whole log: every
// confirmed order of a cancelled show is refunded in full.
func (a *Auditor) moneyReport(found *[numChecks]int64, violations *[]Violation, dropped *int64) {
	for id, o := range a.orders {
		if o.status != OrderStatusConfirmed {
			continue
		}
		s := a.shows[o.show]
		if s == nil || s.cancelled == nil {
			continue
		}
		var n int64
		if a.money != nil {
			n = a.money.refunded[id]
		}
		if n >= o.units {
			continue
		}
		found[cPayments]++
		if len(*violations) >= MaxAuditViolations {
			*dropped++
			continue
		}
		*violations = append(*violations, Violation{Check: AuditPayments,
			Detail: fmt.Sprintf("order %s of a cancelled show is paid, %d of its %d tickets refunded at the end of the log", id, n, o.units),
			Events: sortedRefs(*s.cancelled, o.last)})
	}
}

// sortedRefs returns x and y in log order.
func sortedRefs(x, y EventRef) []EventRef {
	if y.Position.Less(x.Position) {
		return []EventRef{y, x}
	}
	return []EventRef{x, y}
}
