package domain

import (
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
)

// ShowStatus is where a show is in its lifecycle: draft → on_sale → cancelled.
type ShowStatus string

// Show statuses.
const (
	ShowStatusDraft     ShowStatus = "draft"
	ShowStatusOnSale    ShowStatus = "on_sale"
	ShowStatusCancelled ShowStatus = "cancelled"
)

// SectionSpec describes a section as the organizer created it: general
// admission when Capacity > 0, seated when Rows is not empty.
type SectionSpec struct {
	Name       string    `json:"name"`
	PriceCents int64     `json:"price_cents"`
	Capacity   int       `json:"capacity,omitempty"`
	Rows       []RowSpec `json:"rows,omitempty"`
}

// Seated reports whether the section sells individual seats.
func (s SectionSpec) Seated() bool { return len(s.Rows) > 0 }

// Units is the number of sellable units: capacity or the sum of seats. A
// sum that overflows is math.MaxInt, which no limit admits.
func (s SectionSpec) Units() int {
	if !s.Seated() {
		return s.Capacity
	}
	n := 0
	for _, r := range s.Rows {
		var ok bool
		if n, ok = addInt(n, r.Seats); !ok {
			return math.MaxInt
		}
	}
	return n
}

// RowSpec is a row of numbered seats 1..Seats.
type RowSpec struct {
	Label string `json:"label"`
	Seats int    `json:"seats"`
}

// SeatRef names one seat.
type SeatRef struct {
	Section string `json:"section"`
	Row     string `json:"row"`
	Seat    int    `json:"seat"`
}

func (r SeatRef) String() string { return fmt.Sprintf("%s/%s/%d", r.Section, r.Row, r.Seat) }

// ItemRequest asks for a quantity of general-admission units.
type ItemRequest struct {
	Section  string `json:"section"`
	Quantity int    `json:"quantity"`
	// TicketType names a ticket type of the section (issue 14: rules); ""
	// is the section's own price. With a type, Section may be "".
	TicketType string `json:"ticket_type,omitempty"`
}

// HeldItem is a quantity of general-admission units at the price of the hold.
type HeldItem struct {
	Section        string `json:"section"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	TicketType     string `json:"ticket_type,omitempty"` // issue 14: rules
}

// HeldSeat is one seat at the price of the hold.
type HeldSeat struct {
	SeatRef
	PriceCents int64  `json:"price_cents"`
	TicketType string `json:"ticket_type,omitempty"` // issue 14: rules
}

// Ticket admits one person: one per seat or general-admission unit.
type Ticket struct {
	ID      uuid.UUID `json:"id"`
	Section string    `json:"section"`
	Row     string    `json:"row,omitempty"`
	Seat    int       `json:"seat,omitempty"`
	// Code is empty: a ticket's code is derived (TicketCodes), never
	// stored. Only order.confirmed events of schema version 1 carried a
	// plain code; their upcaster drops it (issue 14: door).
	Code string `json:"code,omitempty"`
}

// ShowCreated: an organizer created a show as a draft.
//
// Schema version 2 added MaxUnitsPerBuyer, the per-buyer limit; version 1
// events are upcast with the default of the time, 10. Create always sets
// it; 0, which only a hand-built event has, means no limit.
type ShowCreated struct {
	ShowID           uuid.UUID     `json:"show_id"`
	OrganizerID      uuid.UUID     `json:"organizer_id"`
	Title            string        `json:"title"`
	Venue            string        `json:"venue"`
	StartsAt         time.Time     `json:"starts_at"`
	Sections         []SectionSpec `json:"sections"`
	CreatedAt        time.Time     `json:"created_at"`
	MaxUnitsPerBuyer int           `json:"max_units_per_buyer"`
}

// SchemaVersion is the version of ShowCreated's current shape.
func (ShowCreated) SchemaVersion() int { return 2 }

// ShowBuyerLimitChanged: the organizer changed the per-buyer limit. Holds
// already made stay; a buyer over the new limit can hold no more.
type ShowBuyerLimitChanged struct {
	ShowID           uuid.UUID `json:"show_id"`
	MaxUnitsPerBuyer int       `json:"max_units_per_buyer"`
}

// ShowDetailsChanged: the organizer changed title, venue or start time.
type ShowDetailsChanged struct {
	ShowID   uuid.UUID `json:"show_id"`
	Title    string    `json:"title"`
	Venue    string    `json:"venue"`
	StartsAt time.Time `json:"starts_at"`
}

// SectionPriceChanged: later holds in the section pay the new price.
type SectionPriceChanged struct {
	ShowID     uuid.UUID `json:"show_id"`
	Section    string    `json:"section"`
	PriceCents int64     `json:"price_cents"`
}

// ShowPublished: the show went on sale.
type ShowPublished struct {
	ShowID uuid.UUID `json:"show_id"`
	At     time.Time `json:"at"`
}

// ShowCancelled: the show was cancelled; nothing more is sold.
type ShowCancelled struct {
	ShowID uuid.UUID `json:"show_id"`
	At     time.Time `json:"at"`
}

// SeatsHeld: inventory was reserved for an order until ExpiresAt.
//
// Schema version 2 added HoldTTLSeconds, the hold policy in force; version 1
// events are upcast with ExpiresAt - HeldAt.
type SeatsHeld struct {
	ShowID         uuid.UUID  `json:"show_id"`
	OrderID        uuid.UUID  `json:"order_id"`
	BuyerID        uuid.UUID  `json:"buyer_id"`
	Items          []HeldItem `json:"items,omitempty"`
	Seats          []HeldSeat `json:"seats,omitempty"`
	TotalCents     int64      `json:"total_cents"`
	HeldAt         time.Time  `json:"held_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	HoldTTLSeconds int64      `json:"hold_ttl_seconds"`
	// issue 14: rules. The voucher used (one use) and the quota units taken;
	// prices above are after the voucher.
	Voucher string     `json:"voucher,omitempty"`
	Quotas  []QuotaUse `json:"quotas,omitempty"`
}

