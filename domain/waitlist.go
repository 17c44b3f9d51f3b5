package domain

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Waiting-list errors. Match them with errors.Is.
var (
	// ErrNotSoldOut: the section still has units; the buyer should buy.
	ErrNotSoldOut = errors.New("the section still has units: buy instead")
	// ErrAlreadyWaiting: the buyer waits in the section already, or holds
	// an open offer of it.
	ErrAlreadyWaiting = errors.New("already on the waiting list of this section")
	// ErrNotWaiting: the buyer is not on the waiting list of the section.
	ErrNotWaiting = errors.New("not on the waiting list of this section")
	// ErrWaitlistFull: the section's waiting list has MaxWaitlistLength
	// buyers.
	ErrWaitlistFull = errors.New("the waiting list of this section is full")
)

// MaxWaitlistLength bounds the buyers waiting in one section, so that a
// show's state stays bounded.
const MaxWaitlistLength = 10_000

// DefaultOfferWindow is how long an offer's hold lasts when the show was
// given no window (SetOfferWindow).
const DefaultOfferWindow = 10 * time.Minute

// Waiting-list leave reasons.
const (
	WaitlistLeftByBuyer    = "left"        // the buyer left
	WaitlistLeftBuyerLimit = "buyer_limit" // the offer would pass the per-buyer limit
	WaitlistLeftOffSale    = "off_sale"    // the type waited for is hidden or out of its window
)

// WaitlistJoined: a buyer joined the waiting list of a sold-out
// general-admission section for Quantity units.
type WaitlistJoined struct {
	ShowID   uuid.UUID `json:"show_id"`
	BuyerID  uuid.UUID `json:"buyer_id"`
	Section  string    `json:"section"`
	Quantity int       `json:"quantity"`
	JoinedAt time.Time `json:"joined_at"`
	// TicketType is the type waited for; "" for the section's price.
	TicketType string `json:"ticket_type,omitempty"`
}

// WaitlistLeft: a buyer left a section's waiting list without an offer.
// Units reserved for the list beyond what it still wants go back on sale.
type WaitlistLeft struct {
	ShowID  uuid.UUID `json:"show_id"`
	BuyerID uuid.UUID `json:"buyer_id"`
	Section string    `json:"section"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// WaitlistReserved: released units were set aside for a section's waiting
// list, whose next buyer wants more than there are yet: they are sold to
// no one else.
type WaitlistReserved struct {
	ShowID   uuid.UUID `json:"show_id"`
	Section  string    `json:"section"`
	Quantity int       `json:"quantity"`
	At       time.Time `json:"at"`
}

// WaitlistOffered: the first buyer of a section's waiting list got an
// exclusive offer: the hold of OrderID, which follows in the same append
// (show.seats_held), until ExpiresAt. The buyer leaves the list; the
// offer's units come from the reserved ones first.
type WaitlistOffered struct {
	ShowID    uuid.UUID `json:"show_id"`
	BuyerID   uuid.UUID `json:"buyer_id"`
	Section   string    `json:"section"`
	Quantity  int       `json:"quantity"`
	OrderID   uuid.UUID `json:"order_id"`
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at"`
	// TicketType is the type of the offer's hold, as the buyer joined.
	TicketType string `json:"ticket_type,omitempty"`
}

// EventType implementations: stable names, never renamed.
func (WaitlistJoined) EventType() string   { return "show.waitlist_joined" }
func (WaitlistLeft) EventType() string     { return "show.waitlist_left" }
func (WaitlistReserved) EventType() string { return "show.waitlist_reserved" }
func (WaitlistOffered) EventType() string  { return "show.waitlist_offered" }

// WaitlistEntry is a buyer waiting in a section.
type WaitlistEntry struct {
	BuyerID  uuid.UUID `json:"buyer_id"`
	Quantity int       `json:"quantity"`
	JoinedAt time.Time `json:"joined_at"`
	Seq      int64     `json:"seq"` // the show's join count at the join: names the entry
	// TicketType is the type waited for; "" for the section's price.
	TicketType string `json:"ticket_type,omitempty"`
}

// WaitlistOffer is an open offer: its hold has been neither sold nor
// released.
type WaitlistOffer struct {
	OrderID   uuid.UUID `json:"order_id"`
	BuyerID   uuid.UUID `json:"buyer_id"`
	Section   string    `json:"section"`
	Quantity  int       `json:"quantity"`
	ExpiresAt time.Time `json:"expires_at"`
	// TicketType is the type of the offer's hold; "" for the section's.
	TicketType string `json:"ticket_type,omitempty"`
}

// WaitlistSection is a section's waiting list: its buyers in order, and
// the units reserved for them.
type WaitlistSection struct {
	Section  string          `json:"section"`
	Entries  []WaitlistEntry `json:"entries"`
	Reserved int             `json:"reserved"`
}

