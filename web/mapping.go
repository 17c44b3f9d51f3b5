package web

import (
	"errors"
	"net/http"
)

// Mapping is one row of an API's error table: the errors it matches, the
// problem they are answered with, and, when set, Fill completes the problem
// from the error (field errors, a typed error's own message).
type Mapping struct {
	Match  func(error) bool
	Status int
	Slug   string
	Title  string
	Detail string
	Fill   func(err error, p *Problem)
}

// Is matches an error that is any of targets, by errors.Is.
func Is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// As matches an error with a T in its chain, by errors.As.
func As[T error]() func(error) bool {
	return func(err error) bool { var t T; return errors.As(err, &t) }
}

// NotFound is the row of a 404 "not-found" problem for target, with detail.
func NotFound(target error, detail string) Mapping {
	return Mapping{Match: Is(target), Status: http.StatusNotFound, Slug: "not-found", Title: "Not found", Detail: detail}
}

// PlumbingMapping answers the HTTP plumbing's refusals (an *Error: framing,
// sizes, strict JSON, query strings) with their own status and
// client-written detail.
var PlumbingMapping = Mapping{Match: As[*Error](), Fill: func(err error, p *Problem) {
	var plumb *Error
	errors.As(err, &plumb)
	*p = Problem{Type: plumb.Type(), Title: plumb.Title(), Status: plumb.Status, Detail: plumb.Detail, Errors: plumb.Fields}
}}

// ProblemFor returns the problem of the first of mappings that matches err,
// and whether one did.
func ProblemFor(mappings []Mapping, err error) (Problem, bool) {
	for _, m := range mappings {
		if !m.Match(err) {
			continue
		}
		p := Problem{Type: "urn:problem:ticketing:" + m.Slug, Title: m.Title, Status: m.Status, Detail: m.Detail}
		if m.Fill != nil {
			m.Fill(err, &p)
		}
		return p, true
	}
	return Problem{}, false
}
