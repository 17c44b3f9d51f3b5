package readapi

import (
	"net/http"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// issue 14: rules.

// showPage is a show as GET /v1/shows/{id} answers it: with the ticket
// types on its page (the public ones; hidden types are unlocked by
// vouchers and never listed).
type showPage struct {
	projections.ShowView
	TicketTypes []domain.TicketType `json:"ticket_types"`
}

// showRules: GET /v1/shows/{id}/rules, for the show's organizer (or an
// admin): every ticket type, the quotas with their units taken, the
// vouchers with their uses, and the per-order limits.
func (a *API) showRules(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	s, err := a.visibleShow(r, actor)
	if err != nil {
		return err
	}
	if !domain.CanManageShowsOf(actor, s.OrganizerID) {
		return forbiddenShow(actor, "rules")
	}
	rules, err := a.q.ShowRules(r.Context(), s.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, rules)
}