// SchemaVersion is the version of SeatsHeld's current shape.
func (SeatsHeld) SchemaVersion() int { return 2 }

// Release reasons.
const (
	ReleaseCancelled = "cancelled"
	ReleaseExpired   = "expired"
)

// SeatsReleased: a hold ended without a sale; its inventory is free again.
type SeatsReleased struct {
	ShowID  uuid.UUID  `json:"show_id"`
	OrderID uuid.UUID  `json:"order_id"`
	Reason  string     `json:"reason"`
	Items   []HeldItem `json:"items,omitempty"`
	Seats   []HeldSeat `json:"seats,omitempty"`
	At      time.Time  `json:"at"`
	// issue 14: rules. The hold's voucher use and quota units, given back.
	Voucher string     `json:"voucher,omitempty"`
	Quotas  []QuotaUse `json:"quotas,omitempty"`
}

// SeatsSold: a held order was paid; its inventory is sold for good.
type SeatsSold struct {
	ShowID     uuid.UUID  `json:"show_id"`
	OrderID    uuid.UUID  `json:"order_id"`
	Items      []HeldItem `json:"items,omitempty"`
	Seats      []HeldSeat `json:"seats,omitempty"`
	TotalCents int64      `json:"total_cents"`
	At         time.Time  `json:"at"`
}

// EventType implementations: stable names, never renamed.
// PerBuyerLimit is the show's per-buyer limit as created (0: none); the
// Auditor checks every hold against it (BuyerLimiter).
func (e ShowCreated) PerBuyerLimit() int { return e.MaxUnitsPerBuyer }

// PerBuyerLimit is the show's new per-buyer limit (0: none).
func (e ShowBuyerLimitChanged) PerBuyerLimit() int { return e.MaxUnitsPerBuyer }

func (ShowCreated) EventType() string         { return "show.created" }
func (ShowDetailsChanged) EventType() string  { return "show.details_changed" }
func (SectionPriceChanged) EventType() string { return "show.section_price_changed" }
func (ShowPublished) EventType() string       { return "show.published" }
func (ShowCancelled) EventType() string       { return "show.cancelled" }
func (SeatsHeld) EventType() string           { return "show.seats_held" }
func (SeatsReleased) EventType() string       { return "show.seats_released" }
func (SeatsSold) EventType() string           { return "show.seats_sold" }
func (ShowBuyerLimitChanged) EventType() string {
	return "show.buyer_limit_changed"
}