// WaitlistSnapshot is the waiting lists' part of a ShowSnapshot.
type WaitlistSnapshot struct {
	Joins    int64             `json:"joins"`
	Sections []WaitlistSection `json:"sections"`
	Offers   []WaitlistOffer   `json:"offers"`
}

// showWaitlist is the waiting lists of a show.
type showWaitlist struct {
	window   time.Duration
	joins    int64
	sections map[string]*WaitlistSection
	offers   map[uuid.UUID]*WaitlistOffer // open offers by order
}

func (s *Show) wl() *showWaitlist {
	if s.waitlist == nil {
		s.waitlist = &showWaitlist{sections: map[string]*WaitlistSection{}, offers: map[uuid.UUID]*WaitlistOffer{}}
	}
	return s.waitlist
}

// SetOfferWindow sets how long an offer's hold lasts; 0 means
// DefaultOfferWindow. It is policy, not state: set it before deciding.
func (s *Show) SetOfferWindow(d time.Duration) { s.wl().window = d }

func (w *showWaitlist) offerWindow() time.Duration {
	if w.window <= 0 {
		return DefaultOfferWindow
	}
	return w.window
}

// waitlistReserved is the units of a section set aside for its waiting
// list: Available leaves them out.
func (s *Show) waitlistReserved(section string) int {
	if ws := s.waitlistOf(section); ws != nil {
		return ws.Reserved
	}
	return 0
}

// waitlistOf returns a section's waiting list, nil when no one waits.
func (s *Show) waitlistOf(section string) *WaitlistSection {
	if s.waitlist == nil {
		return nil
	}
	return s.waitlist.sections[section]
}

// Waitlist returns a copy of a section's waiting list (empty when no one
// waits).
func (s *Show) Waitlist(section string) WaitlistSection {
	out := WaitlistSection{Section: section, Entries: []WaitlistEntry{}}
	if ws := s.waitlistOf(section); ws != nil {
		out.Entries, out.Reserved = slices.Clone(ws.Entries), ws.Reserved
	}
	return out
}

// WaitlistPlace returns a buyer's place (1 for the next in line) in a
// section's waiting list and their entry, or 0.
func (s *Show) WaitlistPlace(buyer uuid.UUID, section string) (int, WaitlistEntry) {
	if ws := s.waitlistOf(section); ws != nil {
		for i, e := range ws.Entries {
			if e.BuyerID == buyer {
				return i + 1, e
			}
		}
	}
	return 0, WaitlistEntry{}
}

// WaitlistOffers returns the open offers, by expiry.
func (s *Show) WaitlistOffers() []WaitlistOffer {
	out := []WaitlistOffer{}
	if s.waitlist == nil {
		return out
	}
	for _, o := range s.waitlist.offers {
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b WaitlistOffer) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return bytes.Compare(a.OrderID[:], b.OrderID[:])
	})
	return out
}

func (s *Show) openOffer(buyer uuid.UUID, section string) bool {
	if s.waitlist == nil {
		return false
	}
	for _, o := range s.waitlist.offers {
		if o.BuyerID == buyer && o.Section == section {
			return true
		}
	}
	return false
}

// JoinWaitlist puts a buyer on the waiting list of a sold-out
// general-admission section for quantity units at the section's price:
// JoinWaitlistType without a ticket type.
func (s *Show) JoinWaitlist(buyer uuid.UUID, section string, quantity int, now time.Time) error {
	_, err := s.JoinWaitlistType(buyer, section, "", quantity, now)
	return err
}

// JoinWaitlistType puts a buyer on the waiting list of a sold-out
// general-admission section for quantity units of ticket type typ ("" for
// the section's price; with a type, section "" takes the type's). It fails
// with ErrNotSoldOut when the section has units left, ErrAlreadyWaiting
// when the buyer waits in the section (whatever the type) or holds an open
// offer of it, ErrWaitlistFull, a *BuyerLimitError when the units would
// take the buyer past the show's limit, a *TicketTypeOffSaleError for a
// type out of its window, and a *ValidationError for a section, type or
// quantity that is wrong (a hidden type is no type). It returns the
// section joined.
func (s *Show) JoinWaitlistType(buyer uuid.UUID, section, typ string, quantity int, now time.Time) (string, error) {
	if err := s.onSale(now); err != nil {
		return section, err
	}
	section, err := s.waitlistTarget(section, typ, quantity, now)
	if err != nil {
		return section, err
	}
	if place, _ := s.WaitlistPlace(buyer, section); place > 0 || s.openOffer(buyer, section) {
		return section, ErrAlreadyWaiting
	}
	if s.Available(section) > 0 {
		return section, ErrNotSoldOut
	}
	if ws := s.waitlistOf(section); ws != nil && len(ws.Entries) >= MaxWaitlistLength {
		return section, ErrWaitlistFull
	}
	if have := s.buyers[buyer]; s.maxPerBuyer > 0 && quantity > s.maxPerBuyer-have {
		return section, &BuyerLimitError{Limit: s.maxPerBuyer, Have: have, Asked: quantity}
	}
	s.raise(WaitlistJoined{ShowID: s.ID, BuyerID: buyer, Section: section, Quantity: quantity, JoinedAt: now.UTC(), TicketType: typ})
	return section, nil
}

