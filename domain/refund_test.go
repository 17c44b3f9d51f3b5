package domain_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var (
	ticketG1 = uuid.MustParse("00000000-0000-0000-0000-00000000e101")
	ticketG2 = uuid.MustParse("00000000-0000-0000-0000-00000000e102")
	ticketS1 = uuid.MustParse("00000000-0000-0000-0000-00000000e103")
)

// paidMixed is an order of two floor units (500 each) and seat A/2 (900),
// placed and confirmed by ch_1: its stream is at version 2.
func paidMixed() []domain.Event {
	h := heldGA(orderA, 2, 500)
	h.Seats = heldSeat(orderA, 2).Seats
	h.TotalCents = 1900
	return []domain.Event{
		domain.OrderPlaced{OrderID: orderA, ShowID: showID, BuyerID: buyerID, Items: h.Items, Seats: h.Seats, TotalCents: 1900, PlacedAt: t0, ExpiresAt: t0.Add(ttl)},
		domain.OrderConfirmed{OrderID: orderA, ShowID: showID, BuyerID: buyerID, PaymentID: "ch_1", TotalCents: 1900, ConfirmedAt: t0,
			Tickets: []domain.Ticket{{ID: ticketG1, Section: "floor"}, {ID: ticketG2, Section: "floor"}, {ID: ticketS1, Section: "balcony", Row: "A", Seat: 2}}},
	}
}

func refunded(version int64, amount int64, restock bool, tickets ...uuid.UUID) domain.OrderRefunded {
	e := domain.OrderRefunded{OrderID: orderA, ShowID: showID, BuyerID: buyerID, RefundID: domain.RefundKey(orderA, version), PaymentID: "ch_1",
		AmountCents: amount, TicketIDs: tickets, Reason: "sick", Restock: restock, RefundedAt: t0}
	for _, id := range tickets {
		if id == ticketS1 {
			e.Seats = append(e.Seats, domain.HeldSeat{SeatRef: domain.SeatRef{Section: "balcony", Row: "A", Seat: 2}, PriceCents: 900})
		} else if len(e.Items) == 0 {
			e.Items = []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 500}}
		} else {
			e.Items[0].Quantity++
		}
	}
	return e
}

func TestOrder_Refund(t *testing.T) {
	t.Parallel()
	paid := paidMixed()
	all := refunded(3, 1900, false, ticketG1, ticketG2, ticketS1)
	one := refunded(3, 900, true, ticketS1)
	req := func(restock bool, tickets ...uuid.UUID) domain.RefundRequest {
		return domain.RefundRequest{Tickets: tickets, Reason: "sick", Restock: restock}
	}
	cases := []struct {
		name   string
		given  []domain.Event
		when   domain.RefundRequest
		then   []domain.Event
		err    error
		status domain.OrderStatus
	}{
		{name: "in full", given: paid, when: req(false), then: []domain.Event{all}, status: domain.OrderStatusRefunded},
		{name: "one ticket with restock", given: paid, when: req(true, ticketS1), then: []domain.Event{one}, status: domain.OrderStatusConfirmed},
		{name: "the rest after one", given: append(paidMixed(), one), when: req(false),
			then: []domain.Event{refunded(4, 1000, false, ticketG1, ticketG2)}, status: domain.OrderStatusRefunded},
		{name: "a refunded ticket again", given: append(paidMixed(), one), when: req(false, ticketS1), err: domain.ErrAlreadyRefunded},
		{name: "a refunded order", given: append(paidMixed(), all), when: req(false), err: domain.ErrAlreadyRefunded},
		{name: "a held order", given: paid[:1], when: req(false), err: domain.ErrNotRefundable},
		{name: "no order", when: req(false), err: domain.ErrOrderNotFound},
		{name: "a ticket of another order", given: paid, when: req(false, uuid.New()), err: errValidation},
		{name: "a ticket twice", given: paid, when: req(false, ticketG1, ticketG1), err: errValidation},
		{name: "no reason", given: paid, when: domain.RefundRequest{}, err: errValidation},
		{name: "a reason with control characters", given: paid, when: domain.RefundRequest{Reason: "a\x00b"}, err: errValidation},
		{name: "too many tickets", given: paid, when: req(false, make([]uuid.UUID, domain.MaxUnitsPerOrder+1)...), err: errValidation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := domain.NewOrder()
			o.Load(c.given, int64(len(c.given)))
			err := o.Refund(c.when, t0)
			if c.err == errValidation {
				if !isValidation(err) {
					t.Fatalf("err = %v, want a *ValidationError", err)
				}
			} else if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got := o.Changes(); !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, c.then)
			}
			if c.err == nil && o.Status != c.status {
				t.Errorf("status = %s, want %s", o.Status, c.status)
			}
		})
	}
}

