package domain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// addRules appends rule events and holds of show f.show, in its stream;
// other events go through add.
func (l *auditLog) addRules(f auditFixture, events ...Event) *auditLog {
	l.t.Helper()
	for _, e := range events {
		switch e.(type) {
		case TicketTypeSet, QuotaSet, OrderLimitsChanged, VoucherCreated, VoucherDisabled:
		default:
			l.add(e)
			continue
		}
		data, err := Encode([]Event{e}, uuid.New, Metadata{})
		if err != nil {
			l.t.Fatal(err)
		}
		// The cases leave show_id out: it is f.show's.
		data[0].Data = []byte(strings.Replace(string(data[0].Data), `"show_id":"`+uuid.Nil.String()+`"`, `"show_id":"`+f.show.String()+`"`, 1))
		stream := ShowStream(f.show)
		l.versions[stream]++
		l.raw(RecordedEvent{ID: data[0].ID, StreamID: stream, Version: l.versions[stream], Type: data[0].Type, Data: data[0].Data,
			Metadata: data[0].Metadata, RecordedAt: auditT0})
	}
	return l
}

// typed is a hold of q floor units of ticket type typ at price each.
func (f auditFixture) typed(q int, typ string, price int64, voucher string, quotas ...QuotaUse) SeatsHeld {
	h := f.hold(f.buyer, 0)
	h.Items = []HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: price, TicketType: typ}}
	h.TotalCents, h.Voucher, h.Quotas = int64(q)*price, voucher, quotas
	return h
}

// releasedRules is the expiry of a hold, naming its voucher and quotas.
func releasedRules(h SeatsHeld) SeatsReleased {
	r := released(h, ReleaseExpired)
	r.Voucher, r.Quotas = h.Voucher, h.Quotas
	return r
}

func TestAuditor_Rules(t *testing.T) {
	t.Parallel()
	kid := TicketTypeSet{TicketType: TicketType{Code: "kid", Name: "Kid", Section: "floor", PriceCents: 300}}
	secret := TicketTypeSet{TicketType: TicketType{Code: "secret", Name: "Secret", Section: "floor", PriceCents: 100, Hidden: true}}
	late := TicketTypeSet{TicketType: TicketType{Code: "late", Name: "Late", Section: "floor", PriceCents: 100, OnSaleFrom: auditT0.Add(time.Hour)}}
	half := VoucherCreated{Voucher: Voucher{Code: "HALF", Kind: VoucherPercent, PercentOff: 50, MaxUses: 1}}
	q2 := QuotaSet{Quota: Quota{Code: "Q", Units: 2, Sections: []string{"floor"}}}
	cases := []struct {
		name  string
		given func(f auditFixture, l *auditLog) // after the show is created and on sale, at positions 3...
		then  []string
	}{
		{"holds that keep every rule", func(f auditFixture, l *auditLog) {
			a := f.typed(1, "kid", 150, "HALF", QuotaUse{Quota: "Q", Units: 1})
			b := f.typed(1, "kid", 300, "", QuotaUse{Quota: "Q", Units: 1})
			l.addRules(f, kid, half, q2, a, releasedRules(a), expired(a))
			a2 := f.typed(1, "kid", 150, "HALF", QuotaUse{Quota: "Q", Units: 1}) // the use and unit came back
			l.addRules(f, b, a2)
		}, nil},
		{"a typed price that is not the type's", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, f.typed(1, "kid", 500, ""))
		}, []string{"holds@4"}},
		{"a discount the voucher does not give", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, half, f.typed(1, "kid", 100, "HALF"))
		}, []string{"holds@5"}},
		{"a type the show does not have", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, f.typed(1, "adult", 300, ""))
		}, []string{"holds@4"}},
		{"a voucher used past its uses", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, half, f.typed(1, "kid", 150, "HALF"), f.typed(1, "kid", 150, "HALF"))
		}, []string{"rules@6"}},
		{"a disabled voucher used", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, half, VoucherDisabled{Code: "HALF"}, f.typed(1, "kid", 150, "HALF"))
		}, []string{"rules@6"}},
		{"a voucher the show does not have", func(f auditFixture, l *auditLog) {
			l.addRules(f, kid, f.typed(1, "kid", 300, "NOPE"))
		}, []string{"rules@4"}},
		{"a hidden type without its voucher", func(f auditFixture, l *auditLog) {
			l.addRules(f, secret, f.typed(1, "secret", 100, ""))
		}, []string{"rules@4"}},
		{"a type before its window", func(f auditFixture, l *auditLog) {
			l.addRules(f, late, f.typed(1, "late", 100, ""))
		}, []string{"rules@4"}},
		{"a quota exceeded", func(f auditFixture, l *auditLog) {
			l.addRules(f, q2, f.typed(2, "", 500, "", QuotaUse{Quota: "Q", Units: 2}), f.typed(1, "", 500, "", QuotaUse{Quota: "Q", Units: 1}))
		}, []string{"rules@5"}},
		{"a hold that does not count its quota units", func(f auditFixture, l *auditLog) {
			l.addRules(f, q2, f.typed(1, "", 500, ""))
		}, []string{"rules@4"}},
		{"a hold outside the per-order limits", func(f auditFixture, l *auditLog) {
			l.addRules(f, OrderLimitsChanged{MinUnitsPerOrder: 2, MaxUnitsPerOrder: 3}, f.typed(1, "", 500, ""))
		}, []string{"rules@4"}},
		{"a release that names other uses than its hold", func(f auditFixture, l *auditLog) {
			h := f.typed(1, "kid", 150, "HALF", QuotaUse{Quota: "Q", Units: 1})
			r := releasedRules(h)
			r.Voucher = ""
			l.addRules(f, kid, half, q2, h, r, expired(h))
		}, []string{"rules@7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAuditFixture()
			l := newAuditLog(t).add(f.created()...)
			c.given(f, l)
			r := audit(t, l)
			if got := found(r); !slices.Equal(got, c.then) && !(len(got) == 0 && len(c.then) == 0) {
				t.Fatalf("violations %v, want %v\n%v", got, c.then, r.Violations)
			}
		})
	}
}
