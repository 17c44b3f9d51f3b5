package domain

import (
	"slices"
	"testing"

	"github.com/google/uuid"
)

// wl appends show events of the waiting list (and any other) to the
// show's stream, others as auditLog.add does.
func (l *auditLog) wl(show uuid.UUID, events ...Event) *auditLog {
	l.t.Helper()
	for _, e := range events {
		switch e.(type) {
		case WaitlistJoined, WaitlistLeft, WaitlistReserved, WaitlistOffered:
			data, err := Encode([]Event{e}, uuid.New, Metadata{})
			if err != nil {
				l.t.Fatal(err)
			}
			stream := ShowStream(show)
			l.versions[stream]++
			l.recs = append(l.recs, RecordedEvent{ID: data[0].ID, StreamID: stream, Version: l.versions[stream],
				Position: PositionAt(uint64(len(l.recs) + 1)), Type: data[0].Type, Data: data[0].Data, Metadata: data[0].Metadata, RecordedAt: auditT0})
		default:
			l.add(e)
		}
	}
	return l
}

func (f auditFixture) joined(buyer uuid.UUID, q int) WaitlistJoined {
	return WaitlistJoined{ShowID: f.show, BuyerID: buyer, Section: "floor", Quantity: q, JoinedAt: auditT0}
}

// offered is an offer to buyer of q floor units, and its hold.
func (f auditFixture) offered(buyer uuid.UUID, q int) (WaitlistOffered, SeatsHeld) {
	h := f.hold(buyer, q)
	return WaitlistOffered{ShowID: f.show, BuyerID: buyer, Section: "floor", Quantity: q, OrderID: h.OrderID, At: auditT0, ExpiresAt: h.ExpiresAt}, h
}

// typedOffered is an offer to buyer of q floor units of type typ, and its
// hold.
func (f auditFixture) typedOffered(buyer uuid.UUID, q int, typ string) (WaitlistOffered, SeatsHeld) {
	o, h := f.offered(buyer, q)
	o.TicketType, h.Items[0].TicketType = typ, typ
	h.Items[0].UnitPriceCents, h.TotalCents = 300, 300*int64(q) // the price of f.child()
	return o, h
}

// child is the floor's ticket type "child".
func (f auditFixture) child() TicketTypeSet {
	return TicketTypeSet{ShowID: f.show, TicketType: TicketType{Code: "child", Name: "Child", Section: "floor", PriceCents: 300}}
}

func TestAuditor_Waitlist(t *testing.T) {
	t.Parallel()
	third := uuid.New()
	cases := []struct {
		name  string
		given func(f auditFixture, l *auditLog)
		then  []string // check@position of each violation, in log order
	}{
		{"offers in order of what was released", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4) // 1..4 after the 2 events of created
			l.add(f.created()...).add(h, placed(h)).wl(f.show, f.joined(f.buyer, 1), f.joined(f.other, 3))
			o1, h1 := f.offered(f.buyer, 1)
			o2, h2 := f.offered(f.other, 3)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o1, h1, o2, h2).add(placed(h1), placed(h2))
		}, nil},
		{"joining a section with units left", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).wl(f.show, f.joined(f.buyer, 1)) // @3
		}, []string{"holds@3"}},
		{"an offer out of turn", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(h, placed(h)).wl(f.show, f.joined(f.buyer, 1), f.joined(f.other, 1))
			o, oh := f.offered(f.other, 1)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o, oh) // offer @9
		}, []string{"holds@9"}},
		{"an offer to a buyer not waiting", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(h, placed(h))
			o, oh := f.offered(f.other, 1)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o, oh) // offer @7
		}, []string{"holds@7"}},
		{"more offered than released", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(h, placed(h)).wl(f.show, f.joined(f.buyer, 1))
			o, oh := f.offered(f.buyer, 1) // @6: nothing was released
			l.wl(f.show, o, oh)
		}, []string{"holds@6", "capacity@7"}}, // the hold passes the capacity too
		{"an offer without its hold", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(h, placed(h)).wl(f.show, f.joined(f.buyer, 1))
			o, _ := f.offered(f.buyer, 1)
			other := f.hold(f.other, 1)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o, other) // offer @8, the other hold @9
		}, []string{"holds@8"}},
		{"a public hold takes reserved units", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 1)
			rest := f.hold(third, 3)
			l.add(f.created()...).add(h, placed(h), rest, placed(rest)).wl(f.show, f.joined(f.buyer, 2))
			pub := f.hold(f.other, 1)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled),
				WaitlistReserved{ShowID: f.show, Section: "floor", Quantity: 1, At: auditT0}, pub) // public hold @11
		}, []string{"capacity@11"}},
		{"a typed offer at its turn, for its type", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			j := f.joined(f.buyer, 1)
			j.TicketType = "child"
			l.add(f.created()...).add(f.child(), h, placed(h)).wl(f.show, j, f.joined(f.other, 3))
			o1, h1 := f.typedOffered(f.buyer, 1, "child")
			o2, h2 := f.offered(f.other, 3)
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o1, h1, o2, h2).add(placed(h1), placed(h2))
		}, nil},
		{"an offer of another type than waited for", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(f.child(), h, placed(h)).wl(f.show, f.joined(f.buyer, 1))
			o, oh := f.typedOffered(f.buyer, 1, "child")
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o, oh) // offer @9
		}, []string{"holds@9"}},
		{"an offer's hold of another type", func(f auditFixture, l *auditLog) {
			h := f.hold(third, 4)
			l.add(f.created()...).add(f.child(), h, placed(h)).wl(f.show, f.joined(f.buyer, 1))
			o, oh := f.offered(f.buyer, 1)
			oh.Items[0].TicketType, oh.Items[0].UnitPriceCents, oh.TotalCents = "child", 300, 300
			l.add(cancelled(h)).wl(f.show, released(h, ReleaseCancelled), o, oh) // hold @10
		}, []string{"holds@10"}},
		{"leaving a list one is not on", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).wl(f.show, WaitlistLeft{ShowID: f.show, BuyerID: f.buyer, Section: "floor", Reason: WaitlistLeftByBuyer, At: auditT0}) // @3
		}, []string{"holds@3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAuditFixture()
			l := newAuditLog(t)
			c.given(f, l)
			r := audit(t, l)
			got := found(r)
			want := c.then
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("violations = %v, want %v\n%v", got, want, r.Violations)
			}
		})
	}
}
