package writeapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Waitlists are the waiting-list commands (issue 14).
type Waitlists interface {
	JoinWaitlist(ctx context.Context, actor domain.Actor, show uuid.UUID, j commands.WaitlistJoin) (commands.JoinedWaitlist, error)
	LeaveWaitlist(ctx context.Context, actor domain.Actor, show uuid.UUID, section string) (commands.Result, error)
	Waitlist(ctx context.Context, actor domain.Actor, show uuid.UUID) (commands.WaitlistView, error)
}

// The engine's handler is the Waitlists a.shows is asserted to.
var _ Waitlists = (*commands.Handler)(nil)

type joinWaitlistRequest struct {
	Section    string `json:"section"`
	TicketType string `json:"ticket_type"` // optional; with it, section may be left out
	Quantity   int    `json:"quantity"`
}

type leaveWaitlistRequest struct {
	Section string `json:"section"`
}

// waitlists returns the waiting-list commands, or ErrNotFound when the
// API was built without them.
func (a *API) waitlists() (Waitlists, error) {
	w, ok := a.shows.(Waitlists)
	if !ok {
		return nil, ErrNotFound
	}
	return w, nil
}

// sectionBody decodes the body of a join or a leave into v, whose section
// is *section, and returns the show and the commands. The section is
// required unless typ names a ticket type (nil: a leave).
func (a *API) sectionBody(r *http.Request, v any, section, typ *string) (uuid.UUID, Waitlists, error) {
	id, err := pathIDBody(r, v)
	if err != nil {
		return uuid.Nil, nil, err
	}
	if *section == "" && (typ == nil || *typ == "") {
		return uuid.Nil, nil, &domain.ValidationError{Fields: []domain.FieldError{{Field: "section", Detail: "is required"}}}
	}
	wl, err := a.waitlists()
	return id, wl, err
}

func (a *API) joinWaitlist(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req joinWaitlistRequest
	id, wl, err := a.sectionBody(r, &req, &req.Section, &req.TicketType)
	if err != nil {
		return err
	}
	res, err := wl.JoinWaitlist(r.Context(), actor, id, commands.WaitlistJoin{Section: req.Section, TicketType: req.TicketType, Quantity: req.Quantity})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/shows/"+id.String()+"/waitlist")
	body := map[string]any{"show_id": id, "section": res.Section, "quantity": req.Quantity,
		"version": res.Version, "position": position(r.Context(), res.Position)}
	if req.TicketType != "" {
		body["ticket_type"] = req.TicketType
	}
	return writeJSON(w, http.StatusCreated, body)
}

func (a *API) leaveWaitlist(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req leaveWaitlistRequest
	id, wl, err := a.sectionBody(r, &req, &req.Section, nil)
	if err != nil {
		return err
	}
	res, err := wl.LeaveWaitlist(r.Context(), actor, id, req.Section)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"show_id": id, "section": req.Section, "left": true, "position": position(r.Context(), res.Position)})
}

type waitlistPlace struct {
	Section    string    `json:"section"`
	TicketType string    `json:"ticket_type,omitempty"`
	Place      int       `json:"place"`
	Quantity   int       `json:"quantity"`
	JoinedAt   time.Time `json:"joined_at"`
}

type waitlistLength struct {
	Section  string `json:"section"`
	Waiting  int    `json:"waiting"`
	Units    int    `json:"units"`
	Reserved int    `json:"reserved"`
	Offers   int    `json:"open_offers"`
}

func (a *API) waitlist(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathIDBody(r, nil)
	if err != nil {
		return err
	}
	wl, err := a.waitlists()
	if err != nil {
		return err
	}
	v, err := wl.Waitlist(r.Context(), actor, id)
	if err != nil {
		return err
	}
	places := make([]waitlistPlace, 0, len(v.Places))
	for _, p := range v.Places {
		places = append(places, waitlistPlace{Section: p.Section, TicketType: p.Entry.TicketType, Place: p.Place, Quantity: p.Quantity, JoinedAt: p.Entry.JoinedAt})
	}
	body := map[string]any{"show_id": id, "places": places, "offers": v.Offers}
	if v.Sections != nil {
		sections := make([]waitlistLength, 0, len(v.Sections))
		for _, s := range v.Sections {
			sections = append(sections, waitlistLength(s))
		}
		body["sections"] = sections
	}
	return writeJSON(w, http.StatusOK, body)
}
