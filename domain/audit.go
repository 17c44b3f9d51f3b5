package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Audit checks, one per kind of invariant the Auditor verifies. A Violation
// names the check it breaks.
const (
	// AuditLog: positions strictly increase, each stream's versions run
	// 1, 2, 3, ... without a gap or a repeat, no event id appears twice,
	// every event is in its aggregate's stream and can be decoded.
	AuditLog = "log"
	// AuditCapacity: no general-admission section ever has held + sold
	// above its capacity, and neither count ever goes negative.
	AuditCapacity = "capacity"
	// AuditSeats: no seat is in two live holds or sold twice, only seats
	// that exist are held, and a released seat is free again.
	AuditSeats = "seats"
	// AuditHolds: holds, sales and releases match the show (it exists and is
	// on sale, the sections exist and are of the right kind, prices are the
	// section's) and each other (a sale or release ends a live hold with
	// the same units), and follow their order (sold once paid, released
	// once cancelled or expired).
	AuditHolds = "holds"
	// AuditOrders: every order follows its state machine: placed on a live
	// hold of its show with the same units, then confirmed, cancelled or
	// expired once, or expired as a tombstone before it was placed.
	AuditOrders = "orders"
	// AuditCheckIns: only tickets of confirmed orders are checked in, each
	// at most once, and none of a cancelled show.
	AuditCheckIns = "check-ins"
	// AuditPayments: every confirmed order was paid exactly once (one
	// payment id, used by no other order), before its hold ran out and not
	// after its show was cancelled, for the hold's total: the sum of its
	// unit prices × quantities and its seats' prices.
	AuditPayments = "payments"
	// AuditRefunds: every refund is of a paid order, of its own payment and
	// tickets, each ticket once, and the refunds of a payment never exceed
	// it. (AuditPayments: every confirmed order of a cancelled show is
	// refunded by the end of the log; AuditCheckIns: no refunded ticket is
	// checked in.)
	AuditRefunds = "refunds"
	// AuditBuyerLimit: no buyer holds and buys more units of a show than
	// its per-buyer limit, where a show event sets one (see BuyerLimiter).
	AuditBuyerLimit = "per-buyer limit"
	// AuditOverflow: no quantity, price or sum in the log is negative where
	// it must not be or overflows 64 bits.
	AuditOverflow = "overflow"
)

// AuditChecks lists the checks in the order an AuditReport shows them.
var AuditChecks = []string{AuditLog, AuditCapacity, AuditSeats, AuditHolds, AuditOrders, AuditCheckIns, AuditPayments, AuditRefunds, AuditBuyerLimit,
	AuditRules, // issue 14: rules (audit_rules.go)
	AuditOverflow}

// check indexes the checks of AuditChecks.
type check int

const (
	cLog check = iota
	cCapacity
	cSeats
	cHolds
	cOrders
	cCheckIns
	cPayments
	cRefunds
	cBuyerLimit
	cRules // issue 14: rules
	cOverflow
	numChecks
)

// MaxAuditViolations is how many violations an Auditor keeps in detail; it
// counts all of them.
const MaxAuditViolations = 1000

// BuyerLimiter is implemented by a show event that sets the most units one
// buyer may have of the show, live holds and sales together; 0 means no
// limit. An Auditor checks every hold against the limit in force.
type BuyerLimiter interface {
	Event
	PerBuyerLimit() int
}

// EventRef names one recorded event in a violation.
type EventRef struct {
	Position Position `json:"position"`
	Stream   string   `json:"stream"`
	Version  int64    `json:"version"`
	Type     string   `json:"type"`
}

func refOf(rec RecordedEvent) EventRef {
	return EventRef{Position: rec.Position, Stream: rec.StreamID, Version: rec.Version, Type: rec.Type}
}

// MarshalJSON renders the position as a string, as everywhere in the APIs.
func (r EventRef) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Position string `json:"position"`
		Stream   string `json:"stream"`
		Version  int64  `json:"version"`
		Type     string `json:"type"`
	}{r.Position.String(), r.Stream, r.Version, r.Type})
}

func (r EventRef) String() string {
	return "position " + r.Position.String() + " " + r.Stream + "@" + strconv.FormatInt(r.Version, 10) + " " + r.Type
}

// Violation is one broken invariant: the check, what is wrong, and the
// events that break it, the offending one last.
type Violation struct {
	Check  string     `json:"check"`
	Detail string     `json:"detail"`
	Events []EventRef `json:"events"`
}

func (v Violation) String() string {
	parts := make([]string, len(v.Events))
	for i, r := range v.Events {
		parts[i] = r.String()
	}
	return v.Check + ": " + v.Detail + " [" + strings.Join(parts, "; ") + "]"
}

// AuditCheck is what one check went through and found.
type AuditCheck struct {
	Name string `json:"name"`
	// Checked counts the events the check examined.
	Checked int64 `json:"checked"`
	// Violations counts what it found, kept in detail or not.
	Violations int64 `json:"violations"`
	// Note says what the check could not look at, if anything.
	Note string `json:"note,omitempty"`
}

// AuditReport is what an Auditor found in a log.
type AuditReport struct {
	Events  int64 `json:"events"`
	Streams int64 `json:"streams"`
	Shows   int64 `json:"shows"`
	Orders  int64 `json:"orders"`
	// Seats counts the seats of the seated sections of every show.
	Seats int64 `json:"seats"`
	// Units counts the units of the general-admission sections.
	Units  int64        `json:"units"`
	Checks []AuditCheck `json:"checks"`
	// NotAudited counts, per type, the events of types the auditor does
	// not know: they are not checked.
	NotAudited map[string]int64 `json:"not_audited"`
	// Pending counts states the log leaves open that its next events may
	// close: "open holds", "sales the show has yet to record" (confirmed
	// orders whose show has not sold their hold yet), and so on.
	Pending map[string]int64 `json:"pending"`
	// Violations are the first MaxAuditViolations violations in log order.
	Violations []Violation `json:"violations"`
	// Dropped counts the violations not kept in detail.
	Dropped int64 `json:"dropped"`
}

