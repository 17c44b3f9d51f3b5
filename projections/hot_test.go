package projections

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// hotTestView is a view of a show with a GA section of 10 and a seated one
// of one row of three seats.
func hotTestView() *HotView {
	v := &HotView{
		Show: ShowView{ID: uuid.New(), Sections: []SectionView{
			{Name: "floor", Kind: KindGeneralAdmission, Capacity: 10, Available: 8, Reserved: 2},
			{Name: "stalls", Kind: KindSeated, Capacity: 3, Available: 3},
		}},
		SeatMap: SeatMap{Sections: []SeatMapSection{{Name: "stalls", Rows: 1, Capacity: 3, Available: 3}}},
		seats:   map[hotSeatKey]string{},
	}
	for n := 1; n <= 3; n++ {
		k := hotSeatKey{"stalls", "A", n}
		v.seats[k] = SeatAvailable
		v.order = append(v.order, k)
	}
	return v
}

func TestHotView_ApplyFast(t *testing.T) {
	t.Parallel()
	seat := []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "stalls", Row: "A", Seat: 2}}}
	ga := []domain.HeldItem{{Section: "floor", Quantity: 3}}
	v := hotTestView()
	c := newLiveChange()
	steps := []struct {
		name string
		e    domain.Event
		ok   bool
	}{
		{"hold", domain.SeatsHeld{Items: ga, Seats: seat}, true},
		{"sell", domain.SeatsSold{Items: ga, Seats: seat}, true},
		{"return", domain.SeatsReturned{Items: ga[:1], Seats: seat}, true},
		{"hold again", domain.SeatsHeld{Seats: seat}, true},
		{"release", domain.SeatsReleased{Seats: seat}, true},
		{"a voucher's hold needs the read models", domain.SeatsHeld{Seats: seat, Voucher: "V"}, false},
		{"an unknown seat", domain.SeatsHeld{Seats: []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "stalls", Row: "A", Seat: 9}}}}, false},
		{"an unknown section", domain.SeatsHeld{Items: []domain.HeldItem{{Section: "pit", Quantity: 1}}}, false},
		{"a quantity that is not one", domain.SeatsHeld{Items: []domain.HeldItem{{Section: "floor", Quantity: 0}}}, false},
		{"more than the capacity", domain.SeatsHeld{Items: []domain.HeldItem{{Section: "floor", Quantity: 11}}}, false},
		{"a release of nothing held", domain.SeatsReleased{Items: ga}, false},
		{"another event", domain.ShowPublished{}, false},
	}
	for i, s := range steps {
		at := domain.PositionAt(uint64(i + 1))
		before := v.Changed
		if got := v.applyFast(at, s.e, c); got != s.ok {
			t.Fatalf("%s: applied %v, want %v", s.name, got, s.ok)
		}
		if s.ok != (v.Changed == at) || (!s.ok && v.Changed != before) {
			t.Errorf("%s: Changed = %s", s.name, v.Changed)
		}
	}
	floor, stalls := v.Show.Sections[0], v.Show.Sections[1]
	if floor.Held != 0 || floor.Sold != 0 || floor.Available != 8 {
		t.Errorf("floor: %+v", floor)
	}
	if stalls.Held != 0 || stalls.Sold != 0 || stalls.Available != 3 || v.SeatMap.Sections[0].Available != 3 {
		t.Errorf("stalls: %+v, seat map %+v", stalls, v.SeatMap.Sections[0])
	}
	if st := v.seats[hotSeatKey{"stalls", "A", 2}]; st != SeatAvailable {
		t.Errorf("A2: %s", st)
	}
	// The change holds each section and seat once, at its last state.
	if len(c.sections) != 2 || len(c.seats) != 1 || c.seats[0].State != SeatAvailable {
		t.Errorf("change: %+v", c)
	}
}

func TestHotView_SnapshotFrame(t *testing.T) {
	t.Parallel()
	v := hotTestView()
	if !v.applyFast(domain.PositionAt(7), domain.SeatsHeld{Seats: []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "stalls", Row: "A", Seat: 3}}}}, newLiveChange()) {
		t.Fatal("hold not applied")
	}
	f := v.snapshotFrame()
	want := `"seats":[{"section":"stalls","row":"A","seat":3,"state":"held"}]`
	if f.pos != domain.PositionAt(7) || !strings.HasPrefix(string(f.b), "id: 7\nevent: snapshot\ndata: {") || !strings.Contains(string(f.b), want) {
		t.Errorf("snapshot frame:\n%s", f.b)
	}
}

// TestHot_CatchUpBetweenProjections: when the two projections a view
// reflects stand at different positions (as they do with Kafka, where each
// applies its own partitions), an event of the show between them is
// reflected by one only. The load stands when the other would not change
// the view for it, and the view then counts it once.
func TestHot_CatchUpBetweenProjections(t *testing.T) {
	t.Parallel()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	seat := []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "stalls", Row: "A", Seat: 1}}}
	hold := domain.SeatsHeld{Items: []domain.HeldItem{{Section: "floor", Quantity: 2}}, Seats: seat}
	joined := domain.WaitlistJoined{Section: "floor", Quantity: 1}
	rec := func(version int64, e domain.Event) domain.RecordedEvent {
		data, err := domain.Encode([]domain.Event{e}, uuid.New, domain.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		return domain.RecordedEvent{StreamID: "show-x", Version: version, Position: domain.PositionAt(uint64(10 * version)),
			Type: data[0].Type, Data: data[0].Data, Metadata: data[0].Metadata}
	}
	cases := []struct {
		name string
		// at: the positions of shows and waitlist; the event is at 20.
		at     [2]domain.Position
		e      domain.Event
		ok     bool
		floorH int
	}{
		{"shows behind: its hold is applied", [2]domain.Position{domain.PositionAt(10), domain.PositionAt(20)}, hold, true, 2},
		{"waitlist behind: the hold is in the view already", [2]domain.Position{domain.PositionAt(20), domain.PositionAt(10)}, hold, true, 0},
		{"shows behind: a waiting-list event changes nothing of it", [2]domain.Position{domain.PositionAt(10), domain.PositionAt(20)}, joined, true, 0},
		{"waitlist behind: its event is missing", [2]domain.Position{domain.PositionAt(20), domain.PositionAt(10)}, joined, false, 0},
		{"both past it", [2]domain.Position{domain.PositionAt(20), domain.PositionAt(20)}, hold, true, 0},
	}
	for _, c := range cases {
		h := &Hot{Registry: reg, pos: domain.PositionAt(40)}
		v := hotTestView()
		v.Changed, v.Version = maxPos(c.at[0], c.at[1]), 2
		// Then a hold after both: applied, and the view's version moves.
		later := domain.SeatsHeld{Items: []domain.HeldItem{{Section: "floor", Quantity: 1}}}
		s := &hotShow{pending: []domain.RecordedEvent{rec(1, hold), rec(2, c.e), rec(3, later)}}
		err := h.catchUp(s, v, c.at)
		if (err == nil) != c.ok {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !c.ok {
			continue
		}
		if got := v.Show.Sections[0].Held; got != c.floorH+1 {
			t.Errorf("%s: floor held %d, want %d", c.name, got, c.floorH+1)
		}
		if v.Version != 3 || v.Changed != domain.PositionAt(30) {
			t.Errorf("%s: version %d at %s, want 3 at 30", c.name, v.Version, v.Changed)
		}
	}
}
