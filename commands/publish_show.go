package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// publishShow puts a show on sale.
type publishShow struct {
	change *showChange
	now    func() time.Time
}

func newPublishShow(change *showChange, now func() time.Time) *publishShow {
	mustHave("newPublishShow", change, now)
	return &publishShow{change: change, now: now}
}

func (h *publishShow) handle(ctx context.Context, actor domain.Actor, id uuid.UUID) (Result, error) {
	return h.change.run(ctx, actor, id, func(s *domain.Show) error { return s.Publish(h.now()) })
}