// Hold is an open reservation in a show, as the show sees it.
type Hold struct {
	OrderID    uuid.UUID
	BuyerID    uuid.UUID
	Items      []HeldItem
	Seats      []HeldSeat
	TotalCents int64
	HeldAt     time.Time
	ExpiresAt  time.Time
	TTL        time.Duration // the hold policy in force when it was made
	// Rules is what the hold took of the show's rules (issue 14: rules);
	// nil when it took nothing, which keeps a Hold small.
	Rules *HoldRules `json:",omitempty"`
}

type section struct {
	spec       SectionSpec
	price      int64
	held, sold int                 // general admission
	rows       map[string]int      // seated: row label → seats
	taken      map[SeatRef]takenBy // seated: held or sold seats
}

type takenBy struct {
	order uuid.UUID
	sold  bool
}

// Show is the aggregate of a show and its inventory. Only its appliers change
// its state; history is loaded through the same appliers.
type Show struct {
	ID          uuid.UUID
	OrganizerID uuid.UUID
	Title       string
	Venue       string
	StartsAt    time.Time
	Status      ShowStatus

	sections    map[string]*section
	order       []string // section names in creation order
	holds       map[uuid.UUID]*Hold
	sold        map[uuid.UUID]bool
	maxPerBuyer int               // 0: no limit
	buyers      map[uuid.UUID]int // buyer → units in open holds and sold
	rules       *showRules        // issue 14: rules; nil: none

	// issue 14: waitlist — the waiting lists, their reserved units and open
	// offers (domain/waitlist.go).
	waitlist *showWaitlist
	// issue 14: money. returned are the refunds whose units went back on sale.
	returned map[string]bool

	version int64
	changes []Event
}

// NewShow returns an empty show, ready to load history or to be created.
func NewShow() *Show {
	return &Show{sections: map[string]*section{}, holds: map[uuid.UUID]*Hold{}, sold: map[uuid.UUID]bool{}, buyers: map[uuid.UUID]int{}}
}

// Load replays history through the appliers; version is the stream version
// of the last event.
func (s *Show) Load(history []Event, version int64) {
	for _, e := range history {
		s.apply(e)
	}
	s.version = version
}

// Version is the stream version the show was loaded at.
func (s *Show) Version() int64 { return s.version }

// Changes returns the events raised since loading.
func (s *Show) Changes() []Event { return s.changes }

// Exists reports whether the show was created.
func (s *Show) Exists() bool { return s.ID != uuid.Nil }

// Sections returns the section specs with their current prices, in creation order.
func (s *Show) Sections() []SectionSpec {
	out := make([]SectionSpec, 0, len(s.order))
	for _, n := range s.order {
		sec := s.sections[n]
		spec := sec.spec
		spec.PriceCents = sec.price
		out = append(out, spec)
	}
	return out
}

// Available returns the units of a section neither held nor sold.
func (s *Show) Available(sectionName string) int {
	sec, ok := s.sections[sectionName]
	if !ok {
		return 0
	}
	if sec.spec.Seated() {
		return sec.spec.Units() - len(sec.taken)
	}
	return sec.spec.Capacity - sec.held - sec.sold - s.waitlistReserved(sectionName)
}

// StateSize is how many orders the show keeps track of: its open holds and
// its sold orders. A snapshot's size grows with it.
func (s *Show) StateSize() int { return len(s.holds) + len(s.sold) }

// HoldOf returns the open hold of an order.
func (s *Show) HoldOf(order uuid.UUID) (Hold, bool) {
	h, ok := s.holds[order]
	if !ok {
		return Hold{}, false
	}
	return *h, true
}

// Holds returns the open holds.
func (s *Show) Holds() []Hold {
	out := make([]Hold, 0, len(s.holds))
	for _, h := range s.holds {
		out = append(out, *h)
	}
	return out
}

// IsSold reports whether an order's inventory was sold.
func (s *Show) IsSold(order uuid.UUID) bool { return s.sold[order] }

// MaxUnitsPerBuyer is the show's per-buyer limit: the units one buyer may
// hold and buy in all. 0 means none.
func (s *Show) MaxUnitsPerBuyer() int { return s.maxPerBuyer }

