package domain_test

import (
	"encoding/binary"
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// script hands out the bytes of a fuzz input as small choices and as whole
// int64s, zero once it runs out.
type script struct{ b []byte }

func (s *script) done() bool { return len(s.b) == 0 }

func (s *script) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

// int returns, as the next byte says, a small number around the limits or
// any int64 at all (huge and negative ones included).
func (s *script) int() int {
	switch c := s.byte(); c % 4 {
	case 0, 1:
		return int(c>>2) - 8 // -8..55
	case 2:
		return int(c>>2) * 1000 // round numbers up to 63,000
	default:
		var n [8]byte
		for i := range n {
			n[i] = s.byte()
		}
		return int(int64(binary.LittleEndian.Uint64(n[:])))
	}
}

// FuzzShow_Hold decides random holds, releases and sales on a random show
// and checks the show's invariants after each decision: availability never
// negative, held + sold never above capacity, no seat taken twice, every
// total the exact sum of its unit prices at the prices of the moment, no
// buyer past the per-buyer limit, nothing sold after the start, and a
// snapshot that restores the same show.
func FuzzShow_Hold(f *testing.F) {
	// Op bytes: 0 a hold of general admission (buyer, items-1, quantities),
	// 2 of seats (buyer, seats, then row and number of each), 3 a release
	// or sale, 4 a price, 5 time passing. A number byte b with b%4 < 2 is
	// b>>2 - 8; with b%4 == 3 the next 8 bytes are any int64.
	f.Add(10, int64(500), 2, 3, 10, []byte{0, 0, 0, 40, 2, 1, 1, 0, 36, 3, 0, 1})
	// The issue: two items of 9223372036854775807 and 9223372036854775709.
	f.Add(100, int64(1000), 1, 1, 0, []byte{0, 0, 1, 3, 255, 255, 255, 255, 255, 255, 255, 127, 3, 157, 255, 255, 255, 255, 255, 255, 127})
	f.Fuzz(func(t *testing.T, capacity int, price int64, rows, seatsPerRow, limit int, ops []byte) {
		in := &script{b: ops}
		c := domain.CreateShow{ShowID: showID, OrganizerID: orgID, Title: "Fuzz", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: price, Capacity: capacity}}}
		if rows > 0 {
			spec := domain.SectionSpec{Name: "box", PriceCents: price}
			for i := range min(rows, domain.MaxRowsPerSect+1) {
				spec.Rows = append(spec.Rows, domain.RowSpec{Label: strconv.Itoa(i), Seats: seatsPerRow})
			}
			c.Sections = append(c.Sections, spec)
		}
		if limit != 0 {
			c.MaxUnitsPerBuyer = &limit
		}
		s := domain.NewShow()
		if err := s.Create(c, t0); err != nil {
			if len(s.Changes()) != 0 {
				t.Fatalf("a refused create raised %v", s.Changes())
			}
			return
		}
		if err := s.Publish(t0); err != nil {
			t.Fatal(err)
		}
		s.Committed(2)
		buyers := []uuid.UUID{buyerID, uuid.MustParse("00000000-0000-0000-0000-00000000c002"), uuid.MustParse("00000000-0000-0000-0000-00000000c003")}
		now := t0
		sold := map[string]int{}     // section → units sold
		tally := map[uuid.UUID]int{} // buyer → units held and sold, as the test counts them
		var open []uuid.UUID         // open holds, oldest first
		for n := 0; !in.done() && n < 200; n++ {
			op := in.byte()
			before := len(s.Changes())
			switch op % 6 {
			case 0, 1: // hold general admission, possibly in several items
				buyer := buyers[int(in.byte())%len(buyers)]
				r := domain.HoldRequest{OrderID: uuid.New(), BuyerID: buyer}
				for range 1 + int(in.byte())%3 {
					r.Items = append(r.Items, domain.ItemRequest{Section: "floor", Quantity: in.int()})
				}
				hold(t, s, r, now, tally, &open)
			case 2: // hold seats
				buyer := buyers[int(in.byte())%len(buyers)]
				r := domain.HoldRequest{OrderID: uuid.New(), BuyerID: buyer}
				for range int(in.byte()) % 5 {
					r.Seats = append(r.Seats, domain.SeatRef{Section: "box", Row: strconv.Itoa(int(in.byte()) % max(rows, 1)), Seat: in.int()})
				}
				hold(t, s, r, now, tally, &open)
			case 3: // release or sell an open hold
				if len(open) == 0 {
					continue
				}
				i := int(in.byte()) % len(open)
				id := open[i]
				open = append(open[:i], open[i+1:]...)
				h, _ := s.HoldOf(id)
				units := len(h.Seats)
				for _, it := range h.Items {
					units += it.Quantity
				}
				if in.byte()%2 == 0 {
					s.Release(id, domain.ReleaseExpired, now)
					tally[h.BuyerID] -= units
				} else {
					if err := s.Sell(id, now); err != nil {
						t.Fatalf("sell an open hold: %v", err)
					}
					for _, it := range h.Items {
						sold[it.Section] += it.Quantity
					}
				}
			case 4: // a new price
				p := int64(in.int())
				if err := s.Edit(domain.EditShow{Prices: map[string]int64{"floor": p}}, now); err != nil && (p >= 0 && p <= domain.MaxPriceCents) {
					t.Fatalf("edit to %d: %v", p, err)
				}
			case 5: // time passes
				now = now.Add(time.Duration(in.byte()) * time.Hour / 4)
			}
			s.Committed(s.Version() + int64(len(s.Changes())-before))
			checkShow(t, s, sold, tally)
		}
		if got := restoredShow(t, s); !reflect.DeepEqual(got.Snapshot(), s.Snapshot()) {
			t.Fatalf("snapshot round trip:\n got %+v\nwant %+v", got.Snapshot(), s.Snapshot())
		}
	})
}

