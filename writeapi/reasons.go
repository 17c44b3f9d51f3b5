package writeapi

// issue 16: vocab. Errors people can act on: every 403 says which role or
// ownership is missing; an id in the path that is not one says so.

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// forbiddenRoles say which role a route is for, by method and route
// template. Every other route refuses an actor who may not manage the
// show (domain.CanManage): not its organizer, nor an admin.
var forbiddenRoles = map[string]string{
	"POST /v1/shows":                 "only organizers create shows",
	"POST /v1/orders":                "only buyers place orders",
	"POST /v1/shows/{id}/waitlist":   "only buyers join waiting lists",
	"DELETE /v1/shows/{id}/waitlist": "only buyers leave waiting lists",
}

// explained runs h and gives a commands.ErrForbidden it fails with the
// reason of the route (forbiddenRoles) and the actor's role.
func explained(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		err := h(w, r, actor)
		var f *web.ForbiddenError
		if !errors.Is(err, commands.ErrForbidden) || errors.As(err, &f) {
			return err
		}
		route := r.URL.Path
		if cur := mux.CurrentRoute(r); cur != nil {
			if t, terr := cur.GetPathTemplate(); terr == nil {
				route = t
			}
		}
		if reason, ok := forbiddenRoles[r.Method+" "+route]; ok {
			return web.Forbidden(err, reason+": this token belongs to "+web.RoleOf(actor))
		}
		return web.Forbidden(err, "only the show's organizer or an admin may do this: this token belongs to "+
			web.RoleOf(actor)+" who does not own the show")
	}
}

// pathID returns the {id} of the path; one that is not a UUID names no
// resource: a *web.BadPathID, answered as not found.
func pathID(r *http.Request) (uuid.UUID, error) {
	s := mux.Vars(r)["id"]
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, &web.BadPathID{What: web.PathWhat(r.URL.Path), Value: s, NotFound: ErrNotFound}
	}
	return id, nil
}

// declineAdvices say what a buyer can do about a decline, by decline code.
var declineAdvices = map[string]string{
	"insufficient_funds": "the card has too little money; use another card",
	"expired_card":       "the card has expired; use another card",
	"lost_card":          "the card is reported lost; use another card",
	"stolen_card":        "the card is reported stolen; use another card",
	"incorrect_cvc":      "the security code is wrong; check it and pay again",
}

// declineAdvice says what to do about a decline with code.
func declineAdvice(code string) string {
	if a, ok := declineAdvices[code]; ok {
		return a
	}
	return "the bank gave no reason; pay with another card or ask the bank"
}
