package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// What an organizer sets on a show besides its sections (issue 14): ticket
// types, quotas, per-order limits and vouchers. Each is an event on the
// show's stream, and each hold is decided against them there, so the
// show's expected version makes every count exact under concurrency.

// Limits on the rules of one show.
const (
	MaxTicketTypes  = 200       // per show
	MaxQuotas       = 50        // per show
	MaxVouchers     = 1000      // per show
	MaxVoucherUses  = 1_000_000 // of one voucher
	MaxCodeLen      = 32        // ticket type, quota and voucher codes
	MaxRuleListSize = MaxSections
)

// Voucher kinds.
const (
	VoucherPercent = "percent" // PercentOff of each unit's price it applies to
	VoucherFixed   = "fixed"   // AmountOffCents off each unit's price it applies to
	VoucherAccess  = "access"  // no discount: it unlocks hidden ticket types
)

// TicketType is a way to buy a unit of a section (adult, child, VIP), with
// its own price and optional sales window [OnSaleFrom, OnSaleUntil). A
// hidden type is sold only with a voucher that names it.
type TicketType struct {
	Code        string    `json:"code"`
	Name        string    `json:"name"`
	Section     string    `json:"section"`
	PriceCents  int64     `json:"price_cents"`
	OnSaleFrom  time.Time `json:"on_sale_from,omitzero"`
	OnSaleUntil time.Time `json:"on_sale_until,omitzero"`
	Hidden      bool      `json:"hidden,omitempty"`
}

// onSale reports whether t is on sale at now.
func (t *TicketType) onSale(now time.Time) bool {
	return (t.OnSaleFrom.IsZero() || !now.Before(t.OnSaleFrom)) && (t.OnSaleUntil.IsZero() || now.Before(t.OnSaleUntil))
}

// Quota caps the units held and sold across sections and ticket types: a
// unit counts when its section is in Sections or its type in TicketTypes.
type Quota struct {
	Code        string   `json:"code"`
	Units       int      `json:"units"`
	Sections    []string `json:"sections,omitempty"`
	TicketTypes []string `json:"ticket_types,omitempty"`
}

func (q *Quota) covers(section, typ string) bool {
	return slices.Contains(q.Sections, section) || (typ != "" && slices.Contains(q.TicketTypes, typ))
}

// QuotaUse is the units a hold takes of a quota.
type QuotaUse struct {
	Quota string `json:"quota"`
	Units int    `json:"units"`
}

// Voucher is a promo or access code. One hold (one order) is one use; the
// use is given back when the hold is released. TicketTypes, when set,
// limits it to units of those types (and unlocks those that are hidden);
// unset, a discount applies to every unit.
type Voucher struct {
	Code           string    `json:"code"`
	Kind           string    `json:"kind"`
	PercentOff     int       `json:"percent_off,omitempty"`
	AmountOffCents int64     `json:"amount_off_cents,omitempty"`
	TicketTypes    []string  `json:"ticket_types,omitempty"`
	ValidFrom      time.Time `json:"valid_from,omitzero"`
	ValidUntil     time.Time `json:"valid_until,omitzero"`
	MaxUses        int       `json:"max_uses"`
}

// appliesTo reports whether v applies to a unit of ticket type typ ("" for
// the section's own price).
func (v *Voucher) appliesTo(typ string) bool {
	if len(v.TicketTypes) == 0 {
		return v.Kind != VoucherAccess
	}
	return typ != "" && slices.Contains(v.TicketTypes, typ)
}

// Price returns the unit price after v: a percentage discount is rounded
// down to the cent (the buyer pays the cents the discount does not cover),
// a fixed discount stops at 0. Both are exact in int64 for prices up to
// MaxPriceCents.
func (v *Voucher) Price(cents int64) int64 {
	switch v.Kind {
	case VoucherPercent:
		return cents - cents*int64(v.PercentOff)/100
	case VoucherFixed:
		return max(cents-v.AmountOffCents, 0)
	}
	return cents
}

