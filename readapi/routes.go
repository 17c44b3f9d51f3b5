package readapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/web"
)

// visibleShow returns a show the actor may see: a draft only to its
// organizer; to anyone else it does not exist.
func (a *API) visibleShow(r *http.Request, actor domain.Actor) (projections.ShowView, error) {
	id, err := pathID(r)
	if err != nil {
		return projections.ShowView{}, err
	}
	s, err := a.q.Show(r.Context(), id)
	if err != nil {
		return projections.ShowView{}, err
	}
	if s.Status == string(domain.ShowStatusDraft) && s.OrganizerID != actor.UserID {
		return projections.ShowView{}, fmt.Errorf("%w: %s", domain.ErrShowNotFound, id)
	}
	return s, nil
}

// listShows: GET /v1/shows, the public catalog.
func (a *API) listShows(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	p, err := page(r, projections.MaxLimit)
	if err != nil {
		return err
	}
	l, err := a.q.ListShows(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, l)
}

// show: GET /v1/shows/{id}.
func (a *API) show(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	s, err := a.visibleShow(r, actor)
	if err != nil {
		return err
	}
	if s.Status == string(domain.ShowStatusCancelled) { // issue 14: money
		if s.Refunds, err = a.q.ShowRefunds(r.Context(), s.ID); err != nil {
			return err
		}
	}
	rules, err := a.q.ShowRules(r.Context(), s.ID) // issue 14: rules
	if err != nil {
		return err
	}
	if err := a.setShowETag(w, r, s.ID); err != nil { // issue 16: vocab
		return err
	}
	return writeJSON(w, actor, showPage{ShowView: s, TicketTypes: rules.PublicTicketTypes()})
}

// seatParams are the query parameters of the seat map.
var seatParams = web.Params{"section": 1, "limit": 1, "cursor": 1}

// seats: GET /v1/shows/{id}/seats, the seat map: its seated sections with
// their counts; with ?section=NAME, a page of that section's seats.
func (a *API) seats(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	s, err := a.visibleShow(r, actor)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if !q.Has("section") {
		for _, f := range []string{"limit", "cursor"} {
			if q.Has(f) {
				return &domain.ValidationError{Fields: []domain.FieldError{{Field: f, Detail: "pages the seats of a section: give section too"}}}
			}
		}
		m, err := a.q.SeatMap(r.Context(), s.ID)
		if err != nil {
			return err
		}
		return writeJSON(w, actor, m)
	}
	section := q.Get("section")
	if section == "" {
		return &domain.ValidationError{Fields: []domain.FieldError{{Field: "section", Detail: "must name a seated section of the show"}}}
	}
	p, err := page(r, projections.MaxSeatLimit)
	if err != nil {
		return err
	}
	seats, err := a.q.Seats(r.Context(), s.ID, section, p)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, seats)
}

// sales: GET /v1/shows/{id}/sales, for the show's organizer and admins. A
// draft of another organizer does not exist for the actor.
func (a *API) sales(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	return managedView(a, "sales", a.q.Sales)(w, r, actor)
}

// myShows: GET /v1/me/shows, an organizer's shows, drafts included.
func (a *API) myShows(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	if actor.Role != domain.RoleOrganizer {
		return web.Forbidden(ErrForbidden, "only organizers have shows: this token belongs to "+web.RoleOf(actor))
	}
	return myPage(w, r, actor, a.q.ShowsByOrganizer, nil)
}

// myPage writes the page asked for of the actor's list; codes, unless nil,
// fills in the codes the actor may see.
func myPage[T any](w http.ResponseWriter, r *http.Request, actor domain.Actor,
	list func(context.Context, uuid.UUID, projections.Page) (projections.List[T], error), codes func(uuid.UUID, []T)) error {
	p, err := page(r, projections.MaxLimit)
	if err != nil {
		return err
	}
	l, err := list(r.Context(), actor.UserID, p)
	if err != nil {
		return err
	}
	if codes != nil {
		codes(actor.UserID, l.Items) // issue 14: door
	}
	return writeJSON(w, actor, l)
}

// myOrders: GET /v1/me/orders, the actor's orders.
func (a *API) myOrders(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	return myPage(w, r, actor, a.q.OrdersByBuyer, a.orderCodes)
}

// myTickets: GET /v1/me/tickets, the actor's tickets.
func (a *API) myTickets(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	return myPage(w, r, actor, a.q.TicketsByBuyer, a.ticketCodes)
}

// order: GET /v1/orders/{id}, for its buyer and admins; to anyone else it
// does not exist.
func (a *API) order(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	o, err := a.q.Order(r.Context(), id)
	if err != nil {
		return err
	}
	if o.BuyerID != actor.UserID && actor.Role != domain.RoleAdmin {
		return fmt.Errorf("%w: %s", domain.ErrOrderNotFound, id)
	}
	a.orderCodes(actor.UserID, []projections.OrderView{o}) // issue 14: door
	return writeJSON(w, actor, o)
}
