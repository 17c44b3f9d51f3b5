package domain

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ShowSnapshot is a Show's whole state at a version, so that loading a show
// costs the events after the snapshot, not its whole history. Its JSON shape
// is versioned by SnapshotVersion: a snapshot of another version is ignored
// and the show is loaded from its events.
type ShowSnapshot struct {
	SchemaVersion int               `json:"schema_version"`
	ID            uuid.UUID         `json:"id"`
	OrganizerID   uuid.UUID         `json:"organizer_id"`
	Title         string            `json:"title"`
	Venue         string            `json:"venue"`
	StartsAt      time.Time         `json:"starts_at"`
	Status        ShowStatus        `json:"status"`
	Sections      []SectionSnapshot `json:"sections"`
	Holds         []Hold            `json:"holds"`
	Sold          []uuid.UUID       `json:"sold"`
	// MaxUnitsPerBuyer is the per-buyer limit, 0 for none; Buyers the units
	// each buyer holds in open holds and bought (version 2).
	MaxUnitsPerBuyer int          `json:"max_units_per_buyer"`
	Buyers           []BuyerUnits `json:"buyers"`
	// Rules are the ticket types, quotas, vouchers and per-order limits
	// (issue 14: rules); absent for a show without any, as every show
	// before them was.
	Rules *RulesSnapshot `json:"rules,omitempty"`
	// issue 14: waitlist — the waiting lists, absent when no one ever
	// joined one.
	Waitlist *WaitlistSnapshot `json:"waitlist,omitempty"`
	// Returned are the refunds whose units went back on sale (issue 14).
	Returned []string `json:"returned,omitempty"`
}

// BuyerUnits is the units one buyer holds in open holds and bought.
type BuyerUnits struct {
	Buyer uuid.UUID `json:"buyer"`
	Units int       `json:"units"`
}

// SectionSnapshot is a section's state.
type SectionSnapshot struct {
	Spec  SectionSpec `json:"spec"`
	Price int64       `json:"price"`
	Held  int         `json:"held"`
	Sold  int         `json:"sold"`
	Taken []TakenSeat `json:"taken,omitempty"`
}

// TakenSeat is a held or sold seat.
type TakenSeat struct {
	Seat  SeatRef   `json:"seat"`
	Order uuid.UUID `json:"order"`
	Sold  bool      `json:"sold"`
}

// SnapshotVersion is the version of ShowSnapshot's shape. Version 2 added
// the per-buyer limit and tallies; a version 1 snapshot is ignored.
const SnapshotVersion = 2

// Snapshot returns the show's state. It must have no pending changes.
func (s *Show) Snapshot() ShowSnapshot {
	snap := ShowSnapshot{SchemaVersion: SnapshotVersion, ID: s.ID, OrganizerID: s.OrganizerID, Title: s.Title, Venue: s.Venue,
		StartsAt: s.StartsAt, Status: s.Status, MaxUnitsPerBuyer: s.maxPerBuyer, Buyers: []BuyerUnits{}}
	for _, name := range s.order {
		sec := s.sections[name]
		ss := SectionSnapshot{Spec: sec.spec, Price: sec.price, Held: sec.held, Sold: sec.sold}
		for ref, by := range sec.taken {
			ss.Taken = append(ss.Taken, TakenSeat{Seat: ref, Order: by.order, Sold: by.sold})
		}
		// By row and seat, not by the seat's text: a row label may hold "/".
		slices.SortFunc(ss.Taken, func(a, b TakenSeat) int {
			if c := strings.Compare(a.Seat.Row, b.Seat.Row); c != 0 {
				return c
			}
			return cmp.Compare(a.Seat.Seat, b.Seat.Seat)
		})
		snap.Sections = append(snap.Sections, ss)
	}
	snap.Rules = s.snapshotRules() // issue 14: rules
	for _, h := range s.holds {
		snap.Holds = append(snap.Holds, *h)
	}
	for id := range s.sold {
		snap.Sold = append(snap.Sold, id)
	}
	for b, n := range s.buyers {
		snap.Buyers = append(snap.Buyers, BuyerUnits{Buyer: b, Units: n})
	}
	// Sorted, so that equal states make equal snapshots.
	// Byte order is the order of the ids' text, without building the text.
	slices.SortFunc(snap.Holds, func(a, b Hold) int { return bytes.Compare(a.OrderID[:], b.OrderID[:]) })
	slices.SortFunc(snap.Sold, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(snap.Buyers, func(a, b BuyerUnits) int { return bytes.Compare(a.Buyer[:], b.Buyer[:]) })
	snap.Waitlist = s.waitlistSnapshot() // issue 14: waitlist
	for id := range s.returned {
		snap.Returned = append(snap.Returned, id)
	}
	slices.Sort(snap.Returned)
	return snap
}

// RestoreShow returns the show a snapshot taken at version describes.
func RestoreShow(snap ShowSnapshot, version int64) *Show {
	s := NewShow()
	s.ID, s.OrganizerID, s.Title, s.Venue, s.StartsAt, s.Status = snap.ID, snap.OrganizerID, snap.Title, snap.Venue, snap.StartsAt, snap.Status
	for _, ss := range snap.Sections {
		sec := &section{spec: ss.Spec, price: ss.Price, held: ss.Held, sold: ss.Sold}
		if ss.Spec.Seated() {
			sec.rows = make(map[string]int, len(ss.Spec.Rows))
			for _, r := range ss.Spec.Rows {
				sec.rows[r.Label] = r.Seats
			}
			sec.taken = make(map[SeatRef]takenBy, len(ss.Taken))
			for _, t := range ss.Taken {
				sec.taken[t.Seat] = takenBy{order: t.Order, sold: t.Sold}
			}
		}
		s.sections[ss.Spec.Name] = sec
		s.order = append(s.order, ss.Spec.Name)
	}
	for _, h := range snap.Holds {
		s.holds[h.OrderID] = &h
	}
	for _, id := range snap.Sold {
		s.sold[id] = true
	}
	s.maxPerBuyer = snap.MaxUnitsPerBuyer
	s.restoreRules(snap.Rules) // issue 14: rules
	for _, b := range snap.Buyers {
		if b.Units > 0 {
			s.buyers[b.Buyer] = b.Units
		}
	}
	s.restoreWaitlist(snap.Waitlist) // issue 14: waitlist
	for _, id := range snap.Returned {
		if s.returned == nil {
			s.returned = map[string]bool{}
		}
		s.returned[id] = true
	}
	s.version = version
	return s
}

// Committed records that the pending changes were appended, the stream now
// being at version: the show can decide again from there without a reload.
func (s *Show) Committed(version int64) {
	s.changes = nil
	s.version = version
}
