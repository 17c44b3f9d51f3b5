package readapi

import (
	"fmt"
	"net/http"

	"github.com/ticketing/ticketing/domain"
)

// analytics: GET /v1/shows/{id}/analytics, the show's sales hour by hour,
// for its organizer and admins. A draft of another organizer does not exist
// for the actor.
func (a *API) analytics(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	s, err := a.q.Show(r.Context(), id)
	if err != nil {
		return err
	}
	if !domain.CanManageShowsOf(actor, s.OrganizerID) {
		if s.Status == string(domain.ShowStatusDraft) {
			return fmt.Errorf("%w: %s", domain.ErrShowNotFound, id)
		}
		return fmt.Errorf("%w: the analytics of show %s are its organizer's", ErrForbidden, id)
	}
	v, err := a.q.Analytics(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, v)
}