// BuyerUnits returns the units a buyer holds in open holds and bought.
func (s *Show) BuyerUnits(buyer uuid.UUID) int { return s.buyers[buyer] }

func (s *Show) raise(e Event) {
	s.apply(e)
	s.changes = append(s.changes, e)
}

// CreateShow is what an organizer asks for to create a show.
type CreateShow struct {
	ShowID      uuid.UUID
	OrganizerID uuid.UUID
	Title       string
	Venue       string
	StartsAt    time.Time
	Sections    []SectionSpec
	// MaxUnitsPerBuyer is the per-buyer limit; nil means
	// DefaultMaxUnitsPerBuyer.
	MaxUnitsPerBuyer *int
}

// Create raises ShowCreated after checking every field: texts, sizes,
// prices, the start (after now and at most MaxStartsAhead ahead) and the
// per-buyer limit.
func (s *Show) Create(c CreateShow, now time.Time) error {
	if s.Exists() {
		return ErrShowExists
	}
	var v validator
	checkText(&v, "title", c.Title, MaxTextLen)
	checkText(&v, "venue", c.Venue, MaxTextLen)
	checkStart(&v, c.StartsAt, now)
	limit := DefaultMaxUnitsPerBuyer
	if c.MaxUnitsPerBuyer != nil {
		limit = *c.MaxUnitsPerBuyer
		checkBuyerLimit(&v, limit)
	}
	v.check(len(c.Sections) > 0, "sections", "at least one section is required")
	if len(c.Sections) > MaxSections {
		v.check(false, "sections", "at most %d sections", MaxSections)
		return v.err()
	}
	seen := map[string]bool{}
	total := 0 // units of the sections whose size is valid
	for i, sec := range c.Sections {
		f := fmt.Sprintf("sections[%d]", i)
		checkText(&v, f+".name", sec.Name, MaxNameLen)
		v.check(!seen[sec.Name], f+".name", "duplicate section name %q", sec.Name)
		seen[sec.Name] = true
		checkPrice(&v, f+".price_cents", sec.PriceCents)
		switch {
		case sec.Capacity != 0 && len(sec.Rows) != 0:
			v.check(false, f, "give either capacity or rows, not both")
		case len(sec.Rows) == 0:
			ok := sec.Capacity > 0 && sec.Capacity <= MaxCapacity
			v.check(ok, f+".capacity", "must be between 1 and %d", MaxCapacity)
			if ok {
				total += sec.Capacity // at most MaxSections × MaxCapacity
			}
		case len(sec.Rows) > MaxRowsPerSect:
			v.check(false, f+".rows", "at most %d rows", MaxRowsPerSect)
		default:
			labels := map[string]bool{}
			for j, r := range sec.Rows {
				rf := fmt.Sprintf("%s.rows[%d]", f, j)
				checkText(&v, rf+".label", r.Label, MaxLabelLen)
				v.check(!labels[r.Label], rf+".label", "duplicate row label %q", r.Label)
				labels[r.Label] = true
				ok := r.Seats > 0 && r.Seats <= MaxSeatsPerRow
				v.check(ok, rf+".seats", "must be between 1 and %d", MaxSeatsPerRow)
				if ok {
					total += r.Seats // at most MaxSections × MaxRowsPerSect × MaxSeatsPerRow
				}
			}
		}
	}
	v.check(total <= MaxUnitsPerShow, "sections", "at most %d seats and units in all sections, got %d", MaxUnitsPerShow, total)
	if err := v.err(); err != nil {
		return err
	}
	s.raise(ShowCreated{
		ShowID: c.ShowID, OrganizerID: c.OrganizerID, Title: c.Title, Venue: c.Venue,
		StartsAt: c.StartsAt.UTC(), Sections: c.Sections, CreatedAt: now.UTC(), MaxUnitsPerBuyer: limit,
	})
	return nil
}

func checkPrice(v *validator, field string, cents int64) {
	v.check(cents >= 0 && cents <= MaxPriceCents, field, "must be between 0 and %d", MaxPriceCents)
}

