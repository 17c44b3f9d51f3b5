package readapi

// issue 16: vocab. The ETag of a show, which PATCH /v1/shows/{id} takes in
// If-Match.

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// forbiddenShow refuses actor the view what (sales, rules, attendees...)
// of a show it does not manage, saying so.
func forbiddenShow(actor domain.Actor, what string) error {
	return web.Forbidden(ErrForbidden, "the "+what+" of a show are for its organizer and admins: this token belongs to "+
		web.RoleOf(actor)+" who does not own the show")
}

// ShowVersions tells the version of a show's stream: what the write API
// answers as a show's version and compares If-Match with.
type ShowVersions interface {
	// ShowVersion returns the version of the stream of show id.
	ShowVersion(ctx context.Context, id uuid.UUID) (int64, error)
}

// WithShowVersions has GET /v1/shows/{id} answer the show's version as its
// ETag; it returns a.
func (a *API) WithShowVersions(v ShowVersions) *API {
	a.versions = v
	return a
}

// setShowETag sets the ETag of show id, when the API knows versions.
func (a *API) setShowETag(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	if a.versions == nil {
		return nil
	}
	v, err := a.versions.ShowVersion(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", web.ETag(v))
	return nil
}
