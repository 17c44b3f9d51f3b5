package domain

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// auditT0 is when the audited test logs happen.
var auditT0 = time.Date(2026, 11, 21, 19, 0, 0, 0, time.UTC)

// auditLog builds a log for the Auditor: each add is one append, its events
// in the streams of their aggregates, at the next positions.
type auditLog struct {
	t        *testing.T
	recs     []RecordedEvent
	versions map[string]int64
}

func newAuditLog(t *testing.T) *auditLog { return &auditLog{t: t, versions: map[string]int64{}} }

// streamOf names the stream of an event of the domain: an order's events
// ("order.…") are in the order's stream, all others in the show's.
func streamOf(e Event) string {
	v := reflect.ValueOf(e)
	field, stream := "ShowID", ShowStream
	if strings.HasPrefix(e.EventType(), "order.") {
		field, stream = "OrderID", OrderStream
	}
	if v.Kind() == reflect.Struct && v.FieldByName(field).IsValid() {
		if id, ok := v.FieldByName(field).Interface().(uuid.UUID); ok {
			return stream(id)
		}
	}
	panic(fmt.Sprintf("no stream for %T", e))
}

// add appends events, each to its aggregate's stream.
func (l *auditLog) add(events ...Event) *auditLog {
	l.t.Helper()
	data, err := Encode(events, uuid.New, Metadata{})
	if err != nil {
		l.t.Fatal(err)
	}
	for i, d := range data {
		stream := streamOf(events[i])
		l.versions[stream]++
		l.recs = append(l.recs, RecordedEvent{ID: d.ID, StreamID: stream, Version: l.versions[stream],
			Position: PositionAt(uint64(len(l.recs) + 1)), Type: d.Type, Data: d.Data, Metadata: d.Metadata, RecordedAt: auditT0})
	}
	return l
}

// raw appends a recorded event as it is, at the next position unless it has one.
func (l *auditLog) raw(rec RecordedEvent) *auditLog {
	if rec.Position.IsZero() {
		rec.Position = PositionAt(uint64(len(l.recs) + 1))
	}
	if rec.ID == uuid.Nil {
		rec.ID = uuid.New()
	}
	l.recs = append(l.recs, rec)
	return l
}

// buyerLimitSet is a show event that sets a per-buyer limit, as the engine's
// own may.
type buyerLimitSet struct {
	ShowID uuid.UUID `json:"show_id"`
	Limit  int       `json:"limit"`
}

func (buyerLimitSet) EventType() string    { return "test.buyer_limit_set" }
func (e buyerLimitSet) PerBuyerLimit() int { return e.Limit }

// auditShowIDs are the ids of a test show and its people.
type auditFixture struct {
	show, buyer, other uuid.UUID
}

func newAuditFixture() auditFixture {
	return auditFixture{show: uuid.New(), buyer: uuid.New(), other: uuid.New()}
}

// created makes a show of a GA section "floor" (capacity 4, 500 cents) and a
// seated section "balcony" (row A of 2 seats, 900 cents), on sale.
func (f auditFixture) created() []Event {
	return []Event{
		ShowCreated{ShowID: f.show, OrganizerID: uuid.New(), Title: "Gig", Venue: "Hall", StartsAt: auditT0.Add(72 * time.Hour), CreatedAt: auditT0,
			Sections: []SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 4}, {Name: "balcony", PriceCents: 900, Rows: []RowSpec{{Label: "A", Seats: 2}}}}},
		ShowPublished{ShowID: f.show, At: auditT0},
	}
}

// hold holds q floor units and the balcony seats of row A numbered seats.
func (f auditFixture) hold(buyer uuid.UUID, q int, seats ...int) SeatsHeld {
	h := SeatsHeld{ShowID: f.show, OrderID: uuid.New(), BuyerID: buyer, HeldAt: auditT0, ExpiresAt: auditT0.Add(10 * time.Minute), HoldTTLSeconds: 600}
	if q > 0 {
		h.Items = []HeldItem{{Section: "floor", Quantity: q, UnitPriceCents: 500}}
		h.TotalCents += int64(q) * 500
	}
	for _, n := range seats {
		h.Seats = append(h.Seats, HeldSeat{SeatRef: SeatRef{Section: "balcony", Row: "A", Seat: n}, PriceCents: 900})
		h.TotalCents += 900
	}
	return h
}

