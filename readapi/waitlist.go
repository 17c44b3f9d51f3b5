package readapi

import (
	"net/http"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// readsWaitlist: the waiting lists, and the holds that tell open offers.
var readsWaitlist = reads{projections: []string{projections.NameWaitlist, projections.NameHolds}}

// myWaitlist: GET /v1/me/waitlist, where the buyer waits and their open
// offers (issue 14).
func (a *API) myWaitlist(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	l, err := a.q.WaitlistOfBuyer(r.Context(), actor.UserID)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, l)
}
