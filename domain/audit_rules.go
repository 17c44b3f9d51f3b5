package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// The Auditor's part of the show's rules (issue 14: rules): ticket types,
// quotas, per-order limits and vouchers. It checks every hold against the
// rules in force when it was made: its prices are its types' (or its
// sections') after its voucher, its voucher was usable and had a use left,
// its quota units are those its units take and no quota is ever exceeded,
// and its units are within the per-order limits.

// AuditRules: quotas and voucher uses are never exceeded, holds take the
// quota units and voucher use their units and code call for, within the
// per-order limits and the windows of their types and voucher.
const AuditRules = "rules"

type auditRules struct {
	types    map[string]TicketType
	quotas   map[string]*auditQuota
	vouchers map[string]*auditVoucher
	min, max int // per order; max 0: none set
}

type auditQuota struct {
	Quota
	taken int64
}

type auditVoucher struct {
	Voucher
	disabled bool
	uses     int64
}

// ruleEvent records a rule event of a show.
func (a *Auditor) ruleEvent(ref EventRef, e Event) {
	s := a.showEvent(ref, ruleShow(e))
	if s == nil {
		return
	}
	a.ruleEvents++
	if s.rules == nil {
		s.rules = &auditRules{types: map[string]TicketType{}, quotas: map[string]*auditQuota{}, vouchers: map[string]*auditVoucher{}}
	}
	r := s.rules
	switch e := e.(type) {
	case TicketTypeSet:
		r.types[e.TicketType.Code] = e.TicketType
	case QuotaSet:
		if q := r.quotas[e.Quota.Code]; q != nil {
			q.Quota = e.Quota
		} else {
			r.quotas[e.Quota.Code] = &auditQuota{Quota: e.Quota}
		}
	case OrderLimitsChanged:
		r.min, r.max = e.MinUnitsPerOrder, e.MaxUnitsPerOrder
	case VoucherCreated:
		a.checked[cRules]++
		if r.vouchers[e.Voucher.Code] != nil {
			a.violate(cRules, fmt.Sprintf("voucher %q created twice", e.Voucher.Code), ref)
			return
		}
		r.vouchers[e.Voucher.Code] = &auditVoucher{Voucher: e.Voucher}
	case VoucherDisabled:
		if v := r.vouchers[e.Code]; v != nil {
			v.disabled = true
		}
	}
}

// ruleVoucher returns the voucher a hold used, or nil; it checks that the
// voucher could be used then and counts the use.
func (a *Auditor) ruleVoucher(ref EventRef, s *auditShow, e SeatsHeld) *auditVoucher {
	if e.Voucher == "" {
		return nil
	}
	a.checked[cRules]++
	var v *auditVoucher
	if s.rules != nil {
		v = s.rules.vouchers[e.Voucher]
	}
	switch {
	case v == nil:
		a.violate(cRules, fmt.Sprintf("a hold with voucher %q, which the show does not have", e.Voucher), ref)
		return nil
	case v.disabled:
		a.violate(cRules, fmt.Sprintf("a hold with voucher %q, which is disabled", e.Voucher), ref)
	case (!v.ValidFrom.IsZero() && e.HeldAt.Before(v.ValidFrom)) || (!v.ValidUntil.IsZero() && !e.HeldAt.Before(v.ValidUntil)):
		a.violate(cRules, fmt.Sprintf("a hold with voucher %q outside its validity", e.Voucher), ref)
	}
	v.uses++
	if v.uses > int64(v.MaxUses) {
		a.violate(cRules, fmt.Sprintf("voucher %q used %d times, at most %d", e.Voucher, v.uses, v.MaxUses), ref)
	}
	return v
}

// rulePrice returns the price a unit of section sec and ticket type typ
// must be held at with voucher v, and checks that the type could be sold.
func (a *Auditor) rulePrice(ref EventRef, s *auditShow, section string, sec *auditSection, typ string, v *auditVoucher, e SeatsHeld) int64 {
	price := sec.price
	if typ != "" {
		var t TicketType
		ok := s.rules != nil
		if ok {
			t, ok = s.rules.types[typ]
		}
		a.checked[cRules]++
		switch {
		case !ok || t.Section != section:
			a.violate(cHolds, fmt.Sprintf("a unit of section %q held as ticket type %q, which it does not have", section, typ), ref)
			return -1
		case t.Hidden && (v == nil || !slices.Contains(v.TicketTypes, typ)):
			a.violate(cRules, fmt.Sprintf("hidden ticket type %q held without a voucher that unlocks it", typ), ref)
		case !t.onSale(e.HeldAt):
			a.violate(cRules, fmt.Sprintf("ticket type %q held outside its sales window", typ), ref)
		}
		price = t.PriceCents
	}
	if v != nil && v.appliesTo(typ) {
		price = v.Price(price)
	}
	return price
}