// TicketTypeSet: the organizer added a ticket type or changed one; the
// event carries the whole type. Holds made before keep their prices.
type TicketTypeSet struct {
	ShowID     uuid.UUID  `json:"show_id"`
	TicketType TicketType `json:"ticket_type"`
}

// QuotaSet: the organizer added or replaced a quota. Units already taken
// stay counted; a quota set below them admits no more holds.
type QuotaSet struct {
	ShowID uuid.UUID `json:"show_id"`
	Quota  Quota     `json:"quota"`
}

// OrderLimitsChanged: the organizer set the units one order may hold.
type OrderLimitsChanged struct {
	ShowID           uuid.UUID `json:"show_id"`
	MinUnitsPerOrder int       `json:"min_units_per_order"`
	MaxUnitsPerOrder int       `json:"max_units_per_order"`
}

// VoucherCreated: the organizer created a voucher.
type VoucherCreated struct {
	ShowID  uuid.UUID `json:"show_id"`
	Voucher Voucher   `json:"voucher"`
	At      time.Time `json:"at"`
}

// VoucherDisabled: the voucher takes no more uses; holds made with it stay.
type VoucherDisabled struct {
	ShowID uuid.UUID `json:"show_id"`
	Code   string    `json:"code"`
	At     time.Time `json:"at"`
}

func (TicketTypeSet) EventType() string      { return "show.ticket_type_set" }
func (QuotaSet) EventType() string           { return "show.quota_set" }
func (OrderLimitsChanged) EventType() string { return "show.order_limits_changed" }
func (VoucherCreated) EventType() string     { return "show.voucher_created" }
func (VoucherDisabled) EventType() string    { return "show.voucher_disabled" }

// showRules is a show's rules; nil until the first rule event, so that a
// show without rules holds exactly as before.
type showRules struct {
	types        map[string]*TicketType
	typeOrder    []string
	quotas       map[string]*quotaState
	quotaOrder   []string
	vouchers     map[string]*voucherState
	voucherOrder []string
	minPerOrder  int // 0: 1
	maxPerOrder  int // 0: MaxUnitsPerOrder
}

type quotaState struct {
	Quota
	used int // units of open holds and sales
}

type voucherState struct {
	Voucher
	disabled bool
	used     int // open holds and sales
}

func (s *Show) ensureRules() *showRules {
	if s.rules == nil {
		s.rules = &showRules{types: map[string]*TicketType{}, quotas: map[string]*quotaState{}, vouchers: map[string]*voucherState{}}
	}
	return s.rules
}

// applyRules applies the rule events; it reports false for other events.
func (s *Show) applyRules(e Event) bool {
	switch e := e.(type) {
	case TicketTypeSet:
		r := s.ensureRules()
		if _, ok := r.types[e.TicketType.Code]; !ok {
			r.typeOrder = append(r.typeOrder, e.TicketType.Code)
		}
		t := e.TicketType
		r.types[t.Code] = &t
	case QuotaSet:
		r := s.ensureRules()
		q := r.quotas[e.Quota.Code]
		if q == nil {
			q = &quotaState{}
			r.quotas[e.Quota.Code] = q
			r.quotaOrder = append(r.quotaOrder, e.Quota.Code)
		}
		q.Quota = e.Quota
	case OrderLimitsChanged:
		r := s.ensureRules()
		r.minPerOrder, r.maxPerOrder = e.MinUnitsPerOrder, e.MaxUnitsPerOrder
	case VoucherCreated:
		r := s.ensureRules()
		if _, ok := r.vouchers[e.Voucher.Code]; !ok {
			r.voucherOrder = append(r.voucherOrder, e.Voucher.Code)
		}
		r.vouchers[e.Voucher.Code] = &voucherState{Voucher: e.Voucher}
	case VoucherDisabled:
		if v := s.ensureRules().vouchers[e.Code]; v != nil {
			v.disabled = true
		}
	default:
		return false
	}
	return true
}

