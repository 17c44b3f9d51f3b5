package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var (
	buyerB    = uuid.MustParse("00000000-0000-0000-0000-00000000c002")
	buyerC    = uuid.MustParse("00000000-0000-0000-0000-00000000c003")
	otherShow = uuid.MustParse("00000000-0000-0000-0000-00000000a0ff")
)

func transferred(from, to uuid.UUID, gen int) domain.TicketTransferred {
	return domain.TicketTransferred{OrderID: orderA, ShowID: showID, TicketID: ticketID, FromUserID: from, ToUserID: to, Generation: gen, At: t0}
}

func TestOrder_Door(t *testing.T) {
	t.Parallel()
	scan := func(gen int) domain.DoorScan {
		return domain.DoorScan{ShowID: showID, TicketID: ticketID, Generation: gen}
	}
	offline := domain.DoorScan{ShowID: showID, TicketID: ticketID, Nonce: "n-1", ScannedAt: t0.Add(-time.Hour)}
	in := func(gen int) domain.TicketCheckedIn {
		return domain.TicketCheckedIn{OrderID: orderA, ShowID: showID, TicketID: ticketID, At: t0, Generation: gen}
	}
	inOffline := domain.TicketCheckedIn{OrderID: orderA, ShowID: showID, TicketID: ticketID, At: t0, Nonce: "n-1", ScannedAt: t0.Add(-time.Hour)}
	cases := []struct {
		name   string
		given  []domain.Event
		when   func(o *domain.Order) error
		then   []domain.Event
		err    error
		reason string
	}{
		{name: "admit", given: []domain.Event{placed(), confirmed()}, when: func(o *domain.Order) error { return o.Admit(scan(0), t0) }, then: []domain.Event{in(0)}},
		{name: "admit offline records nonce and scan time", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { return o.Admit(offline, t0) }, then: []domain.Event{inOffline}},
		{name: "admit twice", given: []domain.Event{placed(), confirmed(), in(0)}, when: func(o *domain.Order) error { return o.Admit(scan(0), t0) },
			err: domain.ErrAlreadyCheckedIn, reason: domain.RefusedAlreadyCheckedIn},
		{name: "same nonce again", given: []domain.Event{placed(), confirmed(), inOffline}, when: func(o *domain.Order) error { return o.Admit(offline, t0) },
			reason: domain.RefusedDuplicate},
		{name: "wrong show", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { s := scan(0); s.ShowID = otherShow; return o.Admit(s, t0) }, reason: domain.RefusedWrongShow},
		{name: "held order", given: []domain.Event{placed()}, when: func(o *domain.Order) error { return o.Admit(scan(0), t0) },
			err: domain.ErrUnknownCode, reason: domain.RefusedUnknownCode},
		{name: "old code after transfer", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, 1)},
			when: func(o *domain.Order) error { return o.Admit(scan(0), t0) }, reason: domain.RefusedTransferred},
		{name: "new code after transfer", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, 1)},
			when: func(o *domain.Order) error { return o.Admit(scan(1), t0) }, then: []domain.Event{in(1)}},
		{name: "generation never issued", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { return o.Admit(scan(3), t0) }, reason: domain.RefusedUnknownCode},
		{name: "transfer", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerID, buyerB, t0) }, then: []domain.Event{transferred(buyerID, buyerB, 1)}},
		{name: "transfer on", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, 1)},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerB, buyerC, t0) }, then: []domain.Event{transferred(buyerB, buyerC, 2)}},
		{name: "transfer by the former holder", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, 1)},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerID, buyerC, t0) }, err: domain.ErrTicketNotFound},
		{name: "transfer by a stranger", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerC, buyerB, t0) }, err: domain.ErrTicketNotFound},
		{name: "transfer to oneself", given: []domain.Event{placed(), confirmed()},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerID, buyerID, t0) }, err: &domain.ValidationError{}},
		{name: "transfer checked in", given: []domain.Event{placed(), confirmed(), in(0)},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerID, buyerB, t0) }, err: domain.ErrAlreadyCheckedIn},
		{name: "transfer unpaid", given: []domain.Event{placed()},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerID, buyerB, t0) }, err: domain.ErrTicketNotFound},
		{name: "transfer too often", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, domain.MaxTicketTransfers)},
			when: func(o *domain.Order) error { return o.Transfer(ticketID, buyerB, buyerC, t0) }, err: domain.ErrTicketNotTransferable},
		{name: "check-in by id records the generation", given: []domain.Event{placed(), confirmed(), transferred(buyerID, buyerB, 1)},
			when: func(o *domain.Order) error { return o.CheckIn(ticketID, t0) }, then: []domain.Event{in(1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := domain.NewOrder()
			o.Load(c.given, int64(len(c.given)))
			err := c.when(o)
			var inval *domain.ValidationError
			switch {
			case c.reason != "":
				var r *domain.CheckInRefusedError
				if !errors.As(err, &r) || r.Reason != c.reason {
					t.Fatalf("got %v, want refusal %s", err, c.reason)
				}
			case errors.As(c.err, &inval):
				if !errors.As(err, &inval) {
					t.Fatalf("got %v, want a validation error", err)
				}
			case !errors.Is(err, c.err):
				t.Fatalf("got %v, want %v", err, c.err)
			}
			if c.err != nil && !errors.Is(err, c.err) && !errors.As(c.err, &inval) {
				t.Errorf("got %v, want it to match %v", err, c.err)
			}
			if got := o.Changes(); !reflect.DeepEqual(got, c.then) && len(got)+len(c.then) > 0 {
				t.Errorf("events:\n got %#v\nwant %#v", got, c.then)
			}
		})
	}
}