// checkStart refuses a start that is missing, not after now, or more than
// MaxStartsAhead ahead.
func checkStart(v *validator, at, now time.Time) {
	switch {
	case at.IsZero():
		v.check(false, "starts_at", "is required")
	case !at.After(now):
		v.check(false, "starts_at", "must be in the future")
	case at.Sub(now) > MaxStartsAhead:
		v.check(false, "starts_at", "must be at most %d days ahead", int(MaxStartsAhead/(24*time.Hour)))
	}
}

func checkBuyerLimit(v *validator, limit int) {
	v.check(limit >= 1 && limit <= MaxUnitsPerBuyerLimit, "max_units_per_buyer", "must be between 1 and %d", MaxUnitsPerBuyerLimit)
}

// EditShow changes details, prices and the per-buyer limit; nil fields stay
// as they are.
type EditShow struct {
	Title            *string
	Venue            *string
	StartsAt         *time.Time
	Prices           map[string]int64 // section name → new price
	MaxUnitsPerBuyer *int
}

// Edit raises ShowDetailsChanged, SectionPriceChanged and
// ShowBuyerLimitChanged for what changes; a new start must be after now and
// at most MaxStartsAhead ahead. A cancelled show cannot be edited. An edit
// that changes nothing raises nothing.
func (s *Show) Edit(c EditShow, now time.Time) error {
	if !s.Exists() {
		return ErrShowNotFound
	}
	if s.Status == ShowStatusCancelled {
		return ErrShowCancelled
	}
	var v validator
	title, venue, starts, limit := s.Title, s.Venue, s.StartsAt, s.maxPerBuyer
	if c.Title != nil {
		checkText(&v, "title", *c.Title, MaxTextLen)
		title = *c.Title
	}
	if c.Venue != nil {
		checkText(&v, "venue", *c.Venue, MaxTextLen)
		venue = *c.Venue
	}
	if c.StartsAt != nil {
		checkStart(&v, *c.StartsAt, now)
		starts = c.StartsAt.UTC()
	}
	if c.MaxUnitsPerBuyer != nil {
		checkBuyerLimit(&v, *c.MaxUnitsPerBuyer)
		limit = *c.MaxUnitsPerBuyer
	}
	v.check(len(c.Prices) <= len(s.order), "sections", "at most %d sections", len(s.order))
	names := make([]string, 0, len(c.Prices))
	for _, n := range s.order {
		if _, ok := c.Prices[n]; ok {
			names = append(names, n)
		}
	}
	for n, p := range c.Prices {
		_, ok := s.sections[n]
		v.check(ok, "sections", "no section named %q", n)
		checkPrice(&v, "sections["+n+"].price_cents", p)
	}
	if err := v.err(); err != nil {
		return err
	}
	if title != s.Title || venue != s.Venue || !starts.Equal(s.StartsAt) {
		s.raise(ShowDetailsChanged{ShowID: s.ID, Title: title, Venue: venue, StartsAt: starts})
	}
	for _, n := range names {
		if p := c.Prices[n]; p != s.sections[n].price {
			s.raise(SectionPriceChanged{ShowID: s.ID, Section: n, PriceCents: p})
		}
	}
	if limit != s.maxPerBuyer {
		s.raise(ShowBuyerLimitChanged{ShowID: s.ID, MaxUnitsPerBuyer: limit})
	}
	return nil
}

// Publish puts a draft on sale. Publishing a show on sale raises nothing.
func (s *Show) Publish(now time.Time) error {
	switch {
	case !s.Exists():
		return ErrShowNotFound
	case s.Status == ShowStatusOnSale:
		return nil
	case s.Status == ShowStatusCancelled:
		return ErrShowCancelled
	}
	s.raise(ShowPublished{ShowID: s.ID, At: now.UTC()})
	return nil
}

// Cancel stops all sales. Cancelling twice raises nothing.
func (s *Show) Cancel(now time.Time) error {
	switch {
	case !s.Exists():
		return ErrShowNotFound
	case s.Status == ShowStatusCancelled:
		return nil
	}
	s.raise(ShowCancelled{ShowID: s.ID, At: now.UTC()})
	return nil
}

