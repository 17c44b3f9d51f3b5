package readapi

import (
	"net/http"

	"github.com/ticketing/ticketing/domain"
)

// analytics: GET /v1/shows/{id}/analytics, the show's sales hour by hour,
// for its organizer and admins. A draft of another organizer does not exist
// for the actor.
func (a *API) analytics(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	return managedView(a, "analytics", a.q.Analytics)(w, r, actor)
}