// ViolationCount is the number of violations found, kept in detail or not.
func (r AuditReport) ViolationCount() int64 { return int64(len(r.Violations)) + r.Dropped }

// Auditor checks the invariants of a whole event log: it takes the recorded
// events one by one in log order and remembers what it needs of them. It
// reads, never writes; it is not safe for concurrent use.
type Auditor struct {
	registry *Registry

	events   int64
	last     Position            // of the event sequence saw last
	seen     int64               // events sequence saw
	streams  map[streamKey]int64 // show streams (an order's version is in its auditOrder)
	others   map[string]int64    // any other stream
	cur      streamKey           // of the event being added
	curOrder *auditOrder         // of the event being added, in an order stream
	ids      map[uuid.UUID]Position
	shows    map[uuid.UUID]*auditShow
	orders   map[uuid.UUID]*auditOrder
	charges  map[string]*auditPayment
	tickets  map[uuid.UUID]auditTicket
	seats    int64
	units    int64
	limits   int64 // show events that set a per-buyer limit
	refunds  int64 // refund events seen
	// issue 14: rules
	ruleEvents int64 // rule events seen
	// issue 14: door. Transfers and scans (audit_door.go); nil until the
	// first.
	door *auditDoor
	// issue 14: asyncpay
	asyncpay *auditAsyncPay // nil until the log has one

	// issue 14: waitlist — the shows' waiting lists (audit_waitlist.go).
	waitlists map[uuid.UUID]*auditWaitlist
	money     *auditMoney // issue 14: money (audit_money.go)

	checked    [numChecks]int64
	found      [numChecks]int64
	violations []Violation
	dropped    int64
	notAudited map[string]int64
}

type auditShow struct {
	created   EventRef
	status    ShowStatus
	cancelled *EventRef
	sections  map[string]*auditSection
	holds     map[uuid.UUID]*auditHold // live holds
	sold      map[uuid.UUID]EventRef   // orders sold, by their sale
	limit     int                      // per-buyer limit; 0 for none
	buyers    map[uuid.UUID]int64      // units of live holds and sales per buyer
	rules     *auditRules              // issue 14: rules; nil: none
}

type auditSection struct {
	seated     bool
	price      int64
	capacity   int64 // general admission
	held, sold int64 // general admission
	rows       map[string]int
	seats      map[SeatRef]auditSeat // seated: held or sold
}

type auditSeat struct {
	order uuid.UUID
	sold  bool
	by    EventRef // the hold or the sale
}

// streamKey names a show or order stream without its text.
type streamKey struct {
	kind byte // 's' show, 'o' order, 0 another stream
	id   uuid.UUID
}

// keyOf returns the key of a stream name.
func keyOf(stream string) streamKey {
	var k streamKey
	switch {
	case len(stream) == 41 && stream[:5] == "show-":
		k.kind = 's'
	case len(stream) == 42 && stream[:6] == "order-":
		k.kind = 'o'
	default:
		return streamKey{}
	}
	id, err := uuid.Parse(stream[len(stream)-36:])
	if err != nil {
		return streamKey{}
	}
	k.id = id
	return k
}

type auditTicket struct {
	order   uuid.UUID
	checked bool
}

type auditHold struct {
	buyer uuid.UUID
	print uint64 // of its units: unitsPrint
	total int64
	units int64
	ref   EventRef
	// issue 14: rules
	voucher string
	quotas  []QuotaUse
}

type auditOrder struct {
	version     int64 // of its stream
	show, buyer uuid.UUID
	status      OrderStatus // "" until placed or expired
	print       uint64      // of its units: unitsPrint
	total       int64       // as placed
	priced      int64       // its units' prices added up
	pricedOK    bool        // priced did not overflow
	units       int64
	expiresAt   time.Time
	last        EventRef // the event that set the status
	payment     string
	soldOnShow  bool
	// awaiting is the show's release of the order's hold as expired,
	// written before the order's own expiry (in the same append, the show
	// first): the order must expire next.
	awaiting *EventRef
}

type auditPayment struct {
	order    uuid.UUID
	amount   int64
	refunded int64
	ref      EventRef
}

// NewAuditor returns an auditor of logs whose events registry decodes.
func NewAuditor(registry *Registry) *Auditor {
	return &Auditor{
		registry:   registry,
		streams:    map[streamKey]int64{},
		others:     map[string]int64{},
		ids:        map[uuid.UUID]Position{},
		shows:      map[uuid.UUID]*auditShow{},
		orders:     map[uuid.UUID]*auditOrder{},
		charges:    map[string]*auditPayment{},
		tickets:    map[uuid.UUID]auditTicket{},
		notAudited: map[string]int64{},
	}
}

// Expect makes room for a log of about events events (up to a few million):
// it saves growing the auditor's maps as it goes. Call it before Add.
func (a *Auditor) Expect(events int) {
	if a.events > 0 || events <= 0 {
		return
	}
	events = min(events, 1<<22)
	a.ids = make(map[uuid.UUID]Position, events)
	a.orders = make(map[uuid.UUID]*auditOrder, events/4)
	a.tickets = make(map[uuid.UUID]auditTicket, events/2)
}

// Add audits the next event of the log, decoding it with the registry
// (upcasting older schema versions). It never fails: what is wrong with the
// event is a violation, an event of a type the registry does not know is
// counted as not audited.
func (a *Auditor) Add(rec RecordedEvent) {
	e, err := a.registry.DecodeRecorded(rec)
	a.addDecoded(rec, e, err, a.sequence(rec))
}

// AddDecoded audits the next event of the log as Add does, given rec
// already decoded: e is what Registry.DecodeRecorded returned for it, err
// its error.
func (a *Auditor) AddDecoded(rec RecordedEvent, e Event, err error) {
	a.addDecoded(rec, e, err, a.sequence(rec))
}