// countUses adds (sign 1) or gives back (sign -1) a hold's voucher use and
// quota units.
func (s *Show) countUses(voucher string, quotas []QuotaUse, sign int) {
	if s.rules == nil || (voucher == "" && len(quotas) == 0) {
		return
	}
	if v := s.rules.vouchers[voucher]; v != nil {
		v.used = max(v.used+sign, 0)
	}
	for _, u := range quotas {
		if q := s.rules.quotas[u.Quota]; q != nil {
			q.used = max(q.used+sign*u.Units, 0)
		}
	}
}

// ticketType returns the ticket type of a code, or nil.
func (s *Show) ticketType(code string) *TicketType {
	if s.rules == nil {
		return nil
	}
	return s.rules.types[code]
}

// voucher returns the voucher of a (normalized) code, or nil.
func (s *Show) voucher(code string) *voucherState {
	if s.rules == nil {
		return nil
	}
	return s.rules.vouchers[code]
}

// ruleChange checks that a show may take a rule change.
func (s *Show) ruleChange() error {
	switch {
	case !s.Exists():
		return ErrShowNotFound
	case s.Status == ShowStatusCancelled:
		return ErrShowCancelled
	}
	return nil
}

// checkCode is the rule for codes: 1 to MaxCodeLen letters, digits, '-'
// and '_'.
func checkCode(v *validator, field, code string) {
	ok := code != "" && len(code) <= MaxCodeLen
	for i := 0; ok && i < len(code); i++ {
		c := code[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	v.check(ok, field, "must be 1 to %d letters, digits, '-' or '_'", MaxCodeLen)
}

// NormalizeVoucherCode is how a voucher code is matched: case-insensitive
// (ASCII), so it is kept and looked up upper-cased.
func NormalizeVoucherCode(code string) string { return strings.ToUpper(code) }

func checkWindow(v *validator, field string, from, until time.Time) {
	v.check(from.IsZero() || until.IsZero() || from.Before(until), field, "the start must be before the end")
}

// AddTicketType raises TicketTypeSet for a new ticket type of an existing
// section. A code in use fails with ErrTicketTypeExists.
func (s *Show) AddTicketType(t TicketType) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	if s.rules != nil {
		if _, dup := s.rules.types[t.Code]; dup {
			return ErrTicketTypeExists
		}
		if len(s.rules.types) >= MaxTicketTypes {
			return &ValidationError{Fields: []FieldError{{Field: "code", Detail: fmt.Sprintf("at most %d ticket types per show", MaxTicketTypes)}}}
		}
	}
	var v validator
	checkCode(&v, "code", t.Code)
	_, ok := s.sections[t.Section]
	v.check(ok, "section", "no section named %q", t.Section)
	if err := s.checkTicketType(&v, t); err != nil {
		return err
	}
	t.OnSaleFrom, t.OnSaleUntil = utcOrZero(t.OnSaleFrom), utcOrZero(t.OnSaleUntil)
	s.raise(TicketTypeSet{ShowID: s.ID, TicketType: t})
	return nil
}

func (s *Show) checkTicketType(v *validator, t TicketType) error {
	checkText(v, "name", t.Name, MaxNameLen)
	checkPrice(v, "price_cents", t.PriceCents)
	checkWindow(v, "on_sale_until", t.OnSaleFrom, t.OnSaleUntil)
	return v.err()
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// TicketTypePatch changes a ticket type; nil fields stay as they are. The
// section of a type never changes.
type TicketTypePatch struct {
	Name        *string
	PriceCents  *int64
	OnSaleFrom  *time.Time
	OnSaleUntil *time.Time
	Hidden      *bool
}

// ChangeTicketType raises TicketTypeSet with the patched type, or nothing
// when nothing changes. An unknown code fails with ErrTicketTypeNotFound.
func (s *Show) ChangeTicketType(code string, p TicketTypePatch) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	old := s.ticketType(code)
	if old == nil {
		return ErrTicketTypeNotFound
	}
	t := *old
	setIf(&t.Name, p.Name)
	setIf(&t.PriceCents, p.PriceCents)
	setIf(&t.OnSaleFrom, p.OnSaleFrom)
	setIf(&t.OnSaleUntil, p.OnSaleUntil)
	setIf(&t.Hidden, p.Hidden)
	var v validator
	if err := s.checkTicketType(&v, t); err != nil {
		return err
	}
	t.OnSaleFrom, t.OnSaleUntil = utcOrZero(t.OnSaleFrom), utcOrZero(t.OnSaleUntil)
	if t == *old {
		return nil
	}
	s.raise(TicketTypeSet{ShowID: s.ID, TicketType: t})
	return nil
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// SetQuota raises QuotaSet: a new quota, or a new shape for one in use.
func (s *Show) SetQuota(q Quota) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	var v validator
	checkCode(&v, "code", q.Code)
	v.check(q.Units >= 1 && q.Units <= MaxUnitsPerShow, "units", "must be between 1 and %d", MaxUnitsPerShow)
	v.check(len(q.Sections)+len(q.TicketTypes) > 0, "sections", "name at least one section or ticket type")
	if len(q.Sections) > MaxSections || len(q.TicketTypes) > MaxTicketTypes {
		v.check(false, "sections", "at most %d sections and %d ticket types", MaxSections, MaxTicketTypes)
		return v.err()
	}
	for i, n := range q.Sections {
		_, ok := s.sections[n]
		v.check(ok, fmt.Sprintf("sections[%d]", i), "no section named %q", n)
		v.check(!slices.Contains(q.Sections[:i], n), fmt.Sprintf("sections[%d]", i), "section %q named twice", n)
	}
	for i, c := range q.TicketTypes {
		v.check(s.ticketType(c) != nil, fmt.Sprintf("ticket_types[%d]", i), "no ticket type %q", c)
		v.check(!slices.Contains(q.TicketTypes[:i], c), fmt.Sprintf("ticket_types[%d]", i), "ticket type %q named twice", c)
	}
	if s.rules != nil && s.rules.quotas[q.Code] == nil && len(s.rules.quotas) >= MaxQuotas {
		v.check(false, "code", "at most %d quotas per show", MaxQuotas)
	}
	if err := v.err(); err != nil {
		return err
	}
	if s.rules != nil {
		if old := s.rules.quotas[q.Code]; old != nil && old.Units == q.Units && slices.Equal(old.Sections, q.Sections) &&
			slices.Equal(old.TicketTypes, q.TicketTypes) {
			return nil
		}
	}
	s.raise(QuotaSet{ShowID: s.ID, Quota: q})
	return nil
}

// SetOrderLimits raises OrderLimitsChanged: every later hold has between
// min and max units (1 ≤ min ≤ max ≤ MaxUnitsPerOrder).
func (s *Show) SetOrderLimits(min, max int) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	var v validator
	v.check(min >= 1 && min <= MaxUnitsPerOrder, "min_units_per_order", "must be between 1 and %d", MaxUnitsPerOrder)
	v.check(max >= 1 && max <= MaxUnitsPerOrder, "max_units_per_order", "must be between 1 and %d", MaxUnitsPerOrder)
	v.check(min <= max, "min_units_per_order", "must be at most max_units_per_order")
	if err := v.err(); err != nil {
		return err
	}
	if lo, hi := s.OrderLimits(); lo == min && hi == max {
		return nil
	}
	s.raise(OrderLimitsChanged{ShowID: s.ID, MinUnitsPerOrder: min, MaxUnitsPerOrder: max})
	return nil
}

