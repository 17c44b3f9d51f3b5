package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// cancelShow stops a show's sales.
type cancelShow struct {
	change *showChange
	now    func() time.Time
}

func newCancelShow(change *showChange, now func() time.Time) *cancelShow {
	mustHave("newCancelShow", change, now)
	return &cancelShow{change: change, now: now}
}

func (h *cancelShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.change.run(ctx, actor, id, func(s *domain.Show) error { return s.Cancel(h.now()) })
}
