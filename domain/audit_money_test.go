package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// refundOf refunds tickets of confirmation c, priced as hold h prices them.
func refundOf(h SeatsHeld, c OrderConfirmed, version int64, restock bool, tickets ...Ticket) OrderRefunded {
	e := OrderRefunded{OrderID: c.OrderID, ShowID: c.ShowID, BuyerID: c.BuyerID, RefundID: RefundKey(c.OrderID, version),
		PaymentID: c.PaymentID, Reason: "r", Restock: restock, RefundedAt: auditT0.Add(2 * time.Hour)}
	for _, t := range tickets {
		e.TicketIDs = append(e.TicketIDs, t.ID)
		if t.Row != "" {
			e.Seats = append(e.Seats, HeldSeat{SeatRef: SeatRef{Section: t.Section, Row: t.Row, Seat: t.Seat}, PriceCents: 900})
			e.AmountCents += 900
		} else {
			e.Items = addItem(e.Items, t.Section, h.Items[0].UnitPriceCents)
			e.AmountCents += h.Items[0].UnitPriceCents
		}
	}
	return e
}

func returnOf(r OrderRefunded) SeatsReturned {
	return SeatsReturned{ShowID: r.ShowID, OrderID: r.OrderID, BuyerID: r.BuyerID, RefundID: r.RefundID, Items: r.Items, Seats: r.Seats, At: r.RefundedAt}
}

func TestAuditor_Money(t *testing.T) {
	t.Parallel()
	cancel := func(f auditFixture) ShowCancelled { return ShowCancelled{ShowID: f.show, At: auditT0.Add(time.Hour)} }
	// paid is a sold order of 2 floor units and seat A/1: positions 3-6.
	paid := func(f auditFixture, l *auditLog) (SeatsHeld, OrderConfirmed) {
		l.add(f.created()...)
		h := f.hold(f.buyer, 2, 1)
		c := confirmed(h, "ch_1")
		l.add(h, placed(h)).add(c).add(sold(h))
		return h, c
	}
	cases := []auditCase{
		{"a refund in full", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			l.add(refundOf(h, c, 3, false, c.Tickets...))
		}, nil},
		{"refunds per ticket with a restock, then a new sale of the seat", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[2])
			l.add(r).add(returnOf(r)).add(refundOf(h, c, 4, false, c.Tickets[0]))
			again := f.hold(f.other, 0, 1)
			l.add(again)
		}, nil},
		{"a refund of an unpaid order", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 1)
			c := confirmed(h, "ch_1")
			l.add(h, placed(h)).add(refundOf(h, c, 2, false, c.Tickets...))
		}, []string{"refunds@5"}},
		{"a refund of another payment", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, false, c.Tickets[0])
			r.PaymentID = "ch_9"
			l.add(r)
		}, []string{"refunds@7"}},
		{"a refund above the payment", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, false, c.Tickets[0])
			r.AmountCents = 2000
			l.add(r)
		}, []string{"refunds@7"}},
		{"a ticket refunded twice", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			l.add(refundOf(h, c, 3, false, c.Tickets[0])).add(refundOf(h, c, 4, false, c.Tickets[0]))
		}, []string{"refunds@8"}},
		{"a refund of another order's ticket", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, false, c.Tickets[0])
			r.TicketIDs = []uuid.UUID{uuid.New()}
			l.add(r)
		}, []string{"refunds@7"}},
		{"a check-in of a void ticket", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			l.add(refundOf(h, c, 3, false, c.Tickets[0])).add(checkIn(c, c.Tickets[0].ID))
		}, []string{"check-ins@8"}},
		{"units returned without a restock", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, false, c.Tickets[0])
			l.add(r).add(returnOf(r))
		}, []string{"holds@8"}},
		{"units returned twice", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[0])
			l.add(r).add(returnOf(r)).add(returnOf(r))
		}, []string{"holds@9"}},
		{"a cancelled show's order refunded", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			l.add(cancel(f)).add(refundOf(h, c, 3, false, c.Tickets...))
		}, nil},
		{"a cancelled show's order left paid", func(f auditFixture, l *auditLog) {
			_, c := paid(f, l)
			l.add(cancel(f)).add(refundOf(SeatsHeld{}, c, 3, false, c.Tickets[2]))
		}, []string{"payments@7"}},
		{"paid after the cancellation, then refunded", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 1)
			c := confirmed(h, "ch_1")
			l.add(h, placed(h)).add(cancel(f)).add(c).add(refundOf(h, c, 3, false, c.Tickets...))
		}, nil},
		{"a ticket checked in after the cancellation", func(f auditFixture, l *auditLog) {
			h, c := paid(f, l)
			l.add(cancel(f)).add(checkIn(c, c.Tickets[0].ID)).add(refundOf(h, c, 4, false, c.Tickets...))
		}, []string{"check-ins@8"}},
	}
	runAuditCases(t, cases)
}