// OrderLimits returns the fewest and most units one order may hold.
func (s *Show) OrderLimits() (min, max int) {
	min, max = 1, MaxUnitsPerOrder
	if s.rules != nil && s.rules.maxPerOrder > 0 {
		min, max = s.rules.minPerOrder, s.rules.maxPerOrder
	}
	return min, max
}

// CreateVoucher raises VoucherCreated. The code is matched without regard
// to case; one in use fails with ErrVoucherExists.
func (s *Show) CreateVoucher(vc Voucher, now time.Time) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	vc.Code = NormalizeVoucherCode(vc.Code)
	if s.voucher(vc.Code) != nil {
		return ErrVoucherExists
	}
	var v validator
	checkCode(&v, "code", vc.Code)
	switch vc.Kind {
	case VoucherPercent:
		v.check(vc.PercentOff >= 1 && vc.PercentOff <= 100, "percent_off", "must be between 1 and 100")
		v.check(vc.AmountOffCents == 0, "amount_off_cents", "a percent voucher takes percent_off")
	case VoucherFixed:
		v.check(vc.AmountOffCents >= 1 && vc.AmountOffCents <= MaxPriceCents, "amount_off_cents", "must be between 1 and %d", MaxPriceCents)
		v.check(vc.PercentOff == 0, "percent_off", "a fixed voucher takes amount_off_cents")
	case VoucherAccess:
		v.check(len(vc.TicketTypes) > 0, "ticket_types", "an access voucher names the ticket types it unlocks")
		v.check(vc.PercentOff == 0 && vc.AmountOffCents == 0, "kind", "an access voucher gives no discount")
	default:
		v.check(false, "kind", "must be %q, %q or %q", VoucherPercent, VoucherFixed, VoucherAccess)
	}
	v.check(vc.MaxUses >= 1 && vc.MaxUses <= MaxVoucherUses, "max_uses", "must be between 1 and %d", MaxVoucherUses)
	checkWindow(&v, "valid_until", vc.ValidFrom, vc.ValidUntil)
	v.check(len(vc.TicketTypes) <= MaxTicketTypes, "ticket_types", "at most %d", MaxTicketTypes)
	for i, c := range vc.TicketTypes {
		if i >= MaxTicketTypes {
			break
		}
		v.check(s.ticketType(c) != nil, fmt.Sprintf("ticket_types[%d]", i), "no ticket type %q", c)
	}
	v.check(s.rules == nil || len(s.rules.vouchers) < MaxVouchers, "code", "at most %d vouchers per show", MaxVouchers)
	if err := v.err(); err != nil {
		return err
	}
	vc.ValidFrom, vc.ValidUntil = utcOrZero(vc.ValidFrom), utcOrZero(vc.ValidUntil)
	s.raise(VoucherCreated{ShowID: s.ID, Voucher: vc, At: now.UTC()})
	return nil
}