// addDecoded audits rec, decoded as e or failing with err, with what
// sequence found wrong with its place in the log.
func (a *Auditor) addDecoded(rec RecordedEvent, e Event, err error, misplaced []string) {
	a.events++
	ref := refOf(rec)
	for _, detail := range misplaced {
		a.violate(cLog, detail, ref)
	}
	a.checkLog(rec, ref)
	switch {
	case errors.Is(err, ErrUnknownEventType):
		a.notAudited[rec.Type]++
		return
	case err != nil:
		a.violate(cLog, "cannot decode the event: "+err.Error(), ref)
		return
	}
	switch e := e.(type) {
	case ShowCreated:
		a.showCreated(ref, e)
	case ShowDetailsChanged:
		a.showEvent(ref, e.ShowID)
	case SectionPriceChanged:
		a.priceChanged(ref, e)
	case ShowPublished:
		if s := a.showEvent(ref, e.ShowID); s != nil && s.status == ShowStatusDraft {
			s.status = ShowStatusOnSale
		}
	case ShowCancelled:
		if s := a.showEvent(ref, e.ShowID); s != nil && s.cancelled == nil {
			s.status, s.cancelled = ShowStatusCancelled, &ref
		}
	case SeatsHeld:
		a.seatsHeld(ref, e)
	case SeatsReleased:
		a.seatsReleased(ref, e)
	case SeatsSold:
		a.seatsSold(ref, e)
	case OrderPlaced:
		a.orderPlaced(ref, e)
	case OrderConfirmed:
		a.orderConfirmed(ref, e)
		a.confirmedByIntent(ref, e) // issue 14: asyncpay
	case OrderCancelled:
		a.orderCancelled(ref, e)
	case OrderExpired:
		a.orderExpired(ref, e)
	case TicketCheckedIn:
		a.checkedIn(ref, e)
		a.doorCheckIn(ref, e) // issue 14: door
		a.voidCheckIn(ref, e) // issue 14: money
	case TicketTypeSet, QuotaSet, OrderLimitsChanged, VoucherCreated, VoucherDisabled: // issue 14: rules
		a.ruleEvent(ref, e)
	case TicketTransferred: // issue 14: door
		a.ticketTransferred(ref, e)
	case OrderPaymentStarted, OrderPaymentSucceeded, OrderPaymentFailed, OrderPaymentRefunded: // issue 14: asyncpay
		a.asyncPayment(ref, e)
	case WaitlistJoined, WaitlistLeft, WaitlistReserved, WaitlistOffered: // issue 14: waitlist
		a.waitlistEvent(ref, e)
	case OrderRefunded: // issue 14: money
		a.orderRefunded(ref, e)
	case SeatsReturned: // issue 14: money
		a.seatsReturned(ref, e)
	default:
		if _, limits := e.(BuyerLimiter); !limits {
			a.notAudited[rec.Type]++
		}
	}
	if l, ok := e.(BuyerLimiter); ok && a.cur.kind == 's' {
		if s := a.shows[a.cur.id]; s != nil {
			a.limits++
			s.limit = l.PerBuyerLimit()
		}
	}
}

// violate records a violation of check by events.
func (a *Auditor) violate(c check, detail string, events ...EventRef) {
	a.found[c]++
	if len(a.violations) >= MaxAuditViolations {
		a.dropped++
		return
	}
	a.violations = append(a.violations, Violation{Check: AuditChecks[c], Detail: detail, Events: events})
}

// sequence checks rec's place in the global log, the events before it seen
// by sequence in log order: its position comes after theirs, its event id
// is none of theirs. It returns what is wrong, if anything. An AuditFeed
// runs it as events are added, beside the auditing.
func (a *Auditor) sequence(rec RecordedEvent) []string {
	var wrong []string
	if a.seen > 0 && !a.last.Less(rec.Position) {
		wrong = append(wrong, "position "+rec.Position.String()+" does not come after "+a.last.String())
	}
	a.seen++
	a.last = rec.Position
	if first, dup := a.ids[rec.ID]; dup {
		wrong = append(wrong, "event id "+rec.ID.String()+" already at position "+first.String())
	} else {
		a.ids[rec.ID] = rec.Position
	}
	return wrong
}

// checkLog checks rec's place in its stream.
func (a *Auditor) checkLog(rec RecordedEvent, ref EventRef) {
	a.checked[cLog]++
	a.cur, a.curOrder = keyOf(rec.StreamID), nil
	var prev int64
	switch a.cur.kind {
	case 'o':
		if a.curOrder = a.orders[a.cur.id]; a.curOrder == nil {
			a.curOrder = &auditOrder{}
			a.orders[a.cur.id] = a.curOrder
		}
		prev = a.curOrder.version
	case 's':
		prev = a.streams[a.cur]
	default:
		prev = a.others[rec.StreamID]
	}
	if rec.Version != prev+1 {
		a.violate(cLog, fmt.Sprintf("stream version %d follows version %d", rec.Version, prev), ref)
	}
	if rec.Version > prev {
		switch a.cur.kind {
		case 'o':
			a.curOrder.version = rec.Version
		case 's':
			a.streams[a.cur] = rec.Version
		default:
			a.others[rec.StreamID] = rec.Version
		}
	}
}

// inStream checks that an event of aggregate id is in its stream.
func (a *Auditor) inStream(ref EventRef, prefix string, id uuid.UUID) {
	if a.cur.kind != prefix[0] || a.cur.id != id {
		a.violate(cLog, "the event is about "+prefix+id.String()+", not its stream", ref)
	}
}

// unitsPrint is a fingerprint of items and seats (FNV-1a, 64 bits): two
// holds, sales or releases of the same units in the same order have the
// same one.
func unitsPrint(items []HeldItem, seats []HeldSeat) uint64 {
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211
	}
	num := func(n int64) {
		for i := 0; i < 64; i += 8 {
			h = (h ^ uint64(byte(n>>i))) * 1099511628211
		}
	}
	num(int64(len(items)))
	for _, it := range items {
		add(it.Section)
		num(int64(it.Quantity))
		num(it.UnitPriceCents)
	}
	num(int64(len(seats)))
	for _, st := range seats {
		add(st.Section)
		add(st.Row)
		num(int64(st.Seat))
		num(st.PriceCents)
	}
	return h
}

