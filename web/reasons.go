package web

// issue 16: vocab. Errors that say what the client can do about them: a
// refusal that names the role or ownership missing, an id in the path that
// is not one.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ticketing/ticketing/domain"
)

// ForbiddenError is a refusal that says why: Reason, written for the
// client, names the role or the ownership the actor lacks. It matches the
// API's sentinel it wraps (errors.Is).
type ForbiddenError struct {
	Reason string
	err    error
}

// Forbidden returns a *ForbiddenError for sentinel (an API's ErrForbidden)
// with reason.
func Forbidden(sentinel error, reason string) error {
	return &ForbiddenError{Reason: reason, err: sentinel}
}

func (e *ForbiddenError) Error() string { return e.err.Error() + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *ForbiddenError) Unwrap() error { return e.err }

// ForbiddenDetail is the Fill of a 403 mapping: the reason of a
// *ForbiddenError as the detail, the mapping's own detail otherwise.
func ForbiddenDetail(err error, p *Problem) {
	var f *ForbiddenError
	if errors.As(err, &f) {
		p.Detail = f.Reason
	}
}

// RoleOf names the role of actor for a refusal: "a buyer", "an
// organizer", "an admin".
func RoleOf(actor domain.Actor) string {
	switch actor.Role {
	case domain.RoleOrganizer, domain.RoleAdmin:
		return "an " + string(actor.Role)
	case "":
		return "nobody"
	}
	return "a " + Printable(string(actor.Role))
}

// BadPathID is an id in a route's path that is not a UUID: it names no
// resource, so it is answered as not found, with a detail that says which
// part of the path is wrong (what: "show", "order", "ticket").
type BadPathID struct {
	What  string
	Value string
	// NotFound is the API's not-found sentinel, which the error matches.
	NotFound error
}

func (e *BadPathID) Error() string {
	return "the " + e.What + " id in the path, " + strconv.Quote(Printable(e.Value)) + ", is not a UUID such as 3f2c1a9e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"
}

// Unwrap returns the API's not-found sentinel.
func (e *BadPathID) Unwrap() error { return e.NotFound }

// BadPathIDMapping answers a *BadPathID: a 404 whose detail and field
// error name the path's id.
var BadPathIDMapping = Mapping{Match: As[*BadPathID](), Status: http.StatusNotFound, Slug: "not-found", Title: "Not found",
	Fill: func(err error, p *Problem) {
		var bad *BadPathID
		errors.As(err, &bad)
		p.Detail = bad.Error()
		p.Errors = []domain.FieldError{{Field: "{id}", Detail: "the " + bad.What + " id in the path must be a UUID"}}
	}}

// PathWhat names what the {id} of a path /v1/KIND/{id}... is: "show" for
// /v1/shows/..., "order", "ticket"; "resource" for anything else.
func PathWhat(path string) string {
	for _, k := range []string{"shows", "orders", "tickets", "webhooks"} {
		if strings.HasPrefix(path, "/v1/"+k+"/") {
			return strings.TrimSuffix(k, "s")
		}
	}
	return "resource"
}