// DisableVoucher raises VoucherDisabled; a disabled voucher raises nothing.
func (s *Show) DisableVoucher(code string, now time.Time) error {
	if err := s.ruleChange(); err != nil {
		return err
	}
	code = NormalizeVoucherCode(code)
	vs := s.voucher(code)
	switch {
	case vs == nil:
		return ErrVoucherNotFound
	case vs.disabled:
		return nil
	}
	s.raise(VoucherDisabled{ShowID: s.ID, Code: code, At: now.UTC()})
	return nil
}

// itemType resolves the ticket type an item or seat names in section
// (section "" takes the type's): it returns the section and the type's
// price, or records a field error. A hidden type is checked later, with
// the voucher.
func (s *Show) itemType(v *validator, field, section, code string) (string, *TicketType) {
	t := s.ticketType(code)
	if t == nil {
		v.check(false, field+".ticket_type", "no ticket type %q", code)
		return section, nil
	}
	if section == "" {
		section = t.Section
	}
	v.check(section == t.Section, field+".ticket_type", "ticket type %q is not of section %q", code, section)
	return section, t
}

// decideRules prices a valid hold by its ticket types and voucher and
// takes its quota units, or refuses it: a hidden type without its voucher
// (*ValidationError), a type off sale (*TicketTypeOffSaleError), a voucher
// unknown, disabled, out of its window or that applies to nothing
// (*VoucherError), used up (*VoucherUsedUpError), or a quota short of
// units (*QuotaError). O(units × quotas), allocation-free but for e.Quotas.
func (s *Show) decideRules(e *SeatsHeld, voucher string, now time.Time) error {
	var vs *voucherState
	if voucher != "" {
		var err error
		if vs, err = s.voucherFor(voucher, now); err != nil {
			return err
		}
		e.Voucher = vs.Code
	}
	applied := false
	for i := range e.Items {
		it := &e.Items[i]
		p, ok, err := s.unitPrice(it.TicketType, it.UnitPriceCents, vs, now)
		if err != nil {
			return err
		}
		it.UnitPriceCents, applied = p, applied || ok
	}
	for i := range e.Seats {
		st := &e.Seats[i]
		p, ok, err := s.unitPrice(st.TicketType, st.PriceCents, vs, now)
		if err != nil {
			return err
		}
		st.PriceCents, applied = p, applied || ok
	}
	if vs != nil && !applied {
		return &VoucherError{Code: vs.Code, Reason: "does not apply to the units of this order"}
	}
	return s.takeQuotas(e)
}