func placed(h SeatsHeld) OrderPlaced {
	return OrderPlaced{OrderID: h.OrderID, ShowID: h.ShowID, BuyerID: h.BuyerID, Items: h.Items, Seats: h.Seats,
		TotalCents: h.TotalCents, PlacedAt: h.HeldAt, ExpiresAt: h.ExpiresAt}
}

func confirmed(h SeatsHeld, payment string) OrderConfirmed {
	c := OrderConfirmed{OrderID: h.OrderID, ShowID: h.ShowID, BuyerID: h.BuyerID, PaymentID: payment, TotalCents: h.TotalCents,
		ConfirmedAt: auditT0.Add(time.Minute)}
	for _, it := range h.Items {
		for range it.Quantity {
			c.Tickets = append(c.Tickets, Ticket{ID: uuid.New(), Section: it.Section, Code: "c"})
		}
	}
	for _, st := range h.Seats {
		c.Tickets = append(c.Tickets, Ticket{ID: uuid.New(), Section: st.Section, Row: st.Row, Seat: st.Seat, Code: "c"})
	}
	return c
}

func sold(h SeatsHeld) SeatsSold {
	return SeatsSold{ShowID: h.ShowID, OrderID: h.OrderID, Items: h.Items, Seats: h.Seats, TotalCents: h.TotalCents, At: auditT0.Add(time.Minute)}
}

func released(h SeatsHeld, reason string) SeatsReleased {
	return SeatsReleased{ShowID: h.ShowID, OrderID: h.OrderID, Reason: reason, Items: h.Items, Seats: h.Seats, At: auditT0.Add(11 * time.Minute)}
}

func expired(h SeatsHeld) OrderExpired {
	return OrderExpired{OrderID: h.OrderID, ShowID: h.ShowID, At: auditT0.Add(11 * time.Minute)}
}

func cancelled(h SeatsHeld) OrderCancelled {
	return OrderCancelled{OrderID: h.OrderID, ShowID: h.ShowID, At: auditT0.Add(2 * time.Minute)}
}

func checkIn(c OrderConfirmed, ticket uuid.UUID) TicketCheckedIn {
	return TicketCheckedIn{OrderID: c.OrderID, ShowID: c.ShowID, TicketID: ticket, At: auditT0.Add(time.Hour)}
}

// audit runs an auditor over the log with the domain's events and
// buyerLimitSet registered.
func audit(t *testing.T, l *auditLog) AuditReport {
	t.Helper()
	r := NewRegistry()
	RegisterEvents(r)
	Register[buyerLimitSet](r)
	a := NewAuditor(r)
	for _, rec := range l.recs {
		a.Add(rec)
	}
	return a.Report()
}

// found renders the violations as check@position of the offending event.
func found(r AuditReport) []string {
	out := []string{}
	for _, v := range r.Violations {
		out = append(out, fmt.Sprintf("%s@%s", v.Check, v.Events[len(v.Events)-1].Position))
	}
	return out
}