// waitlistTarget checks what a join names and returns its section.
func (s *Show) waitlistTarget(section, typ string, quantity int, now time.Time) (string, error) {
	var v validator
	var t *TicketType
	if typ != "" {
		if t = s.ticketType(typ); t == nil || t.Hidden { // a hidden type is no type
			v.check(false, "ticket_type", "no ticket type %q", typ)
			return section, v.err()
		}
		if section == "" {
			section = t.Section
		}
		v.check(section == t.Section, "ticket_type", "ticket type %q is not of section %q", typ, section)
	}
	sec, ok := s.sections[section]
	v.check(ok, "section", "no section named %q", section)
	v.check(!ok || !sec.spec.Seated(), "section", "waiting lists are for general-admission sections; %q is seated", section)
	v.check(quantity > 0 && quantity <= MaxUnitsPerOrder, "quantity", "must be between 1 and %d", MaxUnitsPerOrder)
	if err := v.err(); err != nil {
		return section, err
	}
	if t != nil && !t.onSale(now) {
		return section, &TicketTypeOffSaleError{Code: typ, From: t.OnSaleFrom, Until: t.OnSaleUntil}
	}
	return section, nil
}

// LeaveWaitlist takes a buyer off a section's waiting list; ErrNotWaiting
// when they are not on it. Units reserved for the list go to the next in
// line, or back on sale when the list wants fewer.
func (s *Show) LeaveWaitlist(buyer uuid.UUID, section string, now time.Time) error {
	if !s.Exists() {
		return ErrShowNotFound
	}
	if place, _ := s.WaitlistPlace(buyer, section); place == 0 {
		return ErrNotWaiting
	}
	s.raise(WaitlistLeft{ShowID: s.ID, BuyerID: buyer, Section: section, Reason: WaitlistLeftByBuyer, At: now.UTC()})
	s.offerSection(section, now)
	return nil
}

func (s *Show) onSale(now time.Time) error {
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
	return nil
}

// OfferWaitlist makes the offers the units free now allow, in every
// section with buyers waiting: what Release does after freeing units. A
// process that frees sold units (a refund that restocks) calls it in the
// same decision.
func (s *Show) OfferWaitlist(now time.Time) {
	for _, name := range s.order {
		s.offerSection(name, now)
	}
}

// offerReleased offers the general-admission units items freed.
func (s *Show) offerReleased(items []HeldItem, now time.Time) {
	for _, it := range items {
		s.offerSection(it.Section, now)
	}
}

// offerSection gives the section's next buyers, in order, an offer of
// their quantity while the reserved and free units cover it; the free
// units short of the next buyer's quantity are reserved for them. A buyer
// whom the offer would take past the per-buyer limit leaves the list.
// Nothing happens when the show is not on sale.
func (s *Show) offerSection(section string, now time.Time) {
	ws := s.waitlistOf(section)
	if ws == nil || len(ws.Entries) == 0 || s.onSale(now) != nil {
		return
	}
	for len(ws.Entries) > 0 {
		head := ws.Entries[0]
		if t := s.ticketType(head.TicketType); t != nil && (t.Hidden || !t.onSale(now)) {
			s.raise(WaitlistLeft{ShowID: s.ID, BuyerID: head.BuyerID, Section: section, Reason: WaitlistLeftOffSale, At: now.UTC()})
			continue
		}
		if have := s.buyers[head.BuyerID]; s.maxPerBuyer > 0 && head.Quantity > s.maxPerBuyer-have {
			s.raise(WaitlistLeft{ShowID: s.ID, BuyerID: head.BuyerID, Section: section, Reason: WaitlistLeftBuyerLimit, At: now.UTC()})
			continue
		}
		free := max(s.Available(section), 0)
		if ws.Reserved+free < head.Quantity {
			if free > 0 {
				s.raise(WaitlistReserved{ShowID: s.ID, Section: section, Quantity: free, At: now.UTC()})
			}
			return
		}
		if !s.offer(section, head, now) {
			return
		}
	}
}