// voucherFor returns the voucher a hold names, if it can be used at now.
func (s *Show) voucherFor(code string, now time.Time) (*voucherState, error) {
	code = NormalizeVoucherCode(code)
	vs := s.voucher(code)
	switch {
	case vs == nil:
		return nil, &VoucherError{Code: code, Reason: "is not a voucher of this show"}
	case vs.disabled:
		return nil, &VoucherError{Code: code, Reason: "is disabled"}
	case !vs.ValidFrom.IsZero() && now.Before(vs.ValidFrom):
		return nil, &VoucherError{Code: code, Reason: "is not valid yet"}
	case !vs.ValidUntil.IsZero() && !now.Before(vs.ValidUntil):
		return nil, &VoucherError{Code: code, Reason: "has expired"}
	case vs.used >= vs.MaxUses:
		return nil, &VoucherUsedUpError{Code: code, MaxUses: vs.MaxUses}
	}
	return vs, nil
}

// unitPrice is the price of a unit of type code (section price base for
// none) with voucher vs; applied reports that vs applies to it.
func (s *Show) unitPrice(code string, base int64, vs *voucherState, now time.Time) (price int64, applied bool, err error) {
	price = base
	if code != "" {
		t := s.rules.types[code] // checked by itemType
		unlocked := vs != nil && slices.Contains(vs.TicketTypes, code)
		switch {
		case t.Hidden && !unlocked:
			return 0, false, &ValidationError{Fields: []FieldError{{Field: "ticket_type", Detail: fmt.Sprintf("no ticket type %q", code)}}}
		case !t.onSale(now):
			return 0, false, &TicketTypeOffSaleError{Code: code, From: t.OnSaleFrom, Until: t.OnSaleUntil}
		}
		price = t.PriceCents
	}
	if vs != nil && vs.appliesTo(code) {
		return vs.Price(price), true, nil
	}
	return price, false, nil
}

