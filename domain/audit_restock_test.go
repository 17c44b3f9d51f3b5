package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
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

// The show's own decisions audit green: a quota covering the floor, sold
// out; a buyer waits; a restocking refund gives the quota its unit back
// and offers it, the offer taking the quota unit again.
func TestAuditor_RestockDecidedByTheShow(t *testing.T) {
	t.Parallel()
	f := newAuditFixture()
	l := newAuditLog(t)
	l.add(f.created()...)
	s := NewShow()
	s.Load(f.created(), 2)
	decide := func(d func() error) []Event {
		t.Helper()
		if err := d(); err != nil {
			t.Fatal(err)
		}
		out := s.Changes()
		s.Committed(s.Version() + int64(len(out)))
		return out
	}
	l.addRules(f, decide(func() error { return s.SetQuota(Quota{Code: "Q", Units: 4, Sections: []string{"floor"}}) })...)
	h := decide(func() error {
		return s.Hold(HoldRequest{OrderID: uuid.New(), BuyerID: f.buyer, Items: []ItemRequest{{Section: "floor", Quantity: 4}}}, auditT0, 10*time.Minute)
	})[0].(SeatsHeld)
	c := confirmed(h, "ch_1")
	l.add(h, placed(h)).add(c).add(decide(func() error { return s.Sell(h.OrderID, auditT0.Add(time.Minute)) })...)
	l.wl(f.show, decide(func() error { return s.JoinWaitlist(f.other, "floor", 1, auditT0.Add(time.Minute)) })...)
	r := refundOf(h, c, 3, true, c.Tickets[0])
	back := decide(func() error { return s.ReturnSeats(r, auditT0.Add(2*time.Hour)) })
	if len(back) != 3 {
		t.Fatalf("the restock raised %v, want the return, the offer and its hold", back)
	}
	if q := back[2].(SeatsHeld).Quotas; len(q) != 1 || q[0] != (QuotaUse{Quota: "Q", Units: 1}) {
		t.Fatalf("the offer's hold takes %v of the quotas, want Q: 1", q)
	}
	l.add(r).add(back[0]).wl(f.show, back[1:]...).add(placed(back[2].(SeatsHeld)))
	wantFound(t, audit(t, l), nil)
	if got := s.Quotas()[0].Taken; got != 4 {
		t.Errorf("quota Q: %d taken, want 4", got)
	}
}
