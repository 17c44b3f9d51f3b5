package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func transfer(c OrderConfirmed, ticket, from, to uuid.UUID, gen int) TicketTransferred {
	return TicketTransferred{OrderID: c.OrderID, ShowID: c.ShowID, TicketID: ticket, FromUserID: from, ToUserID: to, Generation: gen,
		At: auditT0.Add(30 * time.Minute)}
}

func scanIn(c OrderConfirmed, ticket uuid.UUID, gen int, nonce string) TicketCheckedIn {
	e := checkIn(c, ticket)
	e.Generation, e.Nonce, e.ScannedAt = gen, nonce, auditT0.Add(50*time.Minute)
	return e
}

func TestAuditor_Door(t *testing.T) {
	t.Parallel()
	// sale is a show on sale and a confirmed order of two floor tickets,
	// at positions 1 to 6.
	sale := func(f auditFixture, l *auditLog) OrderConfirmed {
		l.add(f.created()...)
		a := f.hold(f.buyer, 2)
		c := confirmed(a, "ch_1")
		l.add(a, placed(a), c, sold(a))
		return c
	}
	cases := []auditCase{
		{"a transfer, then the new code checked in", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			tk := c.Tickets[0].ID
			l.add(transfer(c, tk, f.buyer, f.other, 1), transfer(c, tk, f.other, f.buyer, 2), scanIn(c, tk, 2, "n-1"))
		}, nil},
		{"the transferred-away code checked in", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			tk := c.Tickets[0].ID
			l.add(transfer(c, tk, f.buyer, f.other, 1), scanIn(c, tk, 0, ""))
		}, []string{"check-ins@8"}},
		{"a second check-in", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(scanIn(c, c.Tickets[0].ID, 0, "n-1"), scanIn(c, c.Tickets[0].ID, 0, "n-2"))
		}, []string{"check-ins@8"}},
		{"one nonce for two tickets of an order", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(scanIn(c, c.Tickets[0].ID, 0, "n-1"), scanIn(c, c.Tickets[1].ID, 0, "n-1"))
		}, []string{"check-ins@8"}},
		{"one nonce in two orders", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			b := f.hold(f.other, 1)
			d := confirmed(b, "ch_2")
			l.add(b, placed(b), d, sold(b))
			l.add(scanIn(c, c.Tickets[0].ID, 0, "0001"), scanIn(d, d.Tickets[0].ID, 0, "0001"))
		}, nil},
		{"a transfer by someone who does not hold the ticket", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(transfer(c, c.Tickets[0].ID, f.other, f.buyer, 1))
		}, []string{"check-ins@7"}},
		{"a transfer after the check-in", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(checkIn(c, c.Tickets[0].ID), transfer(c, c.Tickets[0].ID, f.buyer, f.other, 1))
		}, []string{"check-ins@8"}},
		{"a transfer that skips a generation", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(transfer(c, c.Tickets[0].ID, f.buyer, f.other, 2))
		}, []string{"check-ins@7"}},
		{"a transfer of a ticket not of the order", func(f auditFixture, l *auditLog) {
			c := sale(f, l)
			l.add(transfer(c, uuid.New(), f.buyer, f.other, 1))
		}, []string{"check-ins@7"}},
	}
	runAuditCases(t, cases)
}

// auditCase is a given/then row of the auditor: a log, and the
// violations it has.
type auditCase struct {
	name  string
	given func(f auditFixture, l *auditLog)
	then  []string // check@position of each violation, in log order
}

// runAuditCases audits the log of each case and checks its violations.
func runAuditCases(t *testing.T, cases []auditCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newAuditLog(t)
			c.given(newAuditFixture(), l)
			wantFound(t, audit(t, l), c.then)
		})
	}
}