// HoldRequest asks to reserve inventory for an order.
type HoldRequest struct {
	OrderID uuid.UUID
	BuyerID uuid.UUID
	Items   []ItemRequest
	Seats   []SeatRef
	// issue 14: rules. SeatTypes, nil or one per seat, names each seat's
	// ticket type ("" for the section's price); Voucher a voucher code.
	SeatTypes []string
	Voucher   string
}

// Hold reserves units and seats at today's prices until now+ttl. It fails
// with ErrShowStarted once the show has started, with a *ValidationError for
// quantities out of range and sections, rows, seats or ticket types that do
// not exist, with an *OrderLimitError outside the show's per-order limits,
// with a *BuyerLimitError when the buyer would pass the show's per-buyer
// limit, with the errors of decideRules for ticket types, vouchers and
// quotas, ErrSoldOut when a section has too few units left and
// *SeatTakenError when a seat is held or sold. Every quantity is bounded
// before it is added up, so no sum can overflow.
func (s *Show) Hold(r HoldRequest, now time.Time, ttl time.Duration) error {
	if err := s.holdable(r.OrderID, now); err != nil {
		return err
	}
	e := SeatsHeld{ShowID: s.ID, OrderID: r.OrderID, BuyerID: r.BuyerID, HeldAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC(),
		HoldTTLSeconds: int64(ttl / time.Second)}
	units, wanted, err := s.holdItems(r, &e)
	if err != nil {
		return err
	}
	if err := s.checkOrderLimits(units); err != nil {
		return err
	}
	// Both are bounded: have by the limit (or the show's units), units by
	// MaxUnitsPerOrder.
	if have := s.buyers[r.BuyerID]; s.maxPerBuyer > 0 && units > s.maxPerBuyer-have {
		return &BuyerLimitError{Limit: s.maxPerBuyer, Have: have, Asked: units}
	}
	if s.rules != nil || r.Voucher != "" {
		if err := s.decideRules(&e, r.Voucher, now); err != nil {
			return err
		}
	}
	for name, q := range wanted {
		if s.Available(name) < q {
			return fmt.Errorf("%w in section %q", ErrSoldOut, name)
		}
	}
	for _, st := range e.Seats {
		if _, taken := s.sections[st.Section].taken[st.SeatRef]; taken {
			return &SeatTakenError{Seat: st.SeatRef}
		}
	}
	total, ok := TotalOf(e.Items, e.Seats)
	if !ok || total < 0 {
		// Out of reach with bounded prices and quantities; checked all the same.
		return &ValidationError{Fields: []FieldError{{Field: "items", Detail: "the total is out of range"}}}
	}
	e.TotalCents = total
	s.raise(e)
	return nil
}

// holdable checks that the show takes a hold of order at now.
func (s *Show) holdable(order uuid.UUID, now time.Time) error {
	switch {
	case !s.Exists():
		return ErrShowNotFound
	case s.Status == ShowStatusCancelled:
		return ErrShowCancelled
	case s.Status != ShowStatusOnSale:
		return ErrNotOnSale
	case !now.Before(s.StartsAt):
		return ErrShowStarted
	}
	if _, dup := s.holds[order]; dup || s.sold[order] {
		return ErrOrderExists
	}
	return nil
}

