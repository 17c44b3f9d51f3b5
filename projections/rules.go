package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Kinds of rows of rm_show_rules (issue 14: rules).
const (
	RuleTicketType  = "ticket_type"
	RuleQuota       = "quota"
	RuleVoucher     = "voucher"
	RuleOrderLimits = "order_limits"
)

// applyRule projects a rule event of a show into rm_show_rules.
func applyRule(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	seq, err := seqOf(rec)
	if err != nil {
		return err
	}
	var show uuid.UUID
	var kind, code string
	var spec any
	switch e := e.(type) {
	case domain.TicketTypeSet:
		show, kind, code, spec = e.ShowID, RuleTicketType, e.TicketType.Code, e.TicketType
	case domain.QuotaSet:
		show, kind, code, spec = e.ShowID, RuleQuota, e.Quota.Code, e.Quota
	case domain.VoucherCreated:
		show, kind, code, spec = e.ShowID, RuleVoucher, e.Voucher.Code, e.Voucher
	case domain.OrderLimitsChanged:
		show, kind, spec = e.ShowID, RuleOrderLimits, e
	case domain.VoucherDisabled:
		return db.Exec(ctx, `update rm_show_rules set disabled = true where show_id = $1 and kind = $2 and code = $3`,
			e.ShowID, RuleVoucher, e.Code)
	default:
		return nil
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	// A rule of a show the projection does not have changes nothing.
	return db.Exec(ctx, `insert into rm_show_rules (show_id, kind, code, seq, spec)
		select $1, $2, $3, $4, $5::json where exists (select 1 from rm_shows where id = $1)
		on conflict (show_id, kind, code) do update set spec = excluded.spec`,
		show, kind, code, seq, string(raw))
}

// hasRuleUses reports whether a hold or release takes or gives back
// voucher uses or quota units; the batched path leaves those to Apply.
func hasRuleUses(e domain.Event) bool {
	switch e := e.(type) {
	case domain.SeatsHeld:
		return e.Voucher != "" || len(e.Quotas) > 0
	case domain.SeatsReleased:
		return e.Voucher != "" || len(e.Quotas) > 0
	}
	return false
}

// moveRuleUses adds (sign 1) or takes back (sign -1) a hold's voucher use
// and quota units.
func moveRuleUses(ctx context.Context, db DB, show uuid.UUID, voucher string, quotas []domain.QuotaUse, sign int64) error {
	kinds, codes, deltas := []string{}, []string{}, []int64{}
	if voucher != "" {
		kinds, codes, deltas = append(kinds, RuleVoucher), append(codes, voucher), append(deltas, sign)
	}
	for _, q := range quotas {
		kinds, codes, deltas = append(kinds, RuleQuota), append(codes, q.Quota), append(deltas, sign*int64(quantity(q.Units)))
	}
	if len(kinds) == 0 {
		return nil
	}
	return db.Exec(ctx, `update rm_show_rules r set used = r.used + d.delta
		from unnest($2::text[], $3::text[], $4::bigint[]) as d(kind, code, delta)
		where r.show_id = $1 and r.kind = d.kind and r.code = d.code`, show, kinds, codes, deltas)
}

// RulesView is what an organizer set on a show, with the units taken of
// each quota and the uses of each voucher.
type RulesView struct {
	TicketTypes      []domain.TicketType   `json:"ticket_types"`
	Quotas           []domain.QuotaState   `json:"quotas"`
	Vouchers         []domain.VoucherState `json:"vouchers"`
	MinUnitsPerOrder int                   `json:"min_units_per_order"`
	MaxUnitsPerOrder int                   `json:"max_units_per_order"`
}

// ShowRules returns the rules of a show, every ticket type included; a
// show without rules has empty lists and the default per-order limits.
func (q *Queries) ShowRules(ctx context.Context, id uuid.UUID) (RulesView, error) {
	v := RulesView{TicketTypes: []domain.TicketType{}, Quotas: []domain.QuotaState{}, Vouchers: []domain.VoucherState{},
		MinUnitsPerOrder: 1, MaxUnitsPerOrder: domain.MaxUnitsPerOrder}
	rows, err := q.db.Query(ctx, `select kind, spec::text, used, disabled from rm_show_rules where show_id = $1 order by seq, code`, id)
	if err != nil {
		return RulesView{}, fmt.Errorf("query rules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, spec string
		var used int64
		var disabled bool
		if err := rows.Scan(&kind, &spec, &used, &disabled); err != nil {
			return RulesView{}, fmt.Errorf("query rules: %w", err)
		}
		if err := v.add(kind, []byte(spec), int(used), disabled); err != nil {
			return RulesView{}, fmt.Errorf("query rules: %w", err)
		}
	}
	return v, rows.Err()
}

func (v *RulesView) add(kind string, spec []byte, used int, disabled bool) error {
	switch kind {
	case RuleTicketType:
		var t domain.TicketType
		if err := json.Unmarshal(spec, &t); err != nil {
			return err
		}
		v.TicketTypes = append(v.TicketTypes, t)
	case RuleQuota:
		var qs domain.QuotaState
		if err := json.Unmarshal(spec, &qs.Quota); err != nil {
			return err
		}
		qs.Taken = used
		v.Quotas = append(v.Quotas, qs)
	case RuleVoucher:
		var vs domain.VoucherState
		if err := json.Unmarshal(spec, &vs.Voucher); err != nil {
			return err
		}
		vs.Uses, vs.Disabled = used, disabled
		v.Vouchers = append(v.Vouchers, vs)
	case RuleOrderLimits:
		var e domain.OrderLimitsChanged
		if err := json.Unmarshal(spec, &e); err != nil {
			return err
		}
		v.MinUnitsPerOrder, v.MaxUnitsPerOrder = e.MinUnitsPerOrder, e.MaxUnitsPerOrder
	}
	return nil
}

// PublicTicketTypes returns the ticket types of a show that are not
// hidden, as its page lists them.
func (v RulesView) PublicTicketTypes() []domain.TicketType {
	out := []domain.TicketType{}
	for _, t := range v.TicketTypes {
		if !t.Hidden {
			out = append(out, t)
		}
	}
	return out
}
