package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Effective states of inventory in an Inventory.
const (
	InventoryAvailable = "available"
	InventoryHeld      = "held"
	InventorySold      = "sold"
)

// What the show's stream has yet to record of a hold that its order, or its
// expiry, already decided.
const (
	PendingSale    = "sale"    // the order was paid
	PendingRelease = "release" // the order was cancelled or expired, or the hold ran out
)

// Inventory is what a show had to sell at a moment: for each section the
// units available, held and sold, and the state of every seat. It reads the
// show's stream and the streams of its open holds' orders, so it tells
// what the inventory protocol had decided by then: a hold whose order was
// paid is sold, one whose order ended or that ran out is available again,
// even where the show had yet to follow (Pending says so).
type Inventory struct {
	ShowID   uuid.UUID          `json:"show_id"`
	At       time.Time          `json:"at"`
	Status   ShowStatus         `json:"status"`
	Sections []InventorySection `json:"sections"`
	// Holds are the holds open in the show's stream at the moment.
	Holds []InventoryHold `json:"holds"`
}

// InventorySection is the inventory of one section.
type InventorySection struct {
	Name       string `json:"name"`
	Seated     bool   `json:"seated"`
	PriceCents int64  `json:"price_cents"`
	Capacity   int    `json:"capacity"`
	Available  int    `json:"available"`
	Held       int    `json:"held"`
	Sold       int    `json:"sold"`
	// Seats is every seat of a seated section, in row and seat order.
	Seats []InventorySeat `json:"seats,omitempty"`
}

// InventorySeat is the state of one seat.
type InventorySeat struct {
	Row     string     `json:"row"`
	Seat    int        `json:"seat"`
	State   string     `json:"state"`
	OrderID *uuid.UUID `json:"order_id,omitempty"`
	Pending string     `json:"pending,omitempty"`
}

// InventoryHold is a hold open in the show's stream, and what became of it.
type InventoryHold struct {
	OrderID        uuid.UUID   `json:"order_id"`
	BuyerID        uuid.UUID   `json:"buyer_id"`
	Units          int         `json:"units"`
	TotalCents     int64       `json:"total_cents"`
	HeldAt         time.Time   `json:"held_at"`
	ExpiresAt      time.Time   `json:"expires_at"`
	HoldTTLSeconds int64       `json:"hold_ttl_seconds"`
	OrderStatus    OrderStatus `json:"order_status,omitempty"` // empty: the order stream was not written yet
	State          string      `json:"state"`
	Pending        string      `json:"pending,omitempty"`
}

// InventoryAt returns the inventory of show at the moment at. show and
// orders must be as they were at that moment: the show loaded from the
// events of its stream recorded until then, orders holding the order of
// each of its open holds loaded likewise (an order whose stream had no
// event yet is missing, or does not Exist).
func InventoryAt(show *Show, orders map[uuid.UUID]*Order, at time.Time) Inventory {
	inv := Inventory{ShowID: show.ID, At: at.UTC(), Status: show.Status, Sections: []InventorySection{}, Holds: []InventoryHold{}}
	outcome := map[uuid.UUID]InventoryHold{}
	for _, h := range show.Holds() {
		ih := InventoryHold{OrderID: h.OrderID, BuyerID: h.BuyerID, Units: unitsOf(h.Items, h.Seats), TotalCents: h.TotalCents,
			HeldAt: h.HeldAt, ExpiresAt: h.ExpiresAt, HoldTTLSeconds: int64(h.TTL / time.Second), State: InventoryHeld}
		o := orders[h.OrderID]
		if o != nil {
			ih.OrderStatus = o.Status
		}
		switch {
		case ih.OrderStatus == OrderStatusConfirmed:
			ih.State, ih.Pending = InventorySold, PendingSale
		case ih.OrderStatus == OrderStatusCancelled, ih.OrderStatus == OrderStatusExpired, !at.Before(h.ExpiresAt):
			ih.State, ih.Pending = InventoryAvailable, PendingRelease
		}
		outcome[h.OrderID] = ih
		inv.Holds = append(inv.Holds, ih)
	}
	slices.SortFunc(inv.Holds, func(a, b InventoryHold) int {
		if c := a.HeldAt.Compare(b.HeldAt); c != 0 {
			return c
		}
		return strings.Compare(a.OrderID.String(), b.OrderID.String())
	})
	for _, name := range show.order {
		sec := show.sections[name]
		is := InventorySection{Name: name, Seated: sec.spec.Seated(), PriceCents: sec.price, Capacity: sec.spec.Units()}
		if !is.Seated {
			is.Held, is.Sold = sec.held, sec.sold
			for _, h := range show.holds {
				for _, it := range h.Items {
					if it.Section != name {
						continue
					}
					switch outcome[h.OrderID].State {
					case InventorySold:
						is.Held, is.Sold = is.Held-it.Quantity, is.Sold+it.Quantity
					case InventoryAvailable:
						is.Held -= it.Quantity
					}
				}
			}
		}
		for _, row := range sec.spec.Rows {
			for n := 1; n <= row.Seats; n++ {
				seat := InventorySeat{Row: row.Label, Seat: n, State: InventoryAvailable}
				if by, taken := sec.taken[SeatRef{Section: name, Row: row.Label, Seat: n}]; taken {
					id := by.order
					seat.OrderID, seat.State = &id, InventoryHeld
					if by.sold {
						seat.State = InventorySold
					} else if o := outcome[id]; o.State != InventoryHeld {
						seat.State, seat.Pending = o.State, o.Pending
					}
				}
				switch seat.State {
				case InventoryHeld:
					is.Held++
				case InventorySold:
					is.Sold++
				}
				is.Seats = append(is.Seats, seat)
			}
		}
		is.Available = is.Capacity - is.Held - is.Sold
		inv.Sections = append(inv.Sections, is)
	}
	return inv
}

// unitsOf counts the units of items and seats.
func unitsOf(items []HeldItem, seats []HeldSeat) int {
	n := len(seats)
	for _, it := range items {
		n += it.Quantity
	}
	return n
}