// Checked arithmetic on untrusted numbers.

func addInt64(x, y int64) (int64, bool) {
	s := x + y
	return s, (s > x) == (y > 0)
}

func mulInt64(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	p := x * y
	return p, p/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
}

// holdUnits returns the units of items and seats and the total of their
// prices, or ok false when a quantity or price is negative or a product or
// sum overflows.
func holdUnits(items []HeldItem, seats []HeldSeat) (units, total int64, ok bool) {
	units = int64(len(seats))
	for _, it := range items {
		q := int64(it.Quantity)
		if q <= 0 || it.UnitPriceCents < 0 {
			return 0, 0, false
		}
		p, ok1 := mulInt64(q, it.UnitPriceCents)
		var ok2, ok3 bool
		total, ok2 = addInt64(total, p)
		units, ok3 = addInt64(units, q)
		if !ok1 || !ok2 || !ok3 {
			return 0, 0, false
		}
	}
	for _, st := range seats {
		var ok1 bool
		if total, ok1 = addInt64(total, st.PriceCents); !ok1 || st.PriceCents < 0 {
			return 0, 0, false
		}
	}
	return units, total, true
}

// priced checks items and seats for overflow and returns their units and
// total.
func (a *Auditor) priced(ref EventRef, items []HeldItem, seats []HeldSeat) (units, total int64, ok bool) {
	a.checked[cOverflow]++
	units, total, ok = holdUnits(items, seats)
	if !ok {
		a.violate(cOverflow, "a quantity or price is not positive, or the units or total overflow", ref)
	}
	return units, total, ok
}

func (a *Auditor) showCreated(ref EventRef, e ShowCreated) {
	a.checked[cHolds]++
	a.inStream(ref, "show-", e.ShowID)
	if _, dup := a.shows[e.ShowID]; dup {
		a.violate(cHolds, "show "+e.ShowID.String()+" created twice", a.shows[e.ShowID].created, ref)
		return
	}
	s := &auditShow{created: ref, status: ShowStatusDraft, sections: map[string]*auditSection{}, holds: map[uuid.UUID]*auditHold{},
		sold: map[uuid.UUID]EventRef{}, buyers: map[uuid.UUID]int64{}}
	a.shows[e.ShowID] = s
	for _, spec := range e.Sections {
		sec := &auditSection{seated: spec.Seated(), price: spec.PriceCents, capacity: int64(spec.Capacity)}
		a.checked[cOverflow]++
		if spec.PriceCents < 0 || spec.Capacity < 0 {
			a.violate(cOverflow, fmt.Sprintf("section %q: negative price or capacity", spec.Name), ref)
		}
		if sec.seated {
			sec.rows = make(map[string]int, len(spec.Rows))
			sec.seats = map[SeatRef]auditSeat{}
			for _, r := range spec.Rows {
				sec.rows[r.Label] = r.Seats
				if r.Seats > 0 {
					a.seats += int64(r.Seats)
				}
			}
		} else if spec.Capacity > 0 {
			a.units += int64(spec.Capacity)
		}
		s.sections[spec.Name] = sec
	}
}

// showEvent returns the show of an event of its stream, or nil with a
// violation when it was not created.
func (a *Auditor) showEvent(ref EventRef, id uuid.UUID) *auditShow {
	a.inStream(ref, "show-", id)
	s := a.shows[id]
	if s == nil {
		a.checked[cHolds]++
		a.violate(cHolds, "show "+id.String()+" was never created", ref)
	}
	return s
}

func (a *Auditor) priceChanged(ref EventRef, e SectionPriceChanged) {
	s := a.showEvent(ref, e.ShowID)
	if s == nil {
		return
	}
	a.checked[cHolds]++
	sec := s.sections[e.Section]
	switch {
	case sec == nil:
		a.violate(cHolds, fmt.Sprintf("no section %q", e.Section), ref)
	case e.PriceCents < 0:
		a.checked[cOverflow]++
		a.violate(cOverflow, fmt.Sprintf("section %q: negative price %d", e.Section, e.PriceCents), ref)
	default:
		sec.price = e.PriceCents
	}
}

func (a *Auditor) seatsHeld(ref EventRef, e SeatsHeld) {
	s := a.showEvent(ref, e.ShowID)
	if s == nil {
		return
	}
	a.checked[cHolds]++
	switch {
	case s.status == ShowStatusCancelled:
		a.violate(cHolds, "a hold on a cancelled show", *s.cancelled, ref)
	case s.status != ShowStatusOnSale:
		a.violate(cHolds, "a hold on a show not on sale", ref)
	}
	if h := s.holds[e.OrderID]; h != nil {
		a.violate(cHolds, "order "+e.OrderID.String()+" is held twice", h.ref, ref)
	} else if sale, sold := s.sold[e.OrderID]; sold {
		a.violate(cHolds, "order "+e.OrderID.String()+" is held again after its sale", sale, ref)
	}
	units, total, ok := a.priced(ref, e.Items, e.Seats)
	if ok && total != e.TotalCents {
		a.checked[cPayments]++
		a.violate(cPayments, fmt.Sprintf("the hold's total is %d, its prices add up to %d", e.TotalCents, total), ref)
	}
	if ok && units > MaxUnitsPerOrder {
		a.violate(cHolds, fmt.Sprintf("%d units in one hold, at most %d", units, MaxUnitsPerOrder), ref)
	}
	v := a.ruleVoucher(ref, s, e) // issue 14: rules
	a.heldItems(ref, s, e, v)
	a.heldSeats(ref, s, e, v)
	if s.holds[e.OrderID] == nil {
		s.holds[e.OrderID] = &auditHold{buyer: e.BuyerID, print: unitsPrint(e.Items, e.Seats), total: e.TotalCents, units: units, ref: ref,
			voucher: e.Voucher, quotas: e.Quotas}
	}
	a.waitlistHeld(ref, s, e) // issue 14: waitlist
	if !ok {
		return
	}
	a.ruleQuotas(ref, s, e, units) // issue 14: rules
	tally, ok2 := addInt64(s.buyers[e.BuyerID], units)
	if !ok2 {
		a.violate(cOverflow, "the buyer's units overflow", ref)
		return
	}
	s.buyers[e.BuyerID] = tally
	if s.limit > 0 {
		a.checked[cBuyerLimit]++
		if tally > int64(s.limit) {
			a.violate(cBuyerLimit, fmt.Sprintf("buyer %s has %d units of the show, the limit is %d", e.BuyerID, tally, s.limit), ref)
		}
	}
}