// ruleQuotas checks the quota units and per-order limits of a hold and
// counts its units in each quota.
func (a *Auditor) ruleQuotas(ref EventRef, s *auditShow, e SeatsHeld, units int64) {
	r := s.rules
	if r == nil {
		if len(e.Quotas) > 0 {
			a.checked[cRules]++
			a.violate(cRules, "a hold takes quota units of a show without quotas", ref)
		}
		return
	}
	if r.max > 0 {
		a.checked[cRules]++
		if units < int64(r.min) || units > int64(r.max) {
			a.violate(cRules, fmt.Sprintf("%d units in one hold, the show allows %d to %d", units, r.min, r.max), ref)
		}
	}
	for code, q := range r.quotas {
		var n int64
		for _, it := range e.Items {
			if q.covers(it.Section, it.TicketType) && it.Quantity > 0 {
				n += int64(it.Quantity)
			}
		}
		for _, st := range e.Seats {
			if q.covers(st.Section, st.TicketType) {
				n++
			}
		}
		a.checked[cRules]++
		if got := quotaUnits(e.Quotas, code); got != n {
			a.violate(cRules, fmt.Sprintf("the hold takes %d units of quota %q, its units are %d", got, code, n), ref)
		}
		q.taken += n
		if q.taken > int64(q.Units) {
			a.violate(cRules, fmt.Sprintf("quota %q: %d units taken, at most %d", code, q.taken, q.Units), ref)
		}
	}
}

func quotaUnits(uses []QuotaUse, code string) int64 {
	var n int64
	for _, u := range uses {
		if u.Quota == code {
			n += int64(u.Units)
		}
	}
	return n
}

// ruleRelease gives back the voucher use and quota units of a released
// hold, which the release must name as the hold did.
func (a *Auditor) ruleRelease(ref EventRef, s *auditShow, h *auditHold, e SeatsReleased) {
	if h == nil || s.rules == nil {
		return
	}
	a.checked[cRules]++
	if e.Voucher != h.voucher || !slices.Equal(e.Quotas, h.quotas) {
		a.violate(cRules, "a release names other voucher uses or quota units than its hold", h.ref, ref)
	}
	if v := s.rules.vouchers[h.voucher]; v != nil {
		v.uses--
	}
	for _, u := range h.quotas {
		if q := s.rules.quotas[u.Quota]; q != nil {
			q.taken -= int64(u.Units)
		}
	}
}

// ruleReturn gives back the quota units of a restocking refund's units,
// which the return must name as a release would: each quota gets back the
// returned units it covers, at most the units taken of it.
func (a *Auditor) ruleReturn(ref EventRef, s *auditShow, e SeatsReturned) {
	r := s.rules
	if r == nil {
		if len(e.Quotas) > 0 {
			a.checked[cRules]++
			a.violate(cRules, "a return gives back quota units of a show without quotas", ref)
		}
		return
	}
	for _, u := range e.Quotas {
		if r.quotas[u.Quota] == nil {
			a.checked[cRules]++
			a.violate(cRules, fmt.Sprintf("a return gives back units of quota %q, which the show does not have", u.Quota), ref)
		}
	}
	for code, q := range r.quotas {
		n := min(int64(quotaCovered(&q.Quota, e.Items, e.Seats)), max(q.taken, 0))
		a.checked[cRules]++
		if got := quotaUnits(e.Quotas, code); got != n {
			a.violate(cRules, fmt.Sprintf("the return gives back %d units of quota %q, its units are %d", got, code, n), ref)
		}
		q.taken -= n
	}
}

// ruleShow returns the show of a rule event.
func ruleShow(e Event) uuid.UUID {
	switch e := e.(type) {
	case TicketTypeSet:
		return e.ShowID
	case QuotaSet:
		return e.ShowID
	case OrderLimitsChanged:
		return e.ShowID
	case VoucherCreated:
		return e.ShowID
	case VoucherDisabled:
		return e.ShowID
	}
	return uuid.Nil
}