func TestTicketCodes(t *testing.T) {
	t.Parallel()
	codes, err := domain.NewTicketCodes([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := domain.NewTicketCodes([]byte(strings.Repeat("x", 32)))
	code := codes.Code(ticketID, 7)
	if len(code) != domain.TicketCodeLen || strings.ToUpper(code) != code {
		t.Fatalf("code %q: want %d upper-case characters", code, domain.TicketCodeLen)
	}
	id, gen, err := codes.Verify(code)
	if err != nil || id != ticketID || gen != 7 {
		t.Fatalf("Verify(%q) = %s, %d, %v", code, id, gen, err)
	}
	if codes.Code(ticketID, 8) == code {
		t.Error("a new generation keeps the code")
	}
	flipped := []byte(code)
	flipped[len(flipped)-1] ^= 1
	for name, bad := range map[string]string{"other key": other.Code(ticketID, 7), "tampered": string(flipped), "short": code[:40],
		"empty": "", "lower": strings.ToLower(code), "long": code + "AAAA"} {
		if _, _, err := codes.Verify(bad); !errors.Is(err, domain.ErrUnknownCode) {
			t.Errorf("%s: got %v, want ErrUnknownCode", name, err)
		}
	}
	if _, err := domain.NewTicketCodes([]byte("short")); !errors.Is(err, domain.ErrTicketKeyTooShort) {
		t.Errorf("short key: got %v", err)
	}
}

func TestUpcast_OrderConfirmedV1DropsCodes(t *testing.T) {
	t.Parallel()
	r := domain.NewRegistry()
	domain.RegisterEvents(r)
	v1 := `{"order_id":"` + orderA.String() + `","tickets":[{"id":"` + ticketID.String() + `","section":"A","code":"PLAINSECRET"}]}`
	e, err := r.DecodeRecorded(domain.RecordedEvent{Type: "order.confirmed", Data: []byte(v1)})
	if err != nil {
		t.Fatal(err)
	}
	c := e.(domain.OrderConfirmed)
	if len(c.Tickets) != 1 || c.Tickets[0].Code != "" || c.Tickets[0].ID != ticketID {
		t.Fatalf("got %+v, want the ticket without its code", c.Tickets)
	}
	data, _ := json.Marshal(confirmed())
	if strings.Contains(string(data), "code") {
		t.Errorf("a new order.confirmed carries a code: %s", data)
	}
}

func TestCheckNonce(t *testing.T) {
	t.Parallel()
	for nonce, ok := range map[string]bool{"a-1_b.c:d": true, "": false, strings.Repeat("n", domain.MaxNonceLen+1): false, "a b": false, "é": false, "a\x00": false} {
		if err := domain.CheckNonce("nonce", nonce); (err == nil) != ok {
			t.Errorf("CheckNonce(%q) = %v, want ok %v", nonce, err, ok)
		}
	}
}

// FuzzTicketCodes_Verify: any string verifies only as the code it is, and
// never panics.
func FuzzTicketCodes_Verify(f *testing.F) {
	codes, err := domain.NewTicketCodes([]byte(domain.DevTicketKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(codes.Code(ticketID, 0))
	f.Add(codes.Code(ticketID, domain.MaxTicketTransfers))
	f.Add("")
	f.Add(strings.Repeat("A", domain.TicketCodeLen))
	f.Add(strings.Repeat("=", domain.TicketCodeLen))
	f.Fuzz(func(t *testing.T, code string) {
		id, gen, err := codes.Verify(code)
		if err != nil {
			if !errors.Is(err, domain.ErrUnknownCode) {
				t.Fatalf("Verify(%q): %v", code, err)
			}
			return
		}
		if again := codes.Code(id, gen); again != code {
			t.Fatalf("Verify(%q) = %s, %d; its code is %q", code, id, gen, again)
		}
	})
}
