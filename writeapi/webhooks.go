package writeapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/webhooks"
)

// issue 16: webhooks. The write routes of outbound webhook endpoints; the
// read routes are the read API's (readapi/webhooks.go). See
// docs/webhooks.md.

// WithWebhooks serves the webhook endpoint routes from s; it returns a.
func (a *API) WithWebhooks(s *webhooks.Service) *API {
	a.webhooks = s
	return a
}

func (a *API) registerWebhooks(r *mux.Router) {
	if a.webhooks == nil {
		return
	}
	r.Handle("/v1/webhooks/endpoints", a.private(a.createEndpoint)).Methods(http.MethodPost)
	r.Handle("/v1/webhooks/endpoints/{id}", a.private(a.endpointAction(a.webhooks.Disable, false))).Methods(http.MethodDelete)
	r.Handle("/v1/webhooks/endpoints/{id}/enable", a.private(a.endpointAction(a.webhooks.Enable, false))).Methods(http.MethodPost)
	r.Handle("/v1/webhooks/endpoints/{id}/rotate-secret", a.private(a.endpointAction(a.webhooks.RotateSecret, true))).Methods(http.MethodPost)
	r.Handle("/v1/webhooks/deliveries/{id}/redeliver", a.private(a.redeliver)).Methods(http.MethodPost)
}

type createEndpointRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
}

// createEndpoint: POST /v1/webhooks/endpoints. The answer is the only one
// that shows the secret.
func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	var req createEndpointRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	e, err := a.webhooks.Create(r.Context(), actor, webhooks.NewEndpoint{URL: req.URL, Description: req.Description, EventTypes: req.EventTypes})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/webhooks/endpoints/"+e.ID.String())
	return writeJSON(w, http.StatusCreated, webhooks.ViewEndpoint(e, true))
}

// endpointAction serves a bodiless action on the endpoint of the path,
// answering it (with its secret when withSecret).
func (a *API) endpointAction(act func(context.Context, domain.Actor, uuid.UUID) (webhooks.Endpoint, error), withSecret bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
		id, err := pathIDBody(r, nil)
		if err != nil {
			return err
		}
		e, err := act(r.Context(), actor, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, webhooks.ViewEndpoint(e, withSecret))
	}
}

// redeliver: POST /v1/webhooks/deliveries/{id}/redeliver.
func (a *API) redeliver(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := pathIDBody(r, nil)
	if err != nil {
		return err
	}
	d, err := a.webhooks.Redeliver(r.Context(), actor, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, webhooks.ViewDelivery(d, nil))
}
