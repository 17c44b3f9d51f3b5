package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// The holds and placed orders a writer hands its projections as they were
// (commands.Handler.Appended) must be exactly what decoding their stored JSON
// gives: encoded and decoded, each is deep-equal to the value raised.
func TestEncode_RoundTrip(t *testing.T) {
	t.Parallel()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	// A clock reading with a monotonic part and nanoseconds, as time.Now
	// gives.
	now := time.Now().Add(time.Nanosecond)
	for _, tc := range []struct {
		name string
		req  domain.HoldRequest
	}{
		{"general admission", domain.HoldRequest{Items: []domain.ItemRequest{{Section: "floor", Quantity: 2}}}},
		{"seats", domain.HoldRequest{Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 1}, {Section: "balcony", Row: "A", Seat: 2}}}},
		{"both", domain.HoldRequest{Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}, Seats: []domain.SeatRef{{Section: "balcony", Row: "A", Seat: 2}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewShow()
			c := created()
			c.StartsAt = now.Add(24 * time.Hour).UTC() // the clock is real: the show must not have started
			s.Load([]domain.Event{c, published()}, 2)
			tc.req.OrderID, tc.req.BuyerID = uuid.New(), buyerID
			if err := s.Hold(tc.req, now, ttl); err != nil {
				t.Fatal(err)
			}
			held := s.Changes()[0].(domain.SeatsHeld)
			o := domain.NewOrder()
			if err := o.Place(held); err != nil {
				t.Fatal(err)
			}
			raised := append([]domain.Event{held}, o.Changes()...)
			data, err := domain.Encode(raised, uuid.New, domain.Metadata{CorrelationID: "c", UserID: buyerID.String()})
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range data {
				got, err := reg.DecodeRecorded(domain.RecordedEvent{ID: d.ID, Type: d.Type, Data: d.Data, Metadata: d.Metadata})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, raised[i]) {
					t.Errorf("%s: decoded\n%#v\nraised\n%#v", d.Type, got, raised[i])
				}
			}
		})
	}
}
