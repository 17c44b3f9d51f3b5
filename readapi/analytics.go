package readapi

import (
	"net/http"

	"github.com/ticketing/ticketing/domain"
)

// analytics: GET /v1/shows/{id}/analytics, the show's sales hour by hour,
// for its organizer and admins. A draft of another organizer does not exist
// for the actor.
func (a *API) analytics(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := a.managedShow(r, actor, "analytics")
	if err != nil {
		return err
	}
	v, err := a.q.Analytics(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, v)
}