// hold decides one hold and checks what it raised.
func hold(t *testing.T, s *domain.Show, r domain.HoldRequest, now time.Time, tally map[uuid.UUID]int, open *[]uuid.UUID) {
	t.Helper()
	prices := map[string]int64{}
	for _, sec := range s.Sections() {
		prices[sec.Name] = sec.PriceCents
	}
	before := len(s.Changes())
	err := s.Hold(r, now, 15*time.Minute)
	raised := s.Changes()[before:]
	if err != nil {
		if len(raised) != 0 {
			t.Fatalf("a refused hold (%v) raised %v", err, raised)
		}
		if !now.Before(s.StartsAt) && !errors.Is(err, domain.ErrShowStarted) {
			t.Fatalf("hold after the start: err = %v, want ErrShowStarted", err)
		}
		return
	}
	if !now.Before(s.StartsAt) {
		t.Fatalf("hold accepted at %s, the show starts at %s", now, s.StartsAt)
	}
	if len(raised) != 1 {
		t.Fatalf("raised %v", raised)
	}
	e := raised[0].(domain.SeatsHeld)
	total, units := new(big.Int), 0
	for _, it := range e.Items {
		if it.Quantity < 1 || it.UnitPriceCents != prices[it.Section] {
			t.Fatalf("held item %+v at the price %d", it, prices[it.Section])
		}
		total.Add(total, new(big.Int).Mul(big.NewInt(it.UnitPriceCents), big.NewInt(int64(it.Quantity))))
		units += it.Quantity
	}
	for _, st := range e.Seats {
		if st.PriceCents != prices[st.Section] {
			t.Fatalf("held seat %+v at the price %d", st, prices[st.Section])
		}
		total.Add(total, big.NewInt(st.PriceCents))
		units++
	}
	if !total.IsInt64() || total.Int64() != e.TotalCents || e.TotalCents < 0 {
		t.Fatalf("total %d, the sum of the prices is %s", e.TotalCents, total)
	}
	if units < 1 || units > domain.MaxUnitsPerOrder {
		t.Fatalf("a hold of %d units", units)
	}
	tally[r.BuyerID] += units
	if l := s.MaxUnitsPerBuyer(); l > 0 && tally[r.BuyerID] > l {
		t.Fatalf("buyer holds and bought %d units, the limit is %d", tally[r.BuyerID], l)
	}
	*open = append(*open, r.OrderID)
}

