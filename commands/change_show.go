package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// showChange runs a decision of a show's manager (domain.CanManage) on
// the show, under the show's lock and retried on a conflict: what editing,
// publishing and cancelling a show share.
type showChange struct {
	shows   *showRepository
	locks   *streamLocks
	retries int
}

func newShowChange(shows *showRepository, locks *streamLocks, retries int) *showChange {
	mustHave("newShowChange", shows, locks)
	return &showChange{shows: shows, locks: locks, retries: retries}
}

// run applies decide to the show id as actor, and appends what it raised.
func (h *showChange) run(ctx context.Context, actor domain.Actor, id uuid.UUID, decide func(*domain.Show) error) (Result, error) {
	defer h.locks.lock(domain.ShowStream(id))()
	var out Result
	err := retry(ctx, h.retries, func() error {
		c, err := h.shows.current(ctx, id)
		if err != nil {
			return err
		}
		s := c.show
		if !s.Exists() {
			return domain.ErrShowNotFound
		}
		if !domain.CanManage(actor, s) {
			return ErrForbidden
		}
		if err := checkIfVersion(ctx, s.Version()); err != nil { // issue 16: vocab (If-Match)
			return err
		}
		if err := decide(s); err != nil {
			h.shows.drop(id) // a failed decision may have raised part of its events
			return err
		}
		res, err := h.shows.commit(ctx, c)
		if err != nil {
			return err
		}
		out = Result{ID: id, Version: res.Version, Position: res.Position}
		return nil
	})
	return out, err
}

// timedShowChange is a showChange whose decision takes the clock's time:
// what the edit, publish and cancel commands are.
type timedShowChange struct {
	change *showChange
	now    func() time.Time
}

func newTimedShowChange(constructor string, change *showChange, now func() time.Time) timedShowChange {
	mustHave(constructor, change, now)
	return timedShowChange{change: change, now: now}
}

// run applies decide, at the clock's time, to the show id as actor.
func (h timedShowChange) run(ctx context.Context, actor domain.Actor, id uuid.UUID, decide func(s *domain.Show, now time.Time) error) (Result, error) {
	return h.change.run(ctx, actor, id, func(s *domain.Show) error { return decide(s, h.now()) })
}