func TestAuditor_Add(t *testing.T) {
	t.Parallel()
	cases := []auditCase{
		{"a clean log", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)                                     // 1, 2
			paid := f.hold(f.buyer, 2, 1)                             // floor ×2 and A1
			l.add(paid, placed(paid))                                 // 3, 4
			c := confirmed(paid, "ch_1")                              //
			l.add(c).add(sold(paid)).add(checkIn(c, c.Tickets[0].ID)) // 5, 6, 7
			gone := f.hold(f.other, 2, 2)                             // the rest of the floor and A2
			l.add(gone, placed(gone)).add(cancelled(gone)).add(released(gone, ReleaseCancelled))
			late := f.hold(f.other, 1, 2) // A2 is free again
			l.add(late, placed(late)).add(released(late, ReleaseExpired), expired(late))
			lost := f.hold(f.other, 2) // its order was never written: a tombstone
			l.add(lost).add(expired(lost)).add(released(lost, ReleaseExpired))
			l.add(SectionPriceChanged{ShowID: f.show, Section: "floor", PriceCents: 700})
			repriced := f.hold(f.buyer, 0, 2)
			repriced.Items, repriced.TotalCents = []HeldItem{{Section: "floor", Quantity: 2, UnitPriceCents: 700}}, 1400+900
			l.add(repriced, placed(repriced))
		}, nil},

		{"positions out of order", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: "other-1", Version: 1, Position: PositionAt(2), Type: "x.y", Data: []byte(`{}`)})
		}, []string{"log@2"}},
		{"a stream version skipped", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: ShowStream(f.show), Version: 4, Type: "x.y", Data: []byte(`{}`)})
		}, []string{"log@3"}},
		{"an event id twice", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{ID: l.recs[0].ID, StreamID: "other-1", Version: 1, Type: "x.y", Data: []byte(`{}`)})
		}, []string{"log@3"}},
		{"an event in another aggregate's stream", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: ShowStream(uuid.New()), Version: 1, Type: "show.published", Data: []byte(`{"show_id":"` + f.show.String() + `"}`)})
		}, []string{"log@3"}},
		{"an event that cannot be decoded", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: ShowStream(f.show), Version: 3, Type: "show.seats_held", Data: []byte(`{"items":"many"}`), Metadata: []byte(`{"schema_version":2}`)})
		}, []string{"log@3"}},
		{"a schema version this build does not know", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: ShowStream(f.show), Version: 3, Type: "show.seats_held", Data: []byte(`{}`), Metadata: []byte(`{"schema_version":9}`)})
		}, []string{"log@3"}},

		{"held above capacity", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a, b := f.hold(f.buyer, 3), f.hold(f.other, 2)
			l.add(a, placed(a)).add(b, placed(b)) // 3 + 2 > 4
		}, []string{"capacity@5"}},
		{"held and sold above capacity", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 3)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(sold(a))
			b := f.hold(f.other, 2)
			l.add(b, placed(b)) // 0 held + 3 sold + 2 > 4
		}, []string{"capacity@7"}},
		{"a count below zero", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(cancelled(a))
			twice := released(a, ReleaseCancelled)
			twice.Items[0].Quantity = 2 // releases more than held
			l.add(twice)
		}, []string{"holds@6", "capacity@6"}},

		{"a seat in two live holds", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a, b := f.hold(f.buyer, 0, 1), f.hold(f.other, 0, 1)
			l.add(a, placed(a)).add(b, placed(b))
		}, []string{"seats@5"}},
		{"a seat sold, then held", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0, 2)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(sold(a))
			b := f.hold(f.other, 0, 2)
			l.add(b, placed(b))
		}, []string{"seats@7"}},
		{"a seat that does not exist", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0, 3)
			l.add(a)
		}, []string{"seats@3"}},
		{"one seat twice in a hold", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0, 1, 1)
			l.add(a)
		}, []string{"seats@3"}},
		{"a release of a seat another order holds", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a, b := f.hold(f.buyer, 0, 1), f.hold(f.other, 0, 2)
			l.add(a, placed(a)).add(b, placed(b)).add(cancelled(b))
			r := released(b, ReleaseCancelled)
			r.Seats = a.Seats
			l.add(r)
		}, []string{"holds@8", "seats@8"}},

		{"a hold on a draft", func(f auditFixture, l *auditLog) {
			l.add(f.created()[0])
			a := f.hold(f.buyer, 1)
			l.add(a)
		}, []string{"holds@2"}},
		{"a hold on a cancelled show", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).add(ShowCancelled{ShowID: f.show, At: auditT0})
			a := f.hold(f.buyer, 1)
			l.add(a)
		}, []string{"holds@4"}},
		{"a hold on a show never created", func(f auditFixture, l *auditLog) {
			a := f.hold(f.buyer, 1)
			l.add(a)
		}, []string{"holds@1"}},
		{"a hold in a section that does not exist", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			a.Items[0].Section = "roof"
			l.add(a)
		}, []string{"holds@3"}},
		{"a hold below the section's price", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			a.Items[0].UnitPriceCents, a.TotalCents = 1, 1
			l.add(a)
		}, []string{"holds@3"}},
		{"a sale before the payment", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(sold(a))
		}, []string{"holds@5"}},
		{"a sale without a hold", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0, 1)
			l.add(placed(a)).add(confirmed(a, "ch_1")).add(sold(a))
		}, []string{"orders@3", "holds@5", "seats@5"}},
		{"a release as cancelled of an order still held", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(released(a, ReleaseCancelled))
		}, []string{"holds@5"}},
		{"a release of a paid order's hold", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(released(a, ReleaseExpired))
		}, []string{"holds@6"}},
		{"a release of other units than held", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 2)
			r := released(a, ReleaseExpired)
			r.Items = []HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500}}
			l.add(a, placed(a)).add(r, expired(a))
		}, []string{"holds@5"}},
		{"an order paid after its hold was released as expired", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(released(a, ReleaseExpired)).add(confirmed(a, "ch_1"))
		}, []string{"holds@6"}},
		{"a release as expired whose order never expires", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(released(a, ReleaseExpired))
		}, []string{"holds@5"}},

		{"an order placed twice", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(placed(a))
		}, []string{"orders@5"}},
		{"an order placed after its tombstone", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a).add(expired(a)).add(placed(a))
		}, []string{"orders@5"}},
		{"an order placed without a hold", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.add(placed(f.hold(f.buyer, 1)))
		}, []string{"orders@3"}},
		{"an order placed for other units than held", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			p := placed(a)
			p.Items = []HeldItem{{Section: "floor", Quantity: 2, UnitPriceCents: 500}}
			p.TotalCents = 1000
			l.add(a, p)
		}, []string{"orders@4"}},
		{"an order confirmed twice", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(confirmed(a, "ch_2"))
		}, []string{"orders@6"}},
		{"an order cancelled after its payment", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(cancelled(a))
		}, []string{"orders@6"}},
		{"an order expired before its hold ran out", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			early := expired(a)
			early.At = auditT0.Add(time.Minute)
			l.add(a, placed(a)).add(released(a, ReleaseExpired), early)
		}, []string{"orders@6"}},
		{"an order with a ticket too few", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 2)
			c := confirmed(a, "ch_1")
			c.Tickets = c.Tickets[:1]
			l.add(a, placed(a)).add(c)
		}, []string{"orders@5"}},

		{"a check-in of a held order", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(checkIn(confirmed(a, "ch_1"), uuid.New()))
		}, []string{"check-ins@5"}},
		{"a ticket checked in twice", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			c := confirmed(a, "ch_1")
			l.add(a, placed(a)).add(c).add(sold(a)).add(checkIn(c, c.Tickets[0].ID)).add(checkIn(c, c.Tickets[0].ID))
		}, []string{"check-ins@8"}},
		{"a ticket of another order", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			c := confirmed(a, "ch_1")
			l.add(a, placed(a)).add(c).add(checkIn(c, uuid.New()))
		}, []string{"check-ins@6"}},
		{"a ticket of a cancelled show", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			c := confirmed(a, "ch_1")
			l.add(a, placed(a)).add(c).add(sold(a)).add(ShowCancelled{ShowID: f.show, At: auditT0}).add(checkIn(c, c.Tickets[0].ID))
		}, []string{"check-ins@8", "payments@7"}}, // and never refunded (issue 14)

		{"an order confirmed without a payment", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, ""))
		}, []string{"payments@5"}},
		{"one payment for two orders", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a, b := f.hold(f.buyer, 1), f.hold(f.other, 1)
			l.add(a, placed(a)).add(b, placed(b)).add(confirmed(a, "ch_1")).add(confirmed(b, "ch_1"))
		}, []string{"payments@8"}},
		{"paid less than the hold's total", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 2)
			c := confirmed(a, "ch_1")
			c.TotalCents = 500
			l.add(a, placed(a)).add(c)
		}, []string{"payments@5"}},
		{"a hold whose total is not its prices", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 2)
			a.TotalCents = 10
			l.add(a, placed(a)).add(confirmed(a, "ch_1"))
		}, []string{"payments@3", "payments@4", "payments@5"}},
		{"paid after the hold ran out", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			c := confirmed(a, "ch_1")
			c.ConfirmedAt = a.ExpiresAt
			l.add(a, placed(a)).add(c)
		}, []string{"payments@5"}},
		{"paid after the show was cancelled", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(ShowCancelled{ShowID: f.show, At: auditT0}).add(confirmed(a, "ch_1"))
		}, []string{"payments@6"}},

		{"a per-buyer limit kept", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).add(buyerLimitSet{ShowID: f.show, Limit: 3})
			a, b := f.hold(f.buyer, 2), f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(sold(a)).add(b, placed(b))
		}, nil},
		{"a per-buyer limit exceeded by holds and sales", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).add(buyerLimitSet{ShowID: f.show, Limit: 2})
			a, b := f.hold(f.buyer, 1, 1), f.hold(f.buyer, 1)
			l.add(a, placed(a)).add(confirmed(a, "ch_1")).add(sold(a)).add(b, placed(b))
		}, []string{"per-buyer limit@8"}},
		{"a released hold no longer counts for the limit", func(f auditFixture, l *auditLog) {
			l.add(f.created()...).add(buyerLimitSet{ShowID: f.show, Limit: 2})
			a, b := f.hold(f.buyer, 2), f.hold(f.buyer, 2)
			l.add(a, placed(a)).add(cancelled(a)).add(released(a, ReleaseCancelled)).add(b, placed(b))
		}, nil},

		{"a quantity whose price overflows", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0)
			a.Items = []HeldItem{{Section: "floor", Quantity: math.MaxInt64 / 100, UnitPriceCents: 500}}
			l.add(a)
		}, []string{"overflow@3", "capacity@3"}},
		{"quantities whose sum overflows", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0)
			a.Items = []HeldItem{{Section: "floor", Quantity: math.MaxInt64/2 + 1, UnitPriceCents: 500}, {Section: "floor", Quantity: math.MaxInt64/2 + 1, UnitPriceCents: 500}}
			l.add(a)
		}, []string{"overflow@3", "overflow@3", "capacity@3"}},
		{"a negative quantity", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 1)
			a.Items[0].Quantity = -1
			a.TotalCents = -500
			l.add(a)
		}, []string{"overflow@3"}},
		{"a total that overflows", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			a := f.hold(f.buyer, 0, 1, 2)
			a.Seats[0].PriceCents, a.Seats[1].PriceCents = math.MaxInt64, 1
			l.add(a)
		}, []string{"overflow@3", "holds@3", "holds@3"}},

		{"an event of a type the auditor does not know", func(f auditFixture, l *auditLog) {
			l.add(f.created()...)
			l.raw(RecordedEvent{StreamID: "refund-1", Version: 1, Type: "payment.refunded", Data: []byte(`{}`)})
		}, nil},
	}
	runAuditCases(t, cases)
}

