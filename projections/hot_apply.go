package projections

import (
	"github.com/ticketing/ticketing/domain"
)

// applyFast applies e, at position at, to v as the shows projector applies
// it to the read models, and records what changed in c. It reports false,
// having changed nothing, for an event it does not apply in memory (the
// view must then be loaded again) or one that would not apply cleanly.
func (v *HotView) applyFast(at domain.Position, e domain.Event, c *liveChange) bool {
	var m hotMove
	switch e := e.(type) {
	case domain.SeatsHeld:
		if hasRuleUses(e) {
			return false
		}
		m = hotMove{e.Items, e.Seats, SeatHeld, 1, 0}
	case domain.SeatsReleased:
		if hasRuleUses(e) {
			return false
		}
		m = hotMove{e.Items, e.Seats, SeatAvailable, -1, 0}
	case domain.SeatsSold:
		m = hotMove{e.Items, e.Seats, SeatSold, -1, 1}
	case domain.SeatsReturned:
		if len(e.Quotas) > 0 {
			return false
		}
		m = hotMove{e.Items, e.Seats, SeatAvailable, 0, -1}
	default:
		return false
	}
	if !v.canMove(m) {
		return false
	}
	v.move(m, c)
	v.Changed = at
	return true
}

// hotMove is an inventory event: units of items and seats move between
// the held and sold counters, and seats take state.
type hotMove struct {
	items       []domain.HeldItem
	seats       []domain.HeldSeat
	state       string
	dHeld, dSld int
}

// units returns the units the move takes from each section.
func (m hotMove) units() map[string]int {
	u := map[string]int{}
	for _, it := range m.items {
		u[it.Section] += it.Quantity
	}
	for _, s := range m.seats {
		u[s.Section]++
	}
	return u
}

// canMove reports whether m applies cleanly: every section and seat
// exists, every quantity is positive and no counter leaves its bounds. The
// projector's statements would otherwise fail (a parked stream) or change
// nothing; the read models answer those cases.
func (v *HotView) canMove(m hotMove) bool {
	for _, it := range m.items {
		if it.Quantity <= 0 || it.Quantity > corruptUnits {
			return false
		}
	}
	for _, s := range m.seats {
		if _, ok := v.seats[hotSeatKey(s.SeatRef)]; !ok {
			return false
		}
	}
	for name, n := range m.units() {
		sec := v.section(name)
		if sec == nil {
			return false
		}
		held, sold := sec.Held+m.dHeld*n, sec.Sold+m.dSld*n
		if held < 0 || sold < 0 || held+sold > sec.Capacity {
			return false
		}
	}
	return true
}

func (v *HotView) section(name string) *SectionView {
	for i := range v.Show.Sections {
		if v.Show.Sections[i].Name == name {
			return &v.Show.Sections[i]
		}
	}
	return nil
}

// move applies m, which canMove accepted.
func (v *HotView) move(m hotMove, c *liveChange) {
	for name, n := range m.units() {
		sec := v.section(name)
		sec.Held += m.dHeld * n
		sec.Sold += m.dSld * n
		sec.Available = sec.Capacity - sec.Held - sec.Sold - sec.Reserved
		c.section(*sec)
		for i := range v.SeatMap.Sections {
			if ms := &v.SeatMap.Sections[i]; ms.Name == name {
				ms.Held, ms.Sold = sec.Held, sec.Sold
				ms.Available = ms.Capacity - ms.Held - ms.Sold
			}
		}
	}
	for _, s := range m.seats {
		v.seats[hotSeatKey(s.SeatRef)] = m.state
		c.seat(LiveSeat{SeatRef: s.SeatRef, State: m.state})
	}
}