// heldItems checks the general-admission units of a hold, their prices
// (with voucher v) and their sections' capacity.
func (a *Auditor) heldItems(ref EventRef, s *auditShow, e SeatsHeld, v *auditVoucher) {
	var wanted []sectionUnits
	for _, it := range e.Items {
		sec := s.sections[it.Section]
		switch {
		case sec == nil:
			a.violate(cHolds, fmt.Sprintf("no section %q", it.Section), ref)
			continue
		case sec.seated:
			a.violate(cHolds, fmt.Sprintf("units held in seated section %q", it.Section), ref)
			continue
		}
		if p := a.rulePrice(ref, s, it.Section, sec, it.TicketType, v, e); p >= 0 && it.UnitPriceCents != p {
			a.violate(cHolds, fmt.Sprintf("section %q held at %d, its price is %d", it.Section, it.UnitPriceCents, p), ref)
		}
		if it.Quantity > 0 {
			wanted = a.addUnits(ref, wanted, it.Section, int64(it.Quantity))
		}
	}
	for _, w := range wanted {
		a.moveGA(ref, w.name, s.sections[w.name], w.units, 0)
	}
}

// heldSeats checks the seats of a hold, their prices (with voucher v) and
// that each is free.
func (a *Auditor) heldSeats(ref EventRef, s *auditShow, e SeatsHeld, v *auditVoucher) {
	for i, st := range e.Seats {
		sec := s.sections[st.Section]
		a.checked[cSeats]++
		switch {
		case sec == nil:
			a.violate(cHolds, fmt.Sprintf("no section %q", st.Section), ref)
			continue
		case !sec.seated:
			a.violate(cHolds, fmt.Sprintf("a seat held in general-admission section %q", st.Section), ref)
			continue
		}
		if p := a.rulePrice(ref, s, st.Section, sec, st.TicketType, v, e); p >= 0 && st.PriceCents != p {
			a.violate(cHolds, fmt.Sprintf("seat %s held at %d, its price is %d", st.SeatRef, st.PriceCents, p), ref)
		}
		if n, row := sec.rows[st.Row]; !row || st.Seat < 1 || st.Seat > n {
			a.violate(cSeats, "seat "+st.SeatRef.String()+" does not exist", ref)
			continue
		}
		if slices.ContainsFunc(e.Seats[:i], func(o HeldSeat) bool { return o.SeatRef == st.SeatRef }) {
			a.violate(cSeats, "seat "+st.SeatRef.String()+" held twice by one hold", ref)
			continue
		}
		if by, taken := sec.seats[st.SeatRef]; taken {
			what := "held by order " + by.order.String()
			if by.sold {
				what = "sold to order " + by.order.String()
			}
			a.violate(cSeats, "seat "+st.SeatRef.String()+" is already "+what, by.by, ref)
			continue
		}
		sec.seats[st.SeatRef] = auditSeat{order: e.OrderID, by: ref}
	}
}

// sectionUnits is a number of units of a section.
type sectionUnits struct {
	name  string
	units int64
}

// addUnits adds q units of section name to us, or reports an overflow.
func (a *Auditor) addUnits(ref EventRef, us []sectionUnits, name string, q int64) []sectionUnits {
	for i := range us {
		if us[i].name == name {
			sum, ok := addInt64(us[i].units, q)
			if !ok {
				a.violate(cOverflow, fmt.Sprintf("section %q: the units of the event overflow", name), ref)
				return us
			}
			us[i].units = sum
			return us
		}
	}
	return append(us, sectionUnits{name, q})
}

// moveGA adds held and sold units to a general-admission section and checks
// its capacity.
func (a *Auditor) moveGA(ref EventRef, name string, sec *auditSection, held, sold int64) {
	a.checked[cCapacity]++
	h, ok1 := addInt64(sec.held, held)
	so, ok2 := addInt64(sec.sold, sold)
	taken, ok3 := addInt64(h, so)
	if !ok1 || !ok2 || !ok3 {
		a.checked[cOverflow]++
		a.violate(cOverflow, fmt.Sprintf("section %q: the units overflow", name), ref)
		return
	}
	sec.held, sec.sold = h, so
	switch {
	case h < 0 || so < 0:
		a.violate(cCapacity, fmt.Sprintf("section %q: %d held and %d sold: below zero", name, h, so), ref)
	case taken > sec.capacity:
		a.violate(cCapacity, fmt.Sprintf("section %q: %d held + %d sold = %d, capacity %d: availability %d", name, h, so, taken, sec.capacity, sec.capacity-taken), ref)
	}
}

// endHold checks that a sale or release ends a live hold of order with the
// same units, and returns the hold (nil when there is none).
func (a *Auditor) endHold(ref EventRef, s *auditShow, order uuid.UUID, items []HeldItem, seats []HeldSeat, what string) *auditHold {
	a.checked[cHolds]++
	h := s.holds[order]
	if h == nil {
		if sale, sold := s.sold[order]; sold {
			a.violate(cHolds, what+" of order "+order.String()+", already sold", sale, ref)
		} else {
			a.violate(cHolds, what+" of order "+order.String()+", which has no live hold", ref)
		}
		return nil
	}
	if h.print != unitsPrint(items, seats) {
		a.violate(cHolds, what+" of other units than order "+order.String()+" held", h.ref, ref)
	}
	return h
}

