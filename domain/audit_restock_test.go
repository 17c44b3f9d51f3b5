package domain

import (
	"testing"
)

// The auditor agrees with Show.ReturnSeats: returned units count as
// released for the waiting lists and give their quota units back.
func TestAuditor_Restock(t *testing.T) {
	t.Parallel()
	q2 := QuotaSet{Quota: Quota{Code: "Q", Units: 2, Sections: []string{"floor"}}}
	// soldOut sells the floor (4 units) to f.buyer: positions 1-6.
	soldOut := func(f auditFixture, l *auditLog) (SeatsHeld, OrderConfirmed) {
		l.add(f.created()...)
		h := f.hold(f.buyer, 4)
		c := confirmed(h, "ch_1")
		l.add(h, placed(h)).add(c).add(sold(h))
		return h, c
	}
	// quotaSold sells 2 floor units under quota Q (2 units) to f.buyer:
	// positions 1-7.
	quotaSold := func(f auditFixture, l *auditLog) (SeatsHeld, OrderConfirmed) {
		l.add(f.created()...)
		h := f.typed(2, "", 500, "", QuotaUse{Quota: "Q", Units: 2})
		c := confirmed(h, "ch_1")
		l.addRules(f, q2, h).add(placed(h)).add(c).add(sold(h))
		return h, c
	}
	cases := []auditCase{
		{"a restock with a buyer waiting: the offer", func(f auditFixture, l *auditLog) {
			h, c := soldOut(f, l)
			l.wl(f.show, f.joined(f.other, 1))
			r := refundOf(h, c, 3, true, c.Tickets[0])
			o, oh := f.offered(f.other, 1)
			l.add(r).add(returnOf(r)).wl(f.show, o, oh).add(placed(oh))
		}, nil},
		{"more offered than a restock returned", func(f auditFixture, l *auditLog) {
			h, c := soldOut(f, l)
			l.wl(f.show, f.joined(f.other, 2))
			r := refundOf(h, c, 3, true, c.Tickets[0])
			o, oh := f.offered(f.other, 2)
			l.add(r).add(returnOf(r)).wl(f.show, o, oh).add(placed(oh)) // offer @10, its hold @11
		}, []string{"holds@10", "capacity@11"}},
		{"a restock, then a hold under the quota", func(f auditFixture, l *auditLog) {
			h, c := quotaSold(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[0])
			back := returnOf(r)
			back.Quotas = []QuotaUse{{Quota: "Q", Units: 1}}
			again := f.typed(1, "", 500, "", QuotaUse{Quota: "Q", Units: 1})
			again.BuyerID = f.other
			l.add(r).add(back).add(again)
		}, nil},
		{"a restock that keeps its quota units", func(f auditFixture, l *auditLog) {
			h, c := quotaSold(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[0])
			l.add(r).add(returnOf(r)) // @9
		}, []string{"rules@9"}},
		{"a restock that gives back more than its units", func(f auditFixture, l *auditLog) {
			h, c := quotaSold(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[0])
			back := returnOf(r)
			back.Quotas = []QuotaUse{{Quota: "Q", Units: 2}}
			l.add(r).add(back) // @9
		}, []string{"rules@9"}},
		{"a restock that gives back a quota the show lacks", func(f auditFixture, l *auditLog) {
			h, c := soldOut(f, l)
			r := refundOf(h, c, 3, true, c.Tickets[0])
			back := returnOf(r)
			back.Quotas = []QuotaUse{{Quota: "Q", Units: 1}}
			l.add(r).add(back) // @8
		}, []string{"rules@8"}},
	}
	runAuditCases(t, cases)
}
