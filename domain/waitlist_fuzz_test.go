package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// FuzzShow_Waitlist runs any sequence of holds, releases, sales, joins and
// leaves on a show: nothing panics, no section is oversold or gives out
// more than it has, a buyer waits at most once per section, reserved
// units never pass what the list wants, and the show replayed from its
// events, or restored from its snapshot, is the same.
//
// Op bytes, each followed by a buyer byte and a quantity byte (an int8):
// b%6 == 0 a hold, 1 a join, 2 a leave, 3 a release, 4 a sale, 5 time
// passing by a minute.
func FuzzShow_Waitlist(f *testing.F) {
	f.Add(3, 10, []byte{0, 0, 3, 1, 1, 2, 1, 2, 1, 3, 0, 0})
	f.Add(4, 2, []byte{0, 0, 2, 0, 1, 2, 1, 2, 3, 1, 3, 1, 3, 0, 0, 2, 2, 0, 3, 1, 0})
	f.Add(1, 0, []byte{0, 0, 1, 1, 1, 200, 1, 2, 1, 4, 0, 0, 5, 0, 0})
	f.Fuzz(func(t *testing.T, capacity, limit int, ops []byte) {
		c := domain.CreateShow{ShowID: showID, OrganizerID: orgID, Title: "Fuzz", Venue: "Hall", StartsAt: t0.Add(24 * time.Hour),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: capacity}}}
		if limit != 0 {
			c.MaxUnitsPerBuyer = &limit
		}
		s := domain.NewShow()
		if s.Create(c, t0) != nil || s.Publish(t0) != nil {
			return
		}
		buyers := []uuid.UUID{waiterA, waiterB, waiterC, buyerID}
		var holds []uuid.UUID
		now := t0
		for i := 0; i+2 < len(ops); i += 3 {
			buyer, q := buyers[int(ops[i+1])%len(buyers)], int(int8(ops[i+2]))
			switch ops[i] % 6 {
			case 0:
				id := uuid.New()
				if s.Hold(domain.HoldRequest{OrderID: id, BuyerID: buyer, Items: []domain.ItemRequest{{Section: "floor", Quantity: q}}}, now, time.Hour) == nil {
					holds = append(holds, id)
				}
			case 1:
				_ = s.JoinWaitlist(buyer, "floor", q, now)
			case 2:
				_ = s.LeaveWaitlist(buyer, "floor", now)
			case 3, 4:
				if open := s.Holds(); len(open) > 0 {
					h := open[int(ops[i+1])%len(open)].OrderID
					if ops[i]%6 == 3 {
						s.Release(h, domain.ReleaseExpired, now)
					} else if err := s.Sell(h, now); err != nil {
						t.Fatal(err)
					}
				}
			case 5:
				now = now.Add(time.Minute)
			}
			checkWaitlist(t, s, capacity)
		}
		replayed := domain.NewShow()
		replayed.Load(s.Changes(), int64(len(s.Changes())))
		s.Committed(int64(len(s.Changes())))
		live, _ := json.Marshal(s.Snapshot())
		again, _ := json.Marshal(replayed.Snapshot())
		restored, _ := json.Marshal(domain.RestoreShow(s.Snapshot(), s.Version()).Snapshot())
		if string(live) != string(again) || string(live) != string(restored) {
			t.Fatalf("live, replayed and restored shows differ:\n%s\n%s\n%s", live, again, restored)
		}
	})
}

func checkWaitlist(t *testing.T, s *domain.Show, capacity int) {
	t.Helper()
	if a := s.Available("floor"); a < 0 || a > capacity {
		t.Fatalf("available %d of %d", a, capacity)
	}
	l := s.Waitlist("floor")
	want, seen := 0, map[uuid.UUID]bool{}
	for _, e := range l.Entries {
		if seen[e.BuyerID] || e.Quantity < 1 || e.Quantity > domain.MaxUnitsPerOrder {
			t.Fatalf("entry %+v", e)
		}
		seen[e.BuyerID] = true
		want += e.Quantity
	}
	if l.Reserved < 0 || l.Reserved > want {
		t.Fatalf("%d reserved for a list that wants %d", l.Reserved, want)
	}
	for _, o := range s.WaitlistOffers() {
		if seen[o.BuyerID] {
			t.Fatalf("buyer %s waits with an open offer", o.BuyerID)
		}
	}
}