func (a *Auditor) seatsReleased(ref EventRef, e SeatsReleased) {
	s := a.showEvent(ref, e.ShowID)
	if s == nil {
		return
	}
	h := a.endHold(ref, s, e.OrderID, e.Items, e.Seats, "a release")
	o := a.orders[e.OrderID]
	switch e.Reason {
	case ReleaseCancelled:
		if o == nil || o.status != OrderStatusCancelled {
			a.violate(cHolds, "the hold of order "+e.OrderID.String()+" released as cancelled, the order is "+statusOf(o), lastOf(o, ref)...)
		}
	case ReleaseExpired:
		switch {
		case o != nil && o.status == OrderStatusExpired:
		case o == nil || o.status == "" || o.status == OrderStatusHeld:
			// The order's expiry may follow in the same append.
			if o == nil {
				o = &auditOrder{show: e.ShowID}
				a.orders[e.OrderID] = o
			}
			o.awaiting = &ref
		default:
			a.violate(cHolds, "the hold of order "+e.OrderID.String()+" released as expired, the order is "+statusOf(o), o.last, ref)
		}
	default:
		a.violate(cHolds, fmt.Sprintf("unknown release reason %q", e.Reason), ref)
	}
	if _, _, ok := a.priced(ref, e.Items, e.Seats); !ok {
		return
	}
	a.freeUnits(ref, s, e.OrderID, e.Items, e.Seats, false)
	a.ruleRelease(ref, s, h, e) // issue 14: rules
	a.waitlistFreed(e)          // issue 14: waitlist
	if h != nil {
		s.buyers[h.buyer] -= h.units
		delete(s.holds, e.OrderID)
	}
}

// freeUnits takes a hold's units off a show: sold when sell, else released.
func (a *Auditor) freeUnits(ref EventRef, s *auditShow, order uuid.UUID, items []HeldItem, seats []HeldSeat, sell bool) {
	var moved []sectionUnits
	for _, it := range items {
		if sec := s.sections[it.Section]; sec == nil || sec.seated {
			a.violate(cHolds, fmt.Sprintf("no general-admission section %q", it.Section), ref)
			continue
		}
		moved = a.addUnits(ref, moved, it.Section, int64(it.Quantity))
	}
	for _, m := range moved {
		sold := int64(0)
		if sell {
			sold = m.units
		}
		a.moveGA(ref, m.name, s.sections[m.name], -m.units, sold)
	}
	for _, st := range seats {
		a.checked[cSeats]++
		sec := s.sections[st.Section]
		if sec == nil || !sec.seated {
			a.violate(cHolds, fmt.Sprintf("no seated section %q", st.Section), ref)
			continue
		}
		by, taken := sec.seats[st.SeatRef]
		switch {
		case !taken:
			a.violate(cSeats, "seat "+st.SeatRef.String()+" is not held", ref)
			continue
		case by.order != order:
			a.violate(cSeats, "seat "+st.SeatRef.String()+" is held by order "+by.order.String(), by.by, ref)
			continue
		case by.sold:
			a.violate(cSeats, "seat "+st.SeatRef.String()+" is already sold", by.by, ref)
			continue
		}
		if sell {
			sec.seats[st.SeatRef] = auditSeat{order: order, sold: true, by: ref}
		} else {
			delete(sec.seats, st.SeatRef)
		}
	}
}

func (a *Auditor) seatsSold(ref EventRef, e SeatsSold) {
	s := a.showEvent(ref, e.ShowID)
	if s == nil {
		return
	}
	h := a.endHold(ref, s, e.OrderID, e.Items, e.Seats, "a sale")
	o := a.orders[e.OrderID]
	if o == nil || o.status != OrderStatusConfirmed {
		a.violate(cHolds, "order "+e.OrderID.String()+" sold, the order is "+statusOf(o)+", not paid", lastOf(o, ref)...)
	} else {
		o.soldOnShow = true
	}
	if h != nil && e.TotalCents != h.total {
		a.checked[cPayments]++
		a.violate(cPayments, fmt.Sprintf("sold for %d, held for %d", e.TotalCents, h.total), h.ref, ref)
	}
	if _, _, ok := a.priced(ref, e.Items, e.Seats); !ok {
		return
	}
	if h == nil {
		if _, dup := s.sold[e.OrderID]; dup {
			return // reported by endHold; the units were counted once
		}
	}
	a.freeUnits(ref, s, e.OrderID, e.Items, e.Seats, true)
	a.waitlistSold(e) // issue 14: waitlist
	delete(s.holds, e.OrderID)
	s.sold[e.OrderID] = ref
}

// statusOf names an order's status for a violation.
func statusOf(o *auditOrder) string {
	if o == nil || o.status == "" {
		return "not placed"
	}
	return string(o.status)
}

// lastOf returns the event that set o's status, if any, then ref.
func lastOf(o *auditOrder, ref EventRef) []EventRef {
	if o == nil || o.status == "" {
		return []EventRef{ref}
	}
	return []EventRef{o.last, ref}
}

// orderEvent returns the order of an event of its stream, and checks it is
// about the order's show.
func (a *Auditor) orderEvent(ref EventRef, id, show uuid.UUID) *auditOrder {
	a.checked[cOrders]++
	a.inStream(ref, "order-", id)
	o := a.curOrder
	if a.cur.id != id || o == nil {
		if o = a.orders[id]; o == nil {
			o = &auditOrder{}
			a.orders[id] = o
		}
	}
	if o.status == "" && o.show == uuid.Nil {
		o.show = show
	}
	if o.status != "" && o.show != show {
		a.violate(cOrders, "the event is about show "+show.String()+", the order about show "+o.show.String(), o.last, ref)
	}
	return o
}

// transition checks that o may go from its status to the status to.
func (a *Auditor) transition(ref EventRef, id uuid.UUID, o *auditOrder, to OrderStatus, from ...OrderStatus) bool {
	if !slices.Contains(from, o.status) {
		a.violate(cOrders, "order "+id.String()+" "+string(to)+" while "+statusOf(o), lastOf(o, ref)...)
		return false
	}
	return true
}