func TestAuditor_Report(t *testing.T) {
	t.Parallel()
	f := newAuditFixture()
	l := newAuditLog(t).add(f.created()...)
	paid, held := f.hold(f.buyer, 2, 1), f.hold(f.other, 1)
	l.add(paid, placed(paid)).add(confirmed(paid, "ch_1")).add(held, placed(held))
	l.raw(RecordedEvent{StreamID: "refund-1", Version: 1, Type: "payment.refunded", Data: []byte(`{}`)})
	r := audit(t, l)
	if r.Events != 8 || r.Streams != 4 || r.Shows != 1 || r.Orders != 2 || r.Seats != 2 || r.Units != 4 {
		t.Errorf("counts: got %d events, %d streams, %d shows, %d orders, %d seats, %d units; want 8, 4, 1, 2, 2, 4",
			r.Events, r.Streams, r.Shows, r.Orders, r.Seats, r.Units)
	}
	if got := r.NotAudited["payment.refunded"]; got != 1 || len(r.NotAudited) != 1 {
		t.Errorf("not audited: got %v, want payment.refunded: 1", r.NotAudited)
	}
	wantPending := map[string]int64{"open holds": 2, "sales the show has yet to record": 1, "held orders": 1}
	if fmt.Sprint(r.Pending) != fmt.Sprint(wantPending) {
		t.Errorf("pending: got %v, want %v", r.Pending, wantPending)
	}
	checks := map[string]AuditCheck{}
	for _, c := range r.Checks {
		checks[c.Name] = c
	}
	if len(r.Checks) != len(AuditChecks) {
		t.Errorf("%d checks reported, want %d", len(r.Checks), len(AuditChecks))
	}
	if c := checks[AuditLog]; c.Checked != 8 {
		t.Errorf("log check: %d events checked, want 8", c.Checked)
	}
	if c := checks[AuditPayments]; c.Checked != 1 {
		t.Errorf("payments check: %d checked, want 1", c.Checked)
	}
	// The show's creation sets its limit, here none (0): nothing to check,
	// and no note that the log lacks limits.
	if c := checks[AuditBuyerLimit]; c.Checked != 0 || c.Note != "" {
		t.Errorf("per-buyer limit: got %+v, want nothing checked under a show without a limit", c)
	}
	if c := checks[AuditRefunds]; !strings.Contains(c.Note, "no refund events") {
		t.Errorf("refunds: got %+v, want a note that there are none", c)
	}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"checks"`) {
		t.Errorf("the report as JSON: %s, %v", b, err)
	}
}

func TestAuditor_ReportKeepsTheFirstViolations(t *testing.T) {
	t.Parallel()
	f := newAuditFixture()
	l := newAuditLog(t)
	for range MaxAuditViolations + 5 {
		l.add(placed(f.hold(f.buyer, 1))) // placed without a hold
	}
	r := audit(t, l)
	if len(r.Violations) != MaxAuditViolations || r.Dropped != 5 || r.ViolationCount() != MaxAuditViolations+5 {
		t.Errorf("got %d violations kept, %d dropped; want %d and 5", len(r.Violations), r.Dropped, MaxAuditViolations)
	}
}

func TestAuditor_Refund(t *testing.T) {
	t.Parallel()
	f := newAuditFixture()
	l := newAuditLog(t).add(f.created()...)
	a := f.hold(f.buyer, 2) // 1000 cents
	l.add(a, placed(a)).add(confirmed(a, "ch_1"))
	ref := EventRef{Position: PositionAt(99), Stream: "refunds", Version: 1, Type: "payment.refunded"}
	cases := []struct {
		name    string
		refunds []int64
		payment string
		want    []string
	}{
		{"within the payment", []int64{400, 600}, "ch_1", []string{}},
		{"above the payment", []int64{400, 601}, "ch_1", []string{AuditRefunds}},
		{"of no payment", []int64{1}, "ch_9", []string{AuditRefunds}},
		{"of nothing", []int64{0}, "ch_1", []string{AuditRefunds}},
		{"overflowing", []int64{400, math.MaxInt64}, "ch_1", []string{AuditOverflow}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry()
			RegisterEvents(r)
			au := NewAuditor(r)
			for _, rec := range l.recs {
				au.Add(rec)
			}
			for _, amount := range c.refunds {
				au.refund(ref, c.payment, amount)
			}
			got := []string{}
			for _, v := range au.Report().Violations {
				got = append(got, v.Check)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestAuditor_AddUpcasts(t *testing.T) {
	t.Parallel()
	f := newAuditFixture()
	l := newAuditLog(t).add(f.created()...)
	a := f.hold(f.buyer, 1)
	l.add(a, placed(a))
	// The hold as a version 1 event: no hold_ttl_seconds, no schema version.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(l.recs[2].Data, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "hold_ttl_seconds")
	l.recs[2].Data, _ = json.Marshal(fields)
	l.recs[2].Metadata = []byte(`{}`)
	r := audit(t, l)
	if r.ViolationCount() != 0 {
		t.Errorf("violations in a log with a version 1 hold: %v", r.Violations)
	}
}

func TestAuditFeed_Close(t *testing.T) {
	t.Parallel()
	// Many batches: shows with holds, sales and releases, and violations
	// among them.
	l := newAuditLog(t)
	for i := range 300 {
		f := newAuditFixture()
		l.add(f.created()...)
		a := f.hold(f.buyer, 2, 1)
		l.add(a, placed(a))
		switch i % 3 {
		case 0:
			l.add(confirmed(a, fmt.Sprint("ch_", i))).add(sold(a))
		case 1:
			l.add(cancelled(a)).add(released(a, ReleaseCancelled))
		default:
			b := f.hold(f.other, 3) // 2 + 3 > 4
			l.add(b, placed(b))
		}
	}
	// An event out of place in the log, with another's id, among them.
	l.raw(RecordedEvent{ID: l.recs[0].ID, StreamID: "other-1", Version: 1, Position: PositionAt(3), Type: "x.y", Data: []byte(`{}`)})
	f := newAuditFixture()
	l.add(f.created()...)
	want := audit(t, l)
	for _, workers := range []int{1, 3} {
		r := NewRegistry()
		RegisterEvents(r)
		Register[buyerLimitSet](r)
		feed := NewAuditor(r).Feed(workers)
		for _, rec := range l.recs {
			feed.Add(rec)
		}
		got := feed.Close()
		if got.Events != int64(len(l.recs)) || len(want.Violations) != 102 {
			t.Fatalf("%d workers: %d events audited, want %d; %d violations, want 102", workers, got.Events, len(l.recs), len(want.Violations))
		}
		if g, w := found(got), found(want); !slices.Equal(g, w) {
			t.Errorf("%d workers: violations %v, want %v", workers, g, w)
		}
		if fmt.Sprint(got.Checks, got.Pending) != fmt.Sprint(want.Checks, want.Pending) {
			t.Errorf("%d workers: checks %v %v, want %v %v", workers, got.Checks, got.Pending, want.Checks, want.Pending)
		}
	}
}
