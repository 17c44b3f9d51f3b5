package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ticketing/ticketing/domain"
)

// Params are the query parameters a route takes: each name with how many
// times it may be given (1 for a plain parameter, more for a repeatable
// one).
type Params map[string]int

// Query parses the query string of r against the parameters the route
// takes. A pair that does not parse (a bad %-escape, a ';'), a parameter
// the route does not take, or one given more often than it may, is a 400
// *Error naming the parameter: a filter is never dropped silently, as
// url.URL.Query drops what it cannot parse.
func Query(r *http.Request, allowed Params) (url.Values, error) {
	q := url.Values{}
	raw := r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, badParam(rawKey, "is not a valid %-escaped name")
		}
		if strings.Contains(pair, ";") {
			return nil, badParam(key, "contains ';': separate parameters with '&' and escape ';' as %3B")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, badParam(key, "is not a valid %-escaped value")
		}
		max, ok := allowed[key]
		if !ok {
			return nil, badParam(key, "is not a parameter of this route"+takes(allowed))
		}
		if len(q[key]) >= max {
			if max == 1 {
				return nil, badParam(key, "is given more than once")
			}
			return nil, badParam(key, "is given more than "+strconv.Itoa(max)+" times")
		}
		q[key] = append(q[key], value)
	}
	return q, nil
}

func badParam(name, detail string) *Error {
	name = Printable(name)
	return &Error{Status: http.StatusBadRequest, Detail: "bad query parameter " + strconv.Quote(name),
		Fields: []domain.FieldError{{Field: name, Detail: detail}}}
}

// takes lists the parameters of a route for an error message.
func takes(allowed Params) string {
	if len(allowed) == 0 {
		return ", which takes none"
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	slices.Sort(names)
	return " (it takes " + strings.Join(names, ", ") + ")"
}
