package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// editShow changes a show's details, prices and per-buyer limit.
type editShow struct {
	change *showChange
	now    func() time.Time
}

func newEditShow(change *showChange, now func() time.Time) *editShow {
	mustHave("newEditShow", change, now)
	return &editShow{change: change, now: now}
}

func (h *editShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.EditShow) (Result, error) {
	return h.change.run(ctx, actor, id, func(s *domain.Show) error { return s.Edit(c, h.now()) })
}