func (a *Auditor) orderPlaced(ref EventRef, e OrderPlaced) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	if !a.transition(ref, e.OrderID, o, OrderStatusHeld, "") {
		return
	}
	units, total, ok := a.priced(ref, e.Items, e.Seats)
	o.show, o.buyer, o.status, o.last = e.ShowID, e.BuyerID, OrderStatusHeld, ref
	o.print, o.total, o.units, o.expiresAt = unitsPrint(e.Items, e.Seats), e.TotalCents, units, e.ExpiresAt
	o.priced, o.pricedOK = total, ok
	if ok && total != e.TotalCents {
		a.checked[cPayments]++
		a.violate(cPayments, fmt.Sprintf("the order's total is %d, its prices add up to %d", e.TotalCents, total), ref)
	}
	s := a.shows[e.ShowID]
	var h *auditHold
	if s != nil {
		h = s.holds[e.OrderID]
	}
	switch {
	case h == nil:
		a.violate(cOrders, "order "+e.OrderID.String()+" placed without a live hold on show "+e.ShowID.String(), ref)
	case h.buyer != e.BuyerID || h.total != e.TotalCents || h.print != o.print:
		a.violate(cOrders, "order "+e.OrderID.String()+" placed for other units, buyer or total than its hold", h.ref, ref)
	}
}

func (a *Auditor) orderConfirmed(ref EventRef, e OrderConfirmed) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.checked[cPayments]++
	if !a.transition(ref, e.OrderID, o, OrderStatusConfirmed, OrderStatusHeld) {
		return
	}
	a.released(ref, e.OrderID, o)
	placed := o.last
	o.status, o.last, o.payment = OrderStatusConfirmed, ref, e.PaymentID
	if !e.ConfirmedAt.Before(o.expiresAt) {
		a.violate(cPayments, "paid at "+e.ConfirmedAt.Format(time.RFC3339Nano)+", the hold ran out at "+o.expiresAt.Format(time.RFC3339Nano), placed, ref)
	}
	// Paid after the show was cancelled: it must be refunded by the end of
	// the log (moneyReport, issue 14).
	if e.BuyerID != o.buyer {
		a.violate(cOrders, "confirmed for buyer "+e.BuyerID.String()+", placed by "+o.buyer.String(), placed, ref)
	}
	total, ok := o.priced, o.pricedOK
	switch {
	case e.PaymentID == "":
		a.violate(cPayments, "confirmed without a payment", ref)
	case a.charges[e.PaymentID] != nil:
		a.violate(cPayments, "payment "+e.PaymentID+" already paid order "+a.charges[e.PaymentID].order.String(), a.charges[e.PaymentID].ref, ref)
	default:
		a.charges[e.PaymentID] = &auditPayment{order: e.OrderID, amount: e.TotalCents, ref: ref}
	}
	if ok && (e.TotalCents != total || e.TotalCents != o.total) {
		a.violate(cPayments, fmt.Sprintf("paid %d, the hold's total is %d (its prices add up to %d)", e.TotalCents, o.total, total), placed, ref)
	}
	if int64(len(e.Tickets)) != o.units {
		a.violate(cOrders, fmt.Sprintf("%d tickets for %d units", len(e.Tickets), o.units), ref)
	}
	for _, t := range e.Tickets {
		if other, dup := a.tickets[t.ID]; dup {
			a.violate(cOrders, "ticket "+t.ID.String()+" already issued to order "+other.order.String(), ref)
			continue
		}
		a.tickets[t.ID] = auditTicket{order: e.OrderID}
	}
}

func (a *Auditor) orderCancelled(ref EventRef, e OrderCancelled) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.released(ref, e.OrderID, o)
	if a.transition(ref, e.OrderID, o, OrderStatusCancelled, OrderStatusHeld) {
		o.status, o.last = OrderStatusCancelled, ref
	}
}

// released reports an order that is paid or cancelled after its show
// released its hold as expired.
func (a *Auditor) released(ref EventRef, id uuid.UUID, o *auditOrder) {
	if o.awaiting != nil {
		a.violate(cHolds, "order "+id.String()+" goes on after its show released its hold as expired", *o.awaiting, ref)
		o.awaiting = nil
	}
}

func (a *Auditor) orderExpired(ref EventRef, e OrderExpired) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	if !a.transition(ref, e.OrderID, o, OrderStatusExpired, "", OrderStatusHeld) {
		return
	}
	if o.status == OrderStatusHeld && e.At.Before(o.expiresAt) {
		a.violate(cOrders, "expired at "+e.At.Format(time.RFC3339Nano)+", before its hold ran out at "+o.expiresAt.Format(time.RFC3339Nano), o.last, ref)
	}
	o.show, o.status, o.last, o.awaiting = e.ShowID, OrderStatusExpired, ref, nil
}

func (a *Auditor) checkedIn(ref EventRef, e TicketCheckedIn) {
	o := a.orderEvent(ref, e.OrderID, e.ShowID)
	a.checked[cCheckIns]++
	t, issued := a.tickets[e.TicketID]
	switch {
	case o.status != OrderStatusConfirmed:
		a.violate(cCheckIns, "ticket "+e.TicketID.String()+" checked in, its order is "+statusOf(o), lastOf(o, ref)...)
	case !issued || t.order != e.OrderID:
		a.violate(cCheckIns, "ticket "+e.TicketID.String()+" is not one of the order's", o.last, ref)
	case t.checked:
		a.violate(cCheckIns, "ticket "+e.TicketID.String()+" checked in twice", ref)
	default:
		t.checked = true
		a.tickets[e.TicketID] = t
		if s := a.shows[o.show]; s != nil && s.cancelled != nil {
			a.violate(cCheckIns, "ticket "+e.TicketID.String()+" of a cancelled show checked in", *s.cancelled, ref)
		}
	}
}