// takeQuotas records the units a hold takes of each quota, or refuses it
// when one has too few left.
func (s *Show) takeQuotas(e *SeatsHeld) error {
	if s.rules == nil {
		return nil
	}
	for _, code := range s.rules.quotaOrder {
		q := s.rules.quotas[code]
		n := 0
		for _, it := range e.Items {
			if q.covers(it.Section, it.TicketType) {
				n += it.Quantity
			}
		}
		for _, st := range e.Seats {
			if q.covers(st.Section, st.TicketType) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		if n > q.Units-q.used {
			return &QuotaError{Quota: code, Units: q.Units, Taken: q.used, Asked: n}
		}
		e.Quotas = append(e.Quotas, QuotaUse{Quota: code, Units: n})
	}
	return nil
}

// checkOrderLimits refuses a hold of fewer or more units than the show's
// per-order limits.
func (s *Show) checkOrderLimits(units int) error {
	if s.rules == nil || s.rules.maxPerOrder == 0 {
		return nil
	}
	if lo, hi := s.OrderLimits(); units < lo || units > hi {
		return &OrderLimitError{Min: lo, Max: hi, Asked: units}
	}
	return nil
}

// TicketTypes returns the show's ticket types in creation order; hidden
// ones only when hidden is true.
func (s *Show) TicketTypes(hidden bool) []TicketType {
	if s.rules == nil {
		return nil
	}
	out := make([]TicketType, 0, len(s.rules.typeOrder))
	for _, c := range s.rules.typeOrder {
		if t := s.rules.types[c]; hidden || !t.Hidden {
			out = append(out, *t)
		}
	}
	return out
}

// QuotaState is a quota and the units taken of it.
type QuotaState struct {
	Quota
	Taken int `json:"taken"`
}

// VoucherState is a voucher, whether it is disabled, and its uses.
type VoucherState struct {
	Voucher
	Disabled bool `json:"disabled"`
	Uses     int  `json:"uses"`
}

// Quotas returns the show's quotas with their units taken.
func (s *Show) Quotas() []QuotaState {
	if s.rules == nil {
		return nil
	}
	out := make([]QuotaState, 0, len(s.rules.quotaOrder))
	for _, c := range s.rules.quotaOrder {
		q := s.rules.quotas[c]
		out = append(out, QuotaState{Quota: q.Quota, Taken: q.used})
	}
	return out
}

// Vouchers returns the show's vouchers with their uses.
func (s *Show) Vouchers() []VoucherState {
	if s.rules == nil {
		return nil
	}
	out := make([]VoucherState, 0, len(s.rules.voucherOrder))
	for _, c := range s.rules.voucherOrder {
		v := s.rules.vouchers[c]
		out = append(out, VoucherState{Voucher: v.Voucher, Disabled: v.disabled, Uses: v.used})
	}
	return out
}

// RulesSnapshot is the state of a show's rules in a ShowSnapshot.
type RulesSnapshot struct {
	TicketTypes      []TicketType   `json:"ticket_types,omitempty"`
	Quotas           []QuotaState   `json:"quotas,omitempty"`
	Vouchers         []VoucherState `json:"vouchers,omitempty"`
	MinUnitsPerOrder int            `json:"min_units_per_order,omitempty"`
	MaxUnitsPerOrder int            `json:"max_units_per_order,omitempty"`
}

func (s *Show) snapshotRules() *RulesSnapshot {
	if s.rules == nil {
		return nil
	}
	return &RulesSnapshot{TicketTypes: s.TicketTypes(true), Quotas: s.Quotas(), Vouchers: s.Vouchers(),
		MinUnitsPerOrder: s.rules.minPerOrder, MaxUnitsPerOrder: s.rules.maxPerOrder}
}

func (s *Show) restoreRules(snap *RulesSnapshot) {
	if snap == nil {
		return
	}
	r := s.ensureRules()
	for _, t := range snap.TicketTypes {
		s.applyRules(TicketTypeSet{TicketType: t})
	}
	for _, q := range snap.Quotas {
		s.applyRules(QuotaSet{Quota: q.Quota})
		r.quotas[q.Code].used = q.Taken
	}
	for _, v := range snap.Vouchers {
		s.applyRules(VoucherCreated{Voucher: v.Voucher})
		r.vouchers[v.Code].used, r.vouchers[v.Code].disabled = v.Uses, v.Disabled
	}
	r.minPerOrder, r.maxPerOrder = snap.MinUnitsPerOrder, snap.MaxUnitsPerOrder
}

// HoldRules is the voucher use and quota units of an open hold.
type HoldRules struct {
	Voucher string     `json:"voucher,omitempty"`
	Quotas  []QuotaUse `json:"quotas,omitempty"`
}

func holdRules(voucher string, quotas []QuotaUse) *HoldRules {
	if voucher == "" && len(quotas) == 0 {
		return nil
	}
	return &HoldRules{Voucher: voucher, Quotas: quotas}
}

func (r *HoldRules) voucher() string {
	if r == nil {
		return ""
	}
	return r.Voucher
}

func (r *HoldRules) quotas() []QuotaUse {
	if r == nil {
		return nil
	}
	return r.Quotas
}
