package readapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// Issue 14 (door): ticket codes in the buyers' views, and the organizer's
// attendee and order lists of a show.

// readsShowOrders: the attendee and order lists read the orders of one show.
var readsShowOrders = reads{projections: []string{projections.NameShows, projections.NameOrders}, stream: domain.ShowStream}

// WithTicketCodes has the API show each ticket's code to its holder,
// computed with c (codes are never stored); without it, codes are empty.
// It returns a.
func (a *API) WithTicketCodes(c *domain.TicketCodes) *API {
	a.codes = c
	return a
}

// code fills a ticket's code when the viewer holds it; owner is whose view
// it is (the order's buyer, the list's buyer): the ticket is transferred
// out when owner no longer holds it.
func (a *API) code(viewer, owner uuid.UUID, t *projections.TicketView) {
	t.Code = ""
	t.TransferredOut = t.HolderID != owner
	if a.codes != nil && t.HolderID == viewer {
		t.Code = a.codes.Code(t.ID, t.Generation)
	}
}

// orderCodes fills the codes of orders' tickets for the viewer: an admin
// who holds none sees none.
func (a *API) orderCodes(viewer uuid.UUID, orders []projections.OrderView) {
	for i := range orders {
		for j := range orders[i].Tickets {
			a.code(viewer, orders[i].BuyerID, &orders[i].Tickets[j])
		}
	}
}

// ticketCodes fills the codes of a buyer's tickets.
func (a *API) ticketCodes(viewer uuid.UUID, tickets []projections.BuyerTicket) {
	for i := range tickets {
		a.code(viewer, viewer, &tickets[i].TicketView)
	}
}

// managedShow returns the id of the show in the path when the actor may
// manage it; a draft of another organizer does not exist for the actor.
func (a *API) managedShow(r *http.Request, actor domain.Actor, what string) (uuid.UUID, error) {
	id, err := pathID(r)
	if err != nil {
		return uuid.Nil, err
	}
	s, err := a.q.Show(r.Context(), id)
	if err != nil {
		return uuid.Nil, err
	}
	if !domain.CanManageShowsOf(actor, s.OrganizerID) {
		if s.Status == string(domain.ShowStatusDraft) {
			return uuid.Nil, fmt.Errorf("%w: %s", domain.ErrShowNotFound, id)
		}
		return uuid.Nil, forbiddenShow(actor, what)
	}
	return id, nil
}

// managedView writes what get returns for the show of the path, which the
// actor must manage; what names the view in a refusal.
func managedView[V any](a *API, what string, get func(context.Context, uuid.UUID) (V, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		id, err := a.managedShow(r, actor, what)
		if err != nil {
			return err
		}
		v, err := get(r.Context(), id)
		if err != nil {
			return err
		}
		return writeJSON(w, actor, v)
	}
}

// managedPage returns the show of the path, which the actor must manage,
// and the page asked for.
func (a *API) managedPage(r *http.Request, actor domain.Actor, what string) (uuid.UUID, projections.Page, error) {
	id, err := a.managedShow(r, actor, what)
	if err != nil {
		return uuid.Nil, projections.Page{}, err
	}
	p, err := page(r, projections.MaxLimit)
	return id, p, err
}

// attendees: GET /v1/shows/{id}/attendees, the tickets of a show with their
// check-in state, for its organizer and admins.
func (a *API) attendees(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, p, err := a.managedPage(r, actor, "attendees")
	if err != nil {
		return err
	}
	l, err := a.q.Attendees(r.Context(), id, p)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, l)
}

// showOrders: GET /v1/shows/{id}/orders, the orders of a show, for its
// organizer and admins. Their tickets carry no codes.
func (a *API) showOrders(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, p, err := a.managedPage(r, actor, "orders")
	if err != nil {
		return err
	}
	l, err := a.q.OrdersByShow(r.Context(), id, p)
	if err != nil {
		return err
	}
	a.orderCodes(uuid.Nil, l.Items) // the organizer sees no codes
	return writeJSON(w, actor, l)
}
