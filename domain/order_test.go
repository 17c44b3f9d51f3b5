package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var ticketID = uuid.MustParse("00000000-0000-0000-0000-00000000e001")

func placed() domain.OrderPlaced {
	h := heldSeat(orderA, 1)
	return domain.OrderPlaced{OrderID: orderA, ShowID: showID, BuyerID: buyerID, Seats: h.Seats, TotalCents: 900, PlacedAt: t0, ExpiresAt: t0.Add(ttl)}
}

func confirmed() domain.OrderConfirmed {
	return domain.OrderConfirmed{OrderID: orderA, ShowID: showID, BuyerID: buyerID, PaymentID: "ch_1", TotalCents: 900, ConfirmedAt: t0,
		Tickets: []domain.Ticket{{ID: ticketID, Section: "balcony", Row: "A", Seat: 1}}}
}

func newTicket() uuid.UUID { return ticketID }

func TestOrder(t *testing.T) {
	t.Parallel()
	expired := domain.OrderExpired{OrderID: orderA, ShowID: showID, At: t0.Add(ttl)}
	cancelled := domain.OrderCancelled{OrderID: orderA, ShowID: showID, At: t0}
	checkedIn := domain.TicketCheckedIn{OrderID: orderA, ShowID: showID, TicketID: ticketID, At: t0}
	cases := []struct {
		name  string
		given []domain.Event
		when  func(o *domain.Order) error
		then  []domain.Event
		err   error
	}{
		{name: "place", when: func(o *domain.Order) error { return o.Place(heldSeat(orderA, 1)) }, then: []domain.Event{placed()}},
		{name: "place over a tombstone", given: []domain.Event{expired}, when: func(o *domain.Order) error { return o.Place(heldSeat(orderA, 1)) }, err: domain.ErrOrderExists},
		{name: "confirm in time", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Confirm("ch_1", t0, newTicket) }, then: []domain.Event{confirmed()}},
		{name: "confirm at expiry", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Confirm("ch_1", t0.Add(ttl), newTicket) }, err: domain.ErrHoldExpired},
		{name: "confirm expired", given: []domain.Event{placed(), expired}, when: func(o *domain.Order) error { return o.Confirm("ch_1", t0, newTicket) }, err: domain.ErrHoldExpired},
		{name: "confirm cancelled", given: []domain.Event{placed(), cancelled}, when: func(o *domain.Order) error { return o.Confirm("ch_1", t0, newTicket) }, err: domain.ErrOrderNotHeld},
		{name: "confirm twice", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.Confirm("ch_1", t0, newTicket) }, err: domain.ErrOrderNotHeld},
		{name: "confirm missing", when: func(o *domain.Order) error { return o.Confirm("ch_1", t0, newTicket) }, err: domain.ErrOrderNotFound},
		{name: "cancel", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Cancel(t0) }, then: []domain.Event{cancelled}},
		{name: "cancel twice is a no-op", given: []domain.Event{placed(), cancelled}, when: func(o *domain.Order) error { return o.Cancel(t0) }},
		{name: "cancel confirmed", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.Cancel(t0) }, err: domain.ErrOrderNotHeld},
		{name: "expire when due", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Expire(orderA, showID, t0.Add(ttl)) }, then: []domain.Event{expired}},
		{name: "expire before due", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Expire(orderA, showID, t0) }, err: domain.ErrInvalidState},
		{name: "expire confirmed is a no-op", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.Expire(orderA, showID, t0.Add(ttl)) }},
		{name: "expire missing writes a tombstone", when: func(o *domain.Order) error { return o.Expire(orderA, showID, t0.Add(ttl)) }, then: []domain.Event{expired}},
		{name: "check in", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.CheckIn(ticketID, t0) }, then: []domain.Event{checkedIn}},
		{name: "check in twice", given: []domain.Event{placed(), confirmed(), checkedIn}, when: func(o *domain.Order) error { return o.CheckIn(ticketID, t0) }, err: domain.ErrAlreadyCheckedIn},
		{name: "check in unknown ticket", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.CheckIn(uuid.New(), t0) }, err: domain.ErrTicketNotFound},
		{name: "check in unpaid", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.CheckIn(ticketID, t0) }, err: domain.ErrTicketNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := domain.NewOrder()
			o.Load(c.given, int64(len(c.given)))
			if err := c.when(o); !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got := o.Changes(); !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, c.then)
			}
		})
	}
}

func TestOrder_ConfirmIssuesOneTicketPerUnit(t *testing.T) {
	t.Parallel()
	o := domain.NewOrder()
	h := heldGA(orderA, 3, 500)
	h.Seats = heldSeat(orderA, 2).Seats
	o.Load([]domain.Event{domain.OrderPlaced{OrderID: orderA, Items: h.Items, Seats: h.Seats, ExpiresAt: t0.Add(time.Minute)}}, 1)
	n := 0
	if err := o.Confirm("ch", t0, func() uuid.UUID { n++; return uuid.New() }); err != nil {
		t.Fatal(err)
	}
	if got, want := len(o.Tickets), 4; got != want || n != want {
		t.Fatalf("tickets = %d (made %d), want %d", got, n, want)
	}
	if got := o.Tickets[3]; got.Row != "A" || got.Seat != 2 {
		t.Fatalf("seat ticket = %+v", got)
	}
}
