// Package web is the HTTP plumbing both APIs share: strict JSON bodies,
// strict query strings, request ids, the errors that refuse a request
// before a handler acts on it, the problem+json writer and the
// Authenticator port. It knows no route and no command.
package web

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/domain"
)

// MaxFieldErrors is how many field errors a problem lists; the rest are
// only counted.
const MaxFieldErrors = 20

// Error is a request refused by the HTTP plumbing: not the JSON, query
// string, size or framing the server takes. Status is 400, 411, 413, 431 or
// 501; Fields name what was wrong where that is a key or a parameter.
type Error struct {
	Status int
	Detail string
	Fields []domain.FieldError
}

func (e *Error) Error() string { return e.Detail }

// Type is the problem type of e, a URN like the APIs' other problems.
func (e *Error) Type() string {
	switch e.Status {
	case http.StatusLengthRequired:
		return "urn:problem:ticketing:length-required"
	case http.StatusRequestEntityTooLarge:
		return "urn:problem:ticketing:body-too-large"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "urn:problem:ticketing:headers-too-large"
	case http.StatusNotImplemented:
		return "urn:problem:ticketing:not-implemented"
	}
	return "urn:problem:ticketing:malformed-request"
}

// Title is the problem title of e.
func (e *Error) Title() string {
	if e.Status == http.StatusBadRequest {
		return "Malformed request"
	}
	return http.StatusText(e.Status)
}

// CapFields returns at most MaxFieldErrors of fields and how many it left
// out, so that no input can make a problem body arbitrarily long.
func CapFields(fields []domain.FieldError) ([]domain.FieldError, int) {
	if len(fields) <= MaxFieldErrors {
		return fields, 0
	}
	return fields[:MaxFieldErrors], len(fields) - MaxFieldErrors
}

// Stream lifts the server's read and write deadlines for the request being
// served, for a route whose response lasts longer than the server's
// WriteTimeout (server-sent events). Every other route keeps them. The
// ResponseWriter and every middleware wrapping it must Unwrap to the
// server's.
func Stream(w http.ResponseWriter) error {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	return rc.SetWriteDeadline(time.Time{})
}

// maxEcho bounds how much of a client's input a problem echoes.
const maxEcho = 64

// Printable returns s fit to echo in a problem: at most 64 runes, each
// invalid byte or control character replaced by U+FFFD.
func Printable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxEcho {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
