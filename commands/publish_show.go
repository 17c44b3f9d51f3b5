package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// publishShow puts a show on sale.
type publishShow struct{ timedShowChange }

func newPublishShow(change *showChange, now func() time.Time) *publishShow {
	return &publishShow{newTimedShowChange("newPublishShow", change, now)}
}

func (h *publishShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.run(ctx, actor, id, (*domain.Show).Publish)
}
