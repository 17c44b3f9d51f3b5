package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// createShow creates draft shows.
type createShow struct {
	events *eventLog
	live   LiveShows // nil: no show quota
	now    func() time.Time
	newID  func() uuid.UUID
}

// newCreateShow returns the handler of CreateShow; live may be nil, for no
// show quota.
func newCreateShow(events *eventLog, live LiveShows, now func() time.Time, newID func() uuid.UUID) *createShow {
	mustHave("newCreateShow", events, now, newID)
	return &createShow{events: events, live: live, now: now, newID: newID}
}

// handle creates a draft show owned by the organizer actor. With
// h.live set, an organizer at domain.MaxLiveShowsPerOrganizer live shows
// gets domain.ErrShowQuota. The quota is not exact: the count comes from a
// read model, so shows created meanwhile, or not projected yet, may take an
// organizer past it by as many.
func (h *createShow) handle(ctx context.Context, actor domain.Actor, c domain.CreateShow) (Result, error) {
	if actor.Role != domain.RoleOrganizer {
		return Result{}, ErrForbidden
	}
	c.ShowID = h.newID()
	c.OrganizerID = actor.UserID
	s := domain.NewShow()
	if err := s.Create(c, h.now()); err != nil {
		return Result{}, err
	}
	if h.live != nil {
		live, err := h.live.LiveShows(ctx, actor.UserID, h.now())
		if err != nil {
			return Result{}, err
		}
		if err := domain.CheckShowQuota(live); err != nil {
			return Result{}, err
		}
	}
	res, err := h.events.save(ctx, domain.ShowStream(c.ShowID), domain.NoStream, s.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{ID: c.ShowID, Version: res.Version, Position: res.Position}, nil
}