// offer raises the offer to head and its hold, which takes the units of
// the quotas covering the section like any hold (the units a release or a
// restock gave back). When a quota is short of them it raises nothing and
// reports false: the buyer keeps their place.
func (s *Show) offer(section string, head WaitlistEntry, now time.Time) bool {
	ttl := s.wl().offerWindow()
	order := uuid.NewSHA1(s.ID, []byte("waitlist-offer/"+section+"/"+strconv.FormatInt(head.Seq, 10)))
	price := s.sections[section].price
	if head.TicketType != "" {
		price = s.rules.types[head.TicketType].PriceCents // the type's price in force
	}
	// Bounded: quantity ≤ MaxUnitsPerOrder, price ≤ MaxPriceCents.
	held := SeatsHeld{ShowID: s.ID, OrderID: order, BuyerID: head.BuyerID,
		Items:      []HeldItem{{Section: section, Quantity: head.Quantity, UnitPriceCents: price, TicketType: head.TicketType}},
		TotalCents: int64(head.Quantity) * price, HeldAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC(), HoldTTLSeconds: int64(ttl / time.Second)}
	if err := s.takeQuotas(&held); err != nil {
		return false
	}
	s.raise(WaitlistOffered{ShowID: s.ID, BuyerID: head.BuyerID, Section: section, Quantity: head.Quantity, OrderID: order,
		At: now.UTC(), ExpiresAt: now.Add(ttl).UTC(), TicketType: head.TicketType})
	s.raise(held)
	return true
}

// applyWaitlist applies a waiting-list event; it reports whether e was one.
func (s *Show) applyWaitlist(e Event) bool {
	w := s.wl()
	switch e := e.(type) {
	case WaitlistJoined:
		ws := w.sections[e.Section]
		if ws == nil {
			ws = &WaitlistSection{Section: e.Section}
			w.sections[e.Section] = ws
		}
		w.joins++
		ws.Entries = append(ws.Entries, WaitlistEntry{BuyerID: e.BuyerID, Quantity: e.Quantity, JoinedAt: e.JoinedAt, Seq: w.joins, TicketType: e.TicketType})
	case WaitlistLeft:
		w.remove(e.Section, e.BuyerID)
	case WaitlistReserved:
		if ws := w.sections[e.Section]; ws != nil {
			ws.Reserved += e.Quantity
		}
	case WaitlistOffered:
		if ws := w.sections[e.Section]; ws != nil {
			ws.Reserved -= min(ws.Reserved, e.Quantity)
		}
		w.remove(e.Section, e.BuyerID)
		w.offers[e.OrderID] = &WaitlistOffer{OrderID: e.OrderID, BuyerID: e.BuyerID, Section: e.Section, Quantity: e.Quantity, ExpiresAt: e.ExpiresAt, TicketType: e.TicketType}
	default:
		return false
	}
	return true
}

// remove takes a buyer off a section's list; the units reserved beyond
// what the list still wants go back on sale.
func (w *showWaitlist) remove(section string, buyer uuid.UUID) {
	ws := w.sections[section]
	if ws == nil {
		return
	}
	ws.Entries = slices.DeleteFunc(ws.Entries, func(e WaitlistEntry) bool { return e.BuyerID == buyer })
	want := 0
	for _, e := range ws.Entries {
		want += e.Quantity // at most MaxWaitlistLength × MaxUnitsPerOrder
	}
	ws.Reserved = min(ws.Reserved, want)
	if len(ws.Entries) == 0 {
		delete(w.sections, section)
	}
}

// closeOffer ends the open offer of an order whose hold was sold or
// released.
func (s *Show) closeOffer(order uuid.UUID) {
	if s.waitlist != nil {
		delete(s.waitlist.offers, order)
	}
}

// waitlistSnapshot returns the waiting lists' state, sorted.
func (s *Show) waitlistSnapshot() *WaitlistSnapshot {
	w := s.waitlist
	if w == nil || w.joins == 0 {
		return nil
	}
	snap := &WaitlistSnapshot{Joins: w.joins, Sections: []WaitlistSection{}, Offers: s.WaitlistOffers()}
	for _, name := range s.order {
		if ws := w.sections[name]; ws != nil {
			snap.Sections = append(snap.Sections, WaitlistSection{Section: name, Entries: slices.Clone(ws.Entries), Reserved: ws.Reserved})
		}
	}
	slices.SortFunc(snap.Offers, func(a, b WaitlistOffer) int { return bytes.Compare(a.OrderID[:], b.OrderID[:]) })
	return snap
}

// restoreWaitlist restores the waiting lists of a snapshot.
func (s *Show) restoreWaitlist(snap *WaitlistSnapshot) {
	if snap == nil {
		return
	}
	w := s.wl()
	w.joins = snap.Joins
	for _, ws := range snap.Sections {
		c := ws
		c.Entries = slices.Clone(ws.Entries)
		w.sections[ws.Section] = &c
	}
	for _, o := range snap.Offers {
		c := o
		w.offers[o.OrderID] = &c
	}
}
