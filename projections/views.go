package projections

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// ShowView is a show with its sections, as the catalog shows it.
type ShowView struct {
	ID          uuid.UUID     `json:"id"`
	OrganizerID uuid.UUID     `json:"organizer_id"`
	Title       string        `json:"title"`
	Venue       string        `json:"venue"`
	StartsAt    time.Time     `json:"starts_at"`
	Status      string        `json:"status"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Sections    []SectionView `json:"sections"`
	// Refunds is the refund progress of a cancelled show (issue 14: money).
	Refunds *RefundProgress `json:"refunds,omitempty"`
}

// SectionView is a section's price and inventory.
type SectionView struct {
	Name string `json:"name"`
	// Kind is KindGeneralAdmission or KindSeated.
	Kind       string `json:"kind"`
	PriceCents int64  `json:"price_cents"`
	Capacity   int    `json:"capacity"`
	Available  int    `json:"available"`
	Held       int    `json:"held"`
	Sold       int    `json:"sold"`
	// Reserved is the units set aside for the waiting list (projection
	// "waitlist"): Available leaves them out.
	Reserved int `json:"reserved,omitempty"`
}

// SeatMap is the seated sections of a show, in the order the organizer
// created them, with their counts but not their seats: Queries.Seats pages
// through the seats of one section. Its size is bounded by
// domain.MaxSections, whatever the number of seats.
type SeatMap struct {
	ShowID   uuid.UUID        `json:"show_id"`
	Sections []SeatMapSection `json:"sections"`
}

// SeatMapSection is one seated section of a SeatMap: its name, which
// Queries.Seats takes, its number of rows (row_count: "rows" is a list
// everywhere else) and how many of its seats are available, held and sold.
type SeatMapSection struct {
	Name      string `json:"name"`
	Rows      int    `json:"row_count"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
	Held      int    `json:"held"`
	Sold      int    `json:"sold"`
}

// SeatPage is one page of the seats of a seated section, by row in the
// order the organizer created them, then by seat number. A row may go on
// in the next page: its first row then has the label of this page's last.
// NextCursor fetches the next page; it is empty on the last page. It names
// no order. It is rendered with has_more, as a List is.
type SeatPage struct {
	ShowID     uuid.UUID    `json:"show_id"`
	Section    string       `json:"section"`
	Rows       []SeatMapRow `json:"rows"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// SeatMapRow is the seats of one row in a SeatPage. Label is the row's
// name, rendered "row" as in orders and tickets.
type SeatMapRow struct {
	Label string        `json:"row"`
	Seats []SeatMapSeat `json:"seats"`
}

// SeatMapSeat is one seat and its state: SeatAvailable, SeatHeld or SeatSold.
type SeatMapSeat struct {
	Seat  int    `json:"seat"`
	State string `json:"state"`
}

// OrderView is an order with its tickets.
type OrderView struct {
	ID         uuid.UUID         `json:"id"`
	ShowID     uuid.UUID         `json:"show_id"`
	BuyerID    uuid.UUID         `json:"buyer_id"`
	Status     string            `json:"status"`
	Items      OrderItems        `json:"items"`
	Seats      []domain.HeldSeat `json:"seats"`
	TotalCents int64             `json:"total_cents"`
	ExpiresAt  time.Time         `json:"expires_at"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Tickets    []TicketView      `json:"tickets"`
	// issue 14: door. The show's title and start (ShowInfo).
	ShowInfo
	// issue 14: money — the order's refunds go here.
	// RefundedCents is the sum of the order's refunds (issue 14: money).
	RefundedCents int64 `json:"refunded_cents,omitempty"`
}

// TicketView is a ticket of an order. Row and Seat are empty for general
// admission; CheckedInAt is null until the ticket is checked in.
type TicketView struct {
	ID          uuid.UUID  `json:"id"`
	Section     string     `json:"section"`
	Row         string     `json:"row,omitempty"`
	Seat        int        `json:"seat,omitempty"`
	Code        string     `json:"code"`
	CheckedInAt *time.Time `json:"checked_in_at"`
	// issue 14: door. HolderID holds the ticket now; Generation is its
	// code's, which the read API makes Code from, for the holder only.
	// TransferredOut says that the viewer gave the ticket away.
	HolderID       uuid.UUID `json:"holder_id"`
	Generation     int       `json:"-"`
	TransferredOut bool      `json:"transferred_out,omitempty"`
	// issue 14: money — a voided (refunded) ticket's state goes here.
	// VoidedAt is when the ticket was refunded (issue 14: money).
	VoidedAt *time.Time `json:"voided_at,omitempty"`
}

// BuyerTicket is a ticket in a buyer's list of tickets.
type BuyerTicket struct {
	TicketView
	OrderID uuid.UUID `json:"order_id"`
	ShowID  uuid.UUID `json:"show_id"`
	ShowInfo
}

