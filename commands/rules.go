package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// changeRules runs the organizer's rule changes of a show (issue 14):
// ticket types, quotas, per-order limits and vouchers, each decided on the
// show's stream under its lock and expected version.
type changeRules struct {
	change *showChange
	now    func() time.Time
}

func newChangeRules(change *showChange, now func() time.Time) *changeRules {
	mustHave("newChangeRules", change, now)
	return &changeRules{change: change, now: now}
}

func (h *changeRules) run(ctx context.Context, actor domain.Actor, id uuid.UUID, decide func(*domain.Show, time.Time) error) (Result, error) {
	return h.change.run(ctx, actor, id, func(s *domain.Show) error { return decide(s, h.now()) })
}

func (h *changeRules) addTicketType(t domain.TicketType) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, _ time.Time) error { return s.AddTicketType(t) }
}

func (h *changeRules) changeTicketType(code string, p domain.TicketTypePatch) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, _ time.Time) error { return s.ChangeTicketType(code, p) }
}

func (h *changeRules) setQuota(q domain.Quota) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, _ time.Time) error { return s.SetQuota(q) }
}

func (h *changeRules) setOrderLimits(min, max int) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, _ time.Time) error { return s.SetOrderLimits(min, max) }
}

func (h *changeRules) createVoucher(v domain.Voucher) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, now time.Time) error { return s.CreateVoucher(v, now) }
}

func (h *changeRules) disableVoucher(code string) func(*domain.Show, time.Time) error {
	return func(s *domain.Show, now time.Time) error { return s.DisableVoucher(code, now) }
}
