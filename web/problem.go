package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// ProblemContentType is the media type of error responses (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details body, as both APIs answer errors.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail is written for the client: it never repeats an internal error.
	Detail string `json:"detail,omitempty"`
	// Code is a machine-readable reason, where the class has several: the
	// payment provider's decline code of a 402.
	Code string `json:"code,omitempty"`
	// DeclineCode is the payment provider's reason of a 402 (issue 16):
	// the same as Code, under the name integrators look for.
	DeclineCode string              `json:"decline_code,omitempty"`
	Errors      []domain.FieldError `json:"errors,omitempty"`
	// ErrorsOmitted counts the field errors left out of Errors, which
	// lists at most MaxFieldErrors.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`

	// RetryAfter, when positive, is sent as the Retry-After header, in
	// whole seconds rounded up.
	RetryAfter time.Duration `json:"-"`
}

// Internal is the problem that answers an error no mapping of an API
// matches: it says nothing about the error.
var Internal = Problem{Type: "urn:problem:ticketing:internal", Title: "Internal error", Status: http.StatusInternalServerError,
	Detail: "the server failed; the request may be retried"}

// WriteProblem writes p as problem+json: at most MaxFieldErrors field
// errors (the rest counted in ErrorsOmitted), a WWW-Authenticate challenge
// with a 401, Retry-After when p.RetryAfter is positive, and no
// Cache-Control a handler may have set before it failed.
func WriteProblem(w http.ResponseWriter, p Problem) {
	p.Errors, p.ErrorsOmitted = CapFields(p.Errors)
	h := w.Header()
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="ticketing"`)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds(p.RetryAfter)))
	}
	h.Set("Content-Type", ProblemContentType)
	h.Del("Cache-Control")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// RetryAfterSeconds rounds d up to whole seconds, at least one: Retry-After
// takes seconds, and a client told 0 would retry at once.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
