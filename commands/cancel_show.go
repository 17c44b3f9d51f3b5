package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// cancelShow stops a show's sales.
type cancelShow struct{ timedShowChange }

func newCancelShow(change *showChange, now func() time.Time) *cancelShow {
	return &cancelShow{newTimedShowChange("newCancelShow", change, now)}
}

func (h *cancelShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.run(ctx, actor, id, (*domain.Show).Cancel)
}
