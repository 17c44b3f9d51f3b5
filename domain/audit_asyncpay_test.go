package domain

import (
	"slices"
	"testing"
	"time"
)

func intentStarted(h SeatsHeld, intent string) OrderPaymentStarted {
	return OrderPaymentStarted{OrderID: h.OrderID, ShowID: h.ShowID, IntentID: intent, AmountCents: h.TotalCents, StartedAt: auditT0}
}

func intentSucceeded(h SeatsHeld, intent, charge string) OrderPaymentSucceeded {
	return OrderPaymentSucceeded{OrderID: h.OrderID, ShowID: h.ShowID, IntentID: intent, ChargeID: charge, AmountCents: h.TotalCents, At: auditT0.Add(time.Minute)}
}

func intentRefunded(h SeatsHeld, intent, charge string) OrderPaymentRefunded {
	return OrderPaymentRefunded{OrderID: h.OrderID, ShowID: h.ShowID, IntentID: intent, ChargeID: charge, AmountCents: h.TotalCents,
		RefundID: "re_" + charge, Reason: RefundHoldExpired, At: auditT0.Add(12 * time.Minute)}
}

// wantFound checks that r found the violations want (check@position of
// each, in log order), and counts them so.
func wantFound(t *testing.T, r AuditReport, want []string) {
	t.Helper()
	got := found(r)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations: got %v, want %v", got, want)
		for _, v := range r.Violations {
			t.Log(v)
		}
	}
	if r.ViolationCount() != int64(len(want)) {
		t.Errorf("ViolationCount() = %d, want %d", r.ViolationCount(), len(want))
	}
	var sum int64
	for _, ch := range r.Checks {
		sum += ch.Violations
	}
	if sum != int64(len(want)) {
		t.Errorf("the checks count %d violations, want %d", sum, len(want))
	}
}

func TestAuditor_AsyncPayments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		given   func(f auditFixture, l *auditLog)
		then    []string // check@position of each violation, in log order
		pending string   // a Pending count that must be 1
	}{
		{name: "confirmed by an intent", given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)                             // 1, 2
			h := f.hold(f.buyer, 2)                           //
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")) // 3, 4, 5
			l.add(OrderPaymentFailed{OrderID: h.OrderID, ShowID: f.show, IntentID: "pi_1", ChargeID: "ch_0", At: auditT0})
			l.add(intentSucceeded(h, "pi_1", "ch_1")).add(confirmed(h, "ch_1")).add(sold(h))
		}},
		{name: "a late payment refunded", given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(released(h, ReleaseExpired), expired(h))
			l.add(intentRefunded(h, "pi_1", "ch_1"))
		}},
		{name: "recorded, expired, refunded", given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(intentSucceeded(h, "pi_1", "ch_1"))
			l.add(released(h, ReleaseExpired), expired(h)).add(intentRefunded(h, "pi_1", "ch_1"))
		}},
		{name: "recorded, still held: pending", pending: "payments yet to confirm their order", given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(intentSucceeded(h, "pi_1", "ch_1"))
		}},
		{name: "a payment of an expired order kept", then: []string{"refunds@8"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(intentSucceeded(h, "pi_1", "ch_1")) // 3-6
			l.add(released(h, ReleaseExpired), expired(h))                                            // 7, 8
		}},
		{name: "intent started for another amount", then: []string{"payments@5"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			s := intentStarted(h, "pi_1")
			s.AmountCents--
			l.add(h, placed(h)).add(s)
		}},
		{name: "intent started twice", then: []string{"payments@8"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h, g := f.hold(f.buyer, 1), f.hold(f.other, 1)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(g, placed(g)).add(intentStarted(g, "pi_1"))
		}},
		{name: "intent started by a confirmed order", then: []string{"payments@6"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 1)
			l.add(h, placed(h)).add(confirmed(h, "ch_card")).add(intentStarted(h, "pi_1")).add(sold(h))
		}},
		{name: "payment of another order's intent", then: []string{"payments@8"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h, g := f.hold(f.buyer, 1), f.hold(f.other, 1)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(g, placed(g))
			l.add(intentSucceeded(g, "pi_1", "ch_1")).add(confirmed(g, "ch_1")).add(sold(g)) // 8, 9, 10
		}},
		{name: "payment of a wrong amount recorded", then: []string{"payments@6"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			p := intentSucceeded(h, "pi_1", "ch_1")
			p.AmountCents = 1
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(p).add(confirmed(h, "ch_1")).add(sold(h))
		}},
		{name: "confirmed by a refunded payment", then: []string{"payments@8", "refunds@10"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(intentSucceeded(h, "pi_1", "ch_1")) // 3-6
			r := intentRefunded(h, "pi_1", "ch_1")
			l.add(r).add(confirmed(h, "ch_1")).add(sold(h)).add(r) // 7, 8, 9, 10: refunded twice
		}},
		{name: "refund of the confirming payment", then: []string{"refunds@9"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(intentSucceeded(h, "pi_1", "ch_1")) // 3-6
			l.add(confirmed(h, "ch_1")).add(sold(h)).add(intentRefunded(h, "pi_1", "ch_1"))           // 7, 8, 9
		}},
		{name: "refund of nothing", then: []string{"refunds@8"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			r := intentRefunded(h, "pi_1", "ch_1")
			r.AmountCents = 0
			l.add(h, placed(h)).add(intentStarted(h, "pi_1")).add(released(h, ReleaseExpired), expired(h)).add(r)
		}},
		{name: "failure of an intent never started", then: []string{"payments@5"}, given: func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			h := f.hold(f.buyer, 2)
			l.add(h, placed(h)).add(OrderPaymentFailed{OrderID: h.OrderID, ShowID: f.show, IntentID: "pi_x", At: auditT0})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newAuditLog(t)
			c.given(newAuditFixture(), l)
			r := audit(t, l)
			wantFound(t, r, c.then)
			if c.pending != "" && r.Pending[c.pending] != 1 {
				t.Errorf("pending %q = %d, want 1 (%v)", c.pending, r.Pending[c.pending], r.Pending)
			}
			if n := r.NotAudited; len(n) != 0 {
				t.Errorf("not audited: %v", n)
			}
		})
	}
}