// refund checks a refund of amount of payment, by the event ref. No event of
// the domain refunds yet: the event that does calls it.
func (a *Auditor) refund(ref EventRef, payment string, amount int64) {
	a.refunds++
	a.checked[cRefunds]++
	p := a.charges[payment]
	switch {
	case p == nil:
		a.violate(cRefunds, "refund of payment "+strconv.Quote(payment)+", which paid no order", ref)
		return
	case amount <= 0:
		a.violate(cRefunds, fmt.Sprintf("refund of %d", amount), ref)
		return
	}
	sum, ok := addInt64(p.refunded, amount)
	switch {
	case !ok:
		a.violate(cOverflow, "the refunds of payment "+strconv.Quote(payment)+" overflow", p.ref, ref)
	case sum > p.amount:
		a.violate(cRefunds, fmt.Sprintf("refunds of %d of payment %q of %d", sum, payment, p.amount), p.ref, ref)
	default:
		p.refunded = sum
	}
}

// Report returns what the auditor found in the events added so far, with
// the checks that need the whole log: an order whose hold the show released
// as expired must have expired by the end.
func (a *Auditor) Report() AuditReport {
	r := AuditReport{
		Events: a.events, Streams: int64(len(a.streams) + len(a.others)), Shows: int64(len(a.shows)), Orders: 0,
		Seats: a.seats, Units: a.units, NotAudited: map[string]int64{}, Pending: map[string]int64{},
	}
	found := a.found
	violations := slices.Clone(a.violations)
	dropped := a.dropped
	for id, o := range a.orders {
		if o.status != "" {
			r.Orders++
		}
		if o.version > 0 {
			r.Streams++
		}
		switch {
		case o.awaiting != nil:
			found[cHolds]++
			if len(violations) < MaxAuditViolations {
				violations = append(violations, Violation{Check: AuditHolds, Detail: "the hold of order " + id.String() + " released as expired, the order is " + statusOf(o) + " at the end of the log", Events: lastOf(o, *o.awaiting)})
			} else {
				dropped++
			}
		case o.status == OrderStatusConfirmed && !o.soldOnShow:
			r.Pending["sales the show has yet to record"]++
		case o.status == OrderStatusHeld:
			r.Pending["held orders"]++
		}
	}
	violations, dropped = a.unrefundedPayments(&r, &found, violations, dropped) // issue 14: asyncpay
	a.moneyReport(&found, &violations, &dropped)                                // issue 14: money
	slices.SortStableFunc(violations[len(a.violations):], func(x, y Violation) int {
		return cmpPosition(x.Events[len(x.Events)-1].Position, y.Events[len(y.Events)-1].Position)
	})
	for _, s := range a.shows {
		r.Pending["open holds"] += int64(len(s.holds))
	}
	for k, v := range a.notAudited {
		r.NotAudited[k] = v
	}
	for i, name := range AuditChecks {
		c := AuditCheck{Name: name, Checked: a.checked[i], Violations: found[i]}
		switch {
		case name == AuditBuyerLimit && a.limits == 0:
			c.Note = "not in the log: no show event sets a per-buyer limit"
		case name == AuditRefunds && a.refunds == 0:
			c.Note = "no refund events in the log"
		case name == AuditRules && a.ruleEvents == 0:
			c.Note = "no ticket type, quota, order limit or voucher events in the log"
		}
		r.Checks = append(r.Checks, c)
	}
	r.Violations, r.Dropped = violations, dropped
	return r
}

func cmpPosition(p, q Position) int {
	switch {
	case p.Less(q):
		return -1
	case q.Less(p):
		return 1
	}
	return 0
}

// auditBatch is a run of recorded events of the log decoded together.
type auditBatch struct {
	recs      []RecordedEvent
	misplaced map[int][]string // what Auditor.sequence found, by index in recs
	events    []Event
	errs      []error
	done      chan struct{} // closed once decoded
}

// auditBatchSize is the events of one auditBatch.
const auditBatchSize = 256

// AuditFeed feeds an Auditor: it decodes the events added to it on several
// goroutines while the auditor audits those decoded before, in log order.
// It is for one goroutine to Add to, then Close.
type AuditFeed struct {
	a        *Auditor
	cur      *auditBatch
	jobs     chan *auditBatch // to decode
	order    chan *auditBatch // to audit, in log order
	finished chan struct{}
}

// Feed returns a feed into a that decodes on workers goroutines (at least
// one). Close it to get the report.
func (a *Auditor) Feed(workers int) *AuditFeed {
	workers = max(workers, 1)
	f := &AuditFeed{a: a, jobs: make(chan *auditBatch, 2*workers), order: make(chan *auditBatch, 4*workers), finished: make(chan struct{})}
	for range workers {
		go func() {
			for b := range f.jobs {
				for i, rec := range b.recs {
					b.events[i], b.errs[i] = a.registry.DecodeRecorded(rec)
				}
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(f.finished)
		for b := range f.order {
			<-b.done
			for i, rec := range b.recs {
				a.addDecoded(rec, b.events[i], b.errs[i], b.misplaced[i])
			}
		}
	}()
	return f
}

// Add audits the next event of the log, as Auditor.Add does. Where rec
// stands in the global log (Auditor.sequence) it checks at once, on the
// caller's goroutine.
func (f *AuditFeed) Add(rec RecordedEvent) {
	if f.cur == nil {
		f.cur = &auditBatch{recs: make([]RecordedEvent, 0, auditBatchSize), done: make(chan struct{})}
	}
	if wrong := f.a.sequence(rec); wrong != nil {
		if f.cur.misplaced == nil {
			f.cur.misplaced = map[int][]string{}
		}
		f.cur.misplaced[len(f.cur.recs)] = wrong
	}
	f.cur.recs = append(f.cur.recs, rec)
	if len(f.cur.recs) == auditBatchSize {
		f.flush()
	}
}

func (f *AuditFeed) flush() {
	b := f.cur
	f.cur = nil
	b.events, b.errs = make([]Event, len(b.recs)), make([]error, len(b.recs))
	f.order <- b
	f.jobs <- b
}

// Close waits until every event added is audited, stops the feed's
// goroutines and returns the auditor's report.
func (f *AuditFeed) Close() AuditReport {
	if f.cur != nil {
		f.flush()
	}
	close(f.jobs)
	close(f.order)
	<-f.finished
	return f.a.Report()
}