// SalesView is the sales figures of a show: units and orders by outcome.
type SalesView struct {
	ShowID uuid.UUID `json:"show_id"`
	// OrganizerID is whom the figures belong to; it is not rendered.
	OrganizerID     uuid.UUID `json:"-"`
	Sold            int       `json:"units_sold"`
	RevenueCents    int64     `json:"revenue_cents"`
	Held            int       `json:"units_held"`
	Expired         int       `json:"units_expired"`
	Cancelled       int       `json:"units_cancelled"`
	OrdersConfirmed int       `json:"orders_confirmed"`
	OrdersExpired   int       `json:"orders_expired"`
	OrdersCancelled int       `json:"orders_cancelled"`
}

// DueHold is an open hold whose time ran out.
type DueHold struct {
	ShowID    uuid.UUID
	OrderID   uuid.UUID
	ExpiresAt time.Time
}

// List is one page of a list. NextCursor fetches the next page; it is empty
// on the last page. It is rendered with has_more, true when NextCursor is
// not empty.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// AnalyticsView is the sales analytics of a show: in all, and hour by hour.
type AnalyticsView struct {
	ShowID uuid.UUID        `json:"show_id"`
	Totals AnalyticsFigures `json:"totals"`
	// Hours are the hours in which anything happened, in order.
	Hours []AnalyticsHour `json:"hours"`
}

// AnalyticsHour is the figures of one hour, which starts at Hour (UTC).
type AnalyticsHour struct {
	Hour time.Time `json:"hour"`
	AnalyticsFigures
}

// AnalyticsFigures are sales figures over a span of time. The counts are of
// what happened in the span: orders held (placed), confirmed (paid),
// expired and cancelled, units and revenue. Paid, Conversion and
// MedianSecondsToPay follow the holds of the span to their outcome, whenever
// it came: how many were paid, which share of the holds that is, and the
// median time from hold to payment of those paid; the last two are null
// when there is nothing to divide.
type AnalyticsFigures struct {
	Holds              int      `json:"orders_held"`
	UnitsHeld          int      `json:"units_held"`
	Confirmed          int      `json:"orders_confirmed"`
	UnitsSold          int      `json:"units_sold"`
	RevenueCents       int64    `json:"revenue_cents"`
	Expired            int      `json:"orders_expired"`
	Cancelled          int      `json:"orders_cancelled"`
	Paid               int      `json:"orders_paid"`
	Conversion         *float64 `json:"conversion"`
	MedianSecondsToPay *float64 `json:"median_seconds_to_pay"`
}

// add adds the counts of o to f.
func (f *AnalyticsFigures) add(o AnalyticsFigures) {
	f.Holds += o.Holds
	f.UnitsHeld += o.UnitsHeld
	f.Confirmed += o.Confirmed
	f.UnitsSold += o.UnitsSold
	f.RevenueCents += o.RevenueCents
	f.Expired += o.Expired
	f.Cancelled += o.Cancelled
}

// cohort sets the figures that follow the holds of the span.
func (f *AnalyticsFigures) cohort(paid int, medianMS *float64) {
	f.Paid = paid
	if f.Holds > 0 {
		c := float64(paid) / float64(f.Holds)
		f.Conversion = &c
	}
	if medianMS != nil {
		s := *medianMS / 1000
		f.MedianSecondsToPay = &s
	}
}

// MarshalJSON renders l with has_more.
func (l List[T]) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"next_cursor,omitempty"`
		HasMore    bool   `json:"has_more"`
	}{l.Items, l.NextCursor, l.NextCursor != ""})
}

// MarshalJSON renders p with has_more.
func (p SeatPage) MarshalJSON() ([]byte, error) {
	type plain SeatPage
	return json.Marshal(struct {
		plain
		HasMore bool `json:"has_more"`
	}{plain(p), p.NextCursor != ""})
}

// OrderItems are the general-admission units of an order. Each renders its
// price as price_cents, as a seat's is; the read model stores them as the
// events carry them (domain.HeldItem's unit_price_cents), and both names are
// read.
type OrderItems []domain.HeldItem

// orderItem is how an item of OrderItems is rendered.
type orderItem struct {
	Section    string `json:"section"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
	TicketType string `json:"ticket_type,omitempty"`
}

// MarshalJSON renders the items with price_cents.
func (items OrderItems) MarshalJSON() ([]byte, error) {
	out := make([]orderItem, len(items))
	for i, it := range items {
		out[i] = orderItem{Section: it.Section, Quantity: it.Quantity, PriceCents: it.UnitPriceCents, TicketType: it.TicketType}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads items stored (unit_price_cents) or rendered
// (price_cents).
func (items *OrderItems) UnmarshalJSON(b []byte) error {
	var in []struct {
		domain.HeldItem
		PriceCents *int64 `json:"price_cents"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in == nil {
		*items = nil
		return nil
	}
	out := make(OrderItems, len(in))
	for i, it := range in {
		out[i] = it.HeldItem
		if it.PriceCents != nil {
			out[i].UnitPriceCents = *it.PriceCents
		}
	}
	*items = out
	return nil
}