// holdItems checks the items and seats of a hold and puts them in e at
// their section's price (or their ticket type's); it returns the units and
// the general-admission units wanted per section.
func (s *Show) holdItems(r HoldRequest, e *SeatsHeld) (units int, wanted map[string]int, err error) {
	var v validator
	// Every item and seat is at least one unit: a longer request is refused
	// before it is read.
	if n := len(r.Items) + len(r.Seats); n == 0 || n > MaxUnitsPerOrder {
		v.check(n > 0, "items", "ask for at least one unit or seat")
		v.check(n <= MaxUnitsPerOrder, "items", "at most %d units per order", MaxUnitsPerOrder)
		return 0, nil, v.err()
	}
	v.check(r.SeatTypes == nil || len(r.SeatTypes) == len(r.Seats), "seats", "give a ticket type for every seat or none")
	wanted = map[string]int{}
	if len(r.Items) > 0 {
		e.Items = make([]HeldItem, 0, len(r.Items))
	}
	for i, it := range r.Items {
		name := it.Section
		if it.TicketType != "" {
			name, _ = s.itemType(&v, fmt.Sprintf("items[%d]", i), name, it.TicketType)
		}
		sec, ok := s.sections[name]
		inRange := it.Quantity > 0 && it.Quantity <= MaxUnitsPerOrder
		if !ok || sec.spec.Seated() || !inRange {
			// Field names and arguments are built only for a refusal.
			f := fmt.Sprintf("items[%d]", i)
			v.check(ok, f+".section", "no section named %q", name)
			v.check(!ok || !sec.spec.Seated(), f+".section", "section %q is seated: choose seats", name)
			v.check(inRange, f+".quantity", "must be between 1 and %d", MaxUnitsPerOrder)
			continue
		}
		wanted[name] += it.Quantity
		units += it.Quantity // at most MaxUnitsPerOrder × MaxUnitsPerOrder: no overflow
		e.Items = append(e.Items, HeldItem{Section: name, Quantity: it.Quantity, UnitPriceCents: sec.price, TicketType: it.TicketType})
	}
	units += len(r.Seats)
	v.check(units <= MaxUnitsPerOrder, "items", "at most %d units per order", MaxUnitsPerOrder)
	s.holdSeats(&v, r, e)
	return units, wanted, v.err()
}

// holdSeats checks the seats of a hold and puts them in e.
func (s *Show) holdSeats(v *validator, r HoldRequest, e *SeatsHeld) {
	if len(r.Seats) == 0 {
		return
	}
	seen := make(map[SeatRef]bool, len(r.Seats))
	e.Seats = make([]HeldSeat, 0, len(r.Seats))
	for i, ref := range r.Seats {
		typ := ""
		if i < len(r.SeatTypes) && r.SeatTypes[i] != "" {
			typ = r.SeatTypes[i]
			s.itemType(v, fmt.Sprintf("seats[%d]", i), ref.Section, typ)
		}
		sec, ok := s.sections[ref.Section]
		n, row := 0, false
		if ok {
			n, row = sec.rows[ref.Row]
		}
		if !ok || !row || ref.Seat < 1 || ref.Seat > n || seen[ref] {
			// Field names and arguments are built only for a refusal.
			f := fmt.Sprintf("seats[%d]", i)
			v.check(ok, f+".section", "no section named %q", ref.Section)
			v.check(!ok || sec.spec.Seated(), f+".section", "section %q is general admission: give a quantity", ref.Section)
			v.check(!ok || !sec.spec.Seated() || row, f+".row", "no row %q in section %q", ref.Row, ref.Section)
			v.check(!row || (ref.Seat >= 1 && ref.Seat <= n), f+".seat", "no seat %d in row %q", ref.Seat, ref.Row)
			v.check(!seen[ref], f, "seat %s asked for twice", ref)
			seen[ref] = true
			continue
		}
		seen[ref] = true
		e.Seats = append(e.Seats, HeldSeat{SeatRef: ref, PriceCents: sec.price, TicketType: typ})
	}
}

// Release frees the inventory of an order's hold. Without an open hold it
// raises nothing.
func (s *Show) Release(order uuid.UUID, reason string, now time.Time) {
	h, ok := s.holds[order]
	if !ok {
		return
	}
	s.raise(SeatsReleased{ShowID: s.ID, OrderID: order, Reason: reason, Items: h.Items, Seats: h.Seats, At: now.UTC(),
		Voucher: h.Rules.voucher(), Quotas: h.Rules.quotas()})
	s.offerReleased(h.Items, now) // issue 14: waitlist
}

// Sell turns an order's hold into a sale. Selling a sold order raises
// nothing; without a hold it fails with ErrNoHold.
func (s *Show) Sell(order uuid.UUID, now time.Time) error {
	if s.sold[order] {
		return nil
	}
	h, ok := s.holds[order]
	if !ok {
		return ErrNoHold
	}
	s.raise(SeatsSold{ShowID: s.ID, OrderID: order, Items: h.Items, Seats: h.Seats, TotalCents: h.TotalCents, At: now.UTC()})
	return nil
}