// checkShow checks the show's inventory against the holds it has open and
// the units the test saw sold.
func checkShow(t *testing.T, s *domain.Show, sold map[string]int, tally map[uuid.UUID]int) {
	t.Helper()
	held := map[string]int{}
	seats := map[domain.SeatRef]bool{}
	for _, h := range s.Holds() {
		for _, it := range h.Items {
			held[it.Section] += it.Quantity
		}
		for _, st := range h.Seats {
			if seats[st.SeatRef] {
				t.Fatalf("seat %s held twice", st.SeatRef)
			}
			seats[st.SeatRef] = true
			held[st.Section]++
		}
	}
	for _, sec := range s.Sections() {
		avail := s.Available(sec.Name)
		if avail < 0 {
			t.Fatalf("section %s: %d available", sec.Name, avail)
		}
		if !sec.Seated() && (held[sec.Name]+sold[sec.Name] > sec.Units() || avail != sec.Units()-held[sec.Name]-sold[sec.Name]) {
			t.Fatalf("section %s: %d held + %d sold of %d, %d available", sec.Name, held[sec.Name], sold[sec.Name], sec.Units(), avail)
		}
	}
	for b, n := range tally {
		if got := s.BuyerUnits(b); got != n {
			t.Fatalf("buyer %s: the show counts %d units, the test %d", b, got, n)
		}
	}
}

// FuzzOrder_Place places an order from a random hold, as a show's stream
// could carry it, and pays it: an order is placed only from a hold within
// the rules, its total is exactly the sum of its prices, it issues one
// ticket per unit, and only a free order confirms without a payment.
func FuzzOrder_Place(f *testing.F) {
	f.Add(int64(2), int64(500), int64(0), int64(0), uint8(1), int64(1900), int64(900))
	f.Add(int64(9223372036854775807), int64(1000), int64(9223372036854775709), int64(1000), uint8(0), int64(-100000), int64(900))
	f.Add(int64(3), int64(0), int64(0), int64(0), uint8(0), int64(0), int64(60))
	f.Fuzz(func(t *testing.T, q1, p1, q2, p2 int64, nSeats uint8, total, ttlSeconds int64) {
		h := domain.SeatsHeld{ShowID: showID, OrderID: orderA, BuyerID: buyerID, TotalCents: total,
			HeldAt: t0, ExpiresAt: t0.Add(time.Duration(ttlSeconds) * time.Second), HoldTTLSeconds: ttlSeconds}
		if q1 != 0 {
			h.Items = append(h.Items, domain.HeldItem{Section: "floor", Quantity: int(q1), UnitPriceCents: p1})
		}
		if q2 != 0 {
			h.Items = append(h.Items, domain.HeldItem{Section: "floor", Quantity: int(q2), UnitPriceCents: p2})
		}
		for i := range int(nSeats) % 60 {
			h.Seats = append(h.Seats, domain.HeldSeat{SeatRef: domain.SeatRef{Section: "box", Row: "A", Seat: i + 1}, PriceCents: p1})
		}
		o := domain.NewOrder()
		if err := o.Place(h); err != nil {
			if len(o.Changes()) != 0 {
				t.Fatalf("a refused placement (%v) raised %v", err, o.Changes())
			}
			return
		}
		sum, units := new(big.Int), 0
		for _, it := range h.Items {
			if it.Quantity < 1 || it.Quantity > domain.MaxUnitsPerOrder || it.UnitPriceCents < 0 || it.UnitPriceCents > domain.MaxPriceCents {
				t.Fatalf("placed an item %+v", it)
			}
			sum.Add(sum, new(big.Int).Mul(big.NewInt(it.UnitPriceCents), big.NewInt(int64(it.Quantity))))
			units += it.Quantity
		}
		for _, st := range h.Seats {
			if st.PriceCents < 0 || st.PriceCents > domain.MaxPriceCents {
				t.Fatalf("placed a seat %+v", st)
			}
			sum.Add(sum, big.NewInt(st.PriceCents))
			units++
		}
		if !sum.IsInt64() || sum.Int64() != o.TotalCents || o.TotalCents < 0 {
			t.Fatalf("placed a total of %d; the prices add up to %s", o.TotalCents, sum)
		}
		if units < 1 || units > domain.MaxUnitsPerOrder || o.Units() != units {
			t.Fatalf("placed %d units (Units says %d)", units, o.Units())
		}
		if !o.ExpiresAt.After(t0) {
			t.Fatalf("placed a hold expiring at %s, held at %s", o.ExpiresAt, t0)
		}
		newTicket := uuid.New
		if err := o.Confirm("", t0, newTicket); (err == nil) != o.Free() {
			t.Fatalf("confirm without a payment: err = %v, free = %v", err, o.Free())
		}
		if !o.Free() {
			if err := o.Confirm("ch_1", t0, newTicket); err != nil {
				t.Fatalf("confirm: %v", err)
			}
		}
		if len(o.Tickets) != units || o.Status != domain.OrderStatusConfirmed {
			t.Fatalf("%d tickets for %d units, status %s", len(o.Tickets), units, o.Status)
		}
	})
}
