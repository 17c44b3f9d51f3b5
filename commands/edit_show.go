package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// editShow changes a show's details, prices and per-buyer limit.
type editShow struct{ timedShowChange }

func newEditShow(change *showChange, now func() time.Time) *editShow {
	return &editShow{newTimedShowChange("newEditShow", change, now)}
}

func (h *editShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID, c domain.EditShow) (Result, error) {
	return h.run(ctx, actor, id, func(s *domain.Show, now time.Time) error { return s.Edit(c, now) })
}