func (s *Show) apply(e Event) {
	switch e := e.(type) {
	case ShowCreated:
		s.ID, s.OrganizerID, s.Title, s.Venue, s.StartsAt = e.ShowID, e.OrganizerID, e.Title, e.Venue, e.StartsAt
		s.Status = ShowStatusDraft
		s.maxPerBuyer = e.MaxUnitsPerBuyer
		for _, spec := range e.Sections {
			sec := &section{spec: spec, price: spec.PriceCents}
			if spec.Seated() {
				sec.rows = make(map[string]int, len(spec.Rows))
				for _, r := range spec.Rows {
					sec.rows[r.Label] = r.Seats
				}
				sec.taken = map[SeatRef]takenBy{}
			}
			s.sections[spec.Name] = sec
			s.order = append(s.order, spec.Name)
		}
	case ShowDetailsChanged:
		s.Title, s.Venue, s.StartsAt = e.Title, e.Venue, e.StartsAt
	case SectionPriceChanged:
		s.sections[e.Section].price = e.PriceCents
	case ShowBuyerLimitChanged:
		s.maxPerBuyer = e.MaxUnitsPerBuyer
	case ShowPublished:
		s.Status = ShowStatusOnSale
	case ShowCancelled:
		s.Status = ShowStatusCancelled
	case SeatsHeld:
		for _, it := range e.Items {
			s.sections[it.Section].held += it.Quantity
		}
		for _, st := range e.Seats {
			s.sections[st.Section].taken[st.SeatRef] = takenBy{order: e.OrderID}
		}
		s.countBuyer(e.BuyerID, e.Items, e.Seats, 1)
		s.countUses(e.Voucher, e.Quotas, 1)
		s.holds[e.OrderID] = &Hold{OrderID: e.OrderID, BuyerID: e.BuyerID, Items: e.Items, Seats: e.Seats, TotalCents: e.TotalCents,
			HeldAt: e.HeldAt, ExpiresAt: e.ExpiresAt, TTL: time.Duration(e.HoldTTLSeconds) * time.Second,
			Rules: holdRules(e.Voucher, e.Quotas)}
	case SeatsReleased:
		if h, ok := s.holds[e.OrderID]; ok {
			s.countBuyer(h.BuyerID, h.Items, h.Seats, -1)
			s.countUses(h.Rules.voucher(), h.Rules.quotas(), -1)
		}
		for _, it := range e.Items {
			s.sections[it.Section].held -= it.Quantity
		}
		for _, st := range e.Seats {
			delete(s.sections[st.Section].taken, st.SeatRef)
		}
		delete(s.holds, e.OrderID)
		s.closeOffer(e.OrderID) // issue 14: waitlist
	case SeatsSold:
		for _, it := range e.Items {
			sec := s.sections[it.Section]
			sec.held -= it.Quantity
			sec.sold += it.Quantity
		}
		for _, st := range e.Seats {
			s.sections[st.Section].taken[st.SeatRef] = takenBy{order: e.OrderID, sold: true}
		}
		delete(s.holds, e.OrderID)
		s.sold[e.OrderID] = true
		s.closeOffer(e.OrderID) // issue 14: waitlist
	case TicketTypeSet, QuotaSet, OrderLimitsChanged, VoucherCreated, VoucherDisabled: // issue 14: rules
		s.applyRules(e)
	case WaitlistJoined, WaitlistLeft, WaitlistReserved, WaitlistOffered: // issue 14: waitlist
		s.applyWaitlist(e)
	case SeatsReturned: // issue 14: money
		s.applyReturned(e)
	}
}

// countBuyer adds (sign 1) or takes back (sign -1) the units of a hold to
// its buyer's tally; a sold hold's units stay counted. A tally that would
// overflow, as only corrupt events make, saturates.
func (s *Show) countBuyer(buyer uuid.UUID, items []HeldItem, seats []HeldSeat, sign int) {
	n, ok := UnitsOf(items, seats)
	if !ok {
		n = math.MaxInt
	}
	have := s.buyers[buyer]
	if sign > 0 {
		if have, ok = addInt(have, n); !ok {
			have = math.MaxInt
		}
	} else {
		have = max(have-n, 0)
	}
	if have == 0 {
		delete(s.buyers, buyer)
		return
	}
	s.buyers[buyer] = have
}