func TestOrder_CheckInRefusesAVoidTicket(t *testing.T) {
	t.Parallel()
	o := domain.NewOrder()
	given := append(paidMixed(), refunded(3, 900, false, ticketS1))
	o.Load(given, int64(len(given)))
	if err := o.CheckIn(ticketS1, t0); !errors.Is(err, domain.ErrTicketVoided) {
		t.Errorf("check-in of the void ticket: err = %v, want ErrTicketVoided", err)
	}
	if err := o.CheckIn(ticketG1, t0); err != nil {
		t.Errorf("check-in of a live ticket: %v", err)
	}
	full := append(paidMixed(), refunded(3, 1900, false, ticketG1, ticketG2, ticketS1))
	o = domain.NewOrder()
	o.Load(full, int64(len(full)))
	if err := o.CheckIn(ticketG1, t0); !errors.Is(err, domain.ErrTicketVoided) {
		t.Errorf("check-in of a refunded order's ticket: err = %v, want ErrTicketVoided", err)
	}
}

func TestShow_ReturnSeats(t *testing.T) {
	t.Parallel()
	h := heldGA(orderA, 2, 500)
	h.Seats = heldSeat(orderA, 2).Seats
	h.TotalCents = 1900
	sale := domain.SeatsSold{ShowID: showID, OrderID: orderA, Items: h.Items, Seats: h.Seats, TotalCents: 1900, At: t0}
	sold := []domain.Event{created(), published(), h, sale}
	r := refunded(3, 1400, true, ticketG1, ticketS1)
	returned := domain.SeatsReturned{ShowID: showID, OrderID: orderA, BuyerID: buyerID, RefundID: r.RefundID, Items: r.Items, Seats: r.Seats, At: t0}
	runShowCases(t, []showCase{
		{name: "return sold units", given: sold, when: func(s *domain.Show) error { return s.ReturnSeats(r, t0) }, then: []domain.Event{returned}},
		{name: "return twice is a no-op", given: append(sold, returned), when: func(s *domain.Show) error { return s.ReturnSeats(r, t0) }},
		{name: "return unsold units", given: []domain.Event{created(), published(), h}, when: func(s *domain.Show) error { return s.ReturnSeats(r, t0) }, err: domain.ErrInvalidState},
		{name: "return more than sold", given: sold, when: func(s *domain.Show) error {
			more := r
			more.Items = []domain.HeldItem{{Section: "floor", Quantity: 3, UnitPriceCents: 500}}
			return s.ReturnSeats(more, t0)
		}, err: domain.ErrInvalidState},
		{name: "return a seat sold to another order", given: sold, when: func(s *domain.Show) error {
			other := r
			other.OrderID, other.Items = orderB, nil
			return s.ReturnSeats(other, t0)
		}, err: domain.ErrInvalidState},
	})
	s := domain.NewShow()
	s.Load(append(sold, returned), 5)
	if got := s.Available("floor"); got != 2 {
		t.Errorf("floor available = %d, want 2 (3 - 2 sold + 1 returned)", got)
	}
	if got := s.Available("balcony"); got != 2 {
		t.Errorf("balcony available = %d, want 2", got)
	}
	if got := s.BuyerUnits(buyerID); got != 1 {
		t.Errorf("buyer units = %d, want 1", got)
	}
	restored := domain.RestoreShow(s.Snapshot(), 5)
	if !restored.Returned(r.RefundID) || restored.Available("floor") != 2 {
		t.Errorf("the snapshot lost the return: returned %v, floor %d", restored.Returned(r.RefundID), restored.Available("floor"))
	}
}
