package readapi

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

// issue 16: webhooks. The read routes of outbound webhook endpoints and
// their delivery logs; the write routes are the write API's. They read the
// webhook tables, not the read models: no X-Min-Position wait.

// WithWebhooks serves the webhook read routes from s; it returns a.
func (a *API) WithWebhooks(s *webhooks.Service) *API {
	a.webhooks = s
	return a
}

// registerWebhooks adds the webhook read routes to r, if a has a service.
func (a *API) registerWebhooks(r *mux.Router) {
	if a.webhooks == nil {
		return
	}
	r.Handle("/v1/webhooks/endpoints", a.route(signedIn, readsLog, a.webhookEndpoints, pageParams)).Methods(http.MethodGet)
	r.Handle("/v1/webhooks/endpoints/{id}", a.route(signedIn, readsLog, a.webhookEndpoint)).Methods(http.MethodGet)
	r.Handle("/v1/webhooks/endpoints/{id}/deliveries", a.route(signedIn, readsLog, a.webhookDeliveries, pageParams)).Methods(http.MethodGet)
	r.Handle("/v1/webhooks/deliveries/{id}", a.route(signedIn, readsLog, a.webhookDelivery)).Methods(http.MethodGet)
}

// webhookPage is a page of a webhook list.
type webhookPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	HasMore    bool   `json:"has_more"`
}

// writeWebhookPage answers a page of list, each item through view, unless
// err.
func writeWebhookPage[T, V any](w http.ResponseWriter, actor domain.Actor, list []T, next string, err error, view func(T) V) error {
	if err != nil {
		return err
	}
	out := webhookPage[V]{Items: make([]V, len(list)), NextCursor: next, HasMore: next != ""}
	for i, x := range list {
		out.Items[i] = view(x)
	}
	return writeJSON(w, actor, out)
}

func webhookPageParams(r *http.Request) (webhooks.Page, error) {
	p, err := page(r, webhooks.MaxLimit)
	return webhooks.Page{Limit: p.Limit, Cursor: p.Cursor}, err
}

func webhookPathID(r *http.Request) (uuid.UUID, error) {
	s := mux.Vars(r)["id"]
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, &web.BadPathID{What: web.PathWhat(r.URL.Path), Value: s, NotFound: webhooks.ErrNotFound}
	}
	return id, nil
}

// webhookEndpoints: GET /v1/webhooks/endpoints, the actor's endpoints (an
// admin's: everyone's), oldest first.
func (a *API) webhookEndpoints(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	p, err := webhookPageParams(r)
	if err != nil {
		return err
	}
	list, next, err := a.webhooks.Endpoints(r.Context(), actor, p)
	return writeWebhookPage(w, actor, list, next, err, func(e webhooks.Endpoint) webhooks.EndpointView { return webhooks.ViewEndpoint(e, false) })
}

// webhookEndpoint: GET /v1/webhooks/endpoints/{id}, without its secret.
func (a *API) webhookEndpoint(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := webhookPathID(r)
	if err != nil {
		return err
	}
	e, err := a.webhooks.Endpoint(r.Context(), actor, id)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, webhooks.ViewEndpoint(e, false))
}

// webhookDeliveries: GET /v1/webhooks/endpoints/{id}/deliveries, the
// endpoint's delivery log, newest first.
func (a *API) webhookDeliveries(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := webhookPathID(r)
	if err != nil {
		return err
	}
	p, err := webhookPageParams(r)
	if err != nil {
		return err
	}
	list, next, err := a.webhooks.Deliveries(r.Context(), actor, id, p)
	return writeWebhookPage(w, actor, list, next, err, func(d webhooks.Delivery) webhooks.DeliveryView { return webhooks.ViewDelivery(d, nil) })
}

// webhookDelivery: GET /v1/webhooks/deliveries/{id}, with its attempts.
func (a *API) webhookDelivery(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	id, err := webhookPathID(r)
	if err != nil {
		return err
	}
	d, attempts, err := a.webhooks.Delivery(r.Context(), actor, id)
	if err != nil {
		return err
	}
	return writeJSON(w, actor, webhooks.ViewDelivery(d, attempts))
}
