package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testhttp"
	"github.com/ticketing/ticketing/openapi"
	"github.com/ticketing/ticketing/openapi/openapitest"
)

// documentedOperations returns "METHOD /path" for every operation of the
// OpenAPI document.
func documentedOperations(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for p, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// routeVar matches a gorilla/mux path variable with its pattern, {id:...}.
var routeVar = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)

// routedOperations returns "METHOD /path" for every route of routers; a
// route that takes any method is "ANY /path", which the document cannot
// say.
func routedOperations(t *testing.T, routers []*mux.Router) []string {
	t.Helper()
	var ops []string
	for _, r := range routers {
		err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			tpl, err := route.GetPathTemplate()
			if err != nil {
				return nil // a subrouter's own entry
			}
			tpl = routeVar.ReplaceAllString(tpl, "{$1}")
			methods, err := route.GetMethods()
			if err != nil {
				methods = []string{"ANY"}
			}
			for _, m := range methods {
				if op := m + " " + tpl; !slices.Contains(ops, op) {
					ops = append(ops, op)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPI_RouteWalk: every route of the API and ops routers, by method,
// is an operation of the document, and every operation is a route.
func TestOpenAPI_RouteWalk(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	routed, documented := routedOperations(t, s.e.routers), documentedOperations(t)
	for _, op := range routed {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is not in openapi/openapi.yaml", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routed, op) {
			t.Errorf("openapi/openapi.yaml has %s, which no router serves", op)
		}
	}
	if len(routed) < 40 {
		t.Errorf("the walk found %d routes: %v", len(routed), routed)
	}
}

// TestOpenAPI_Document: the document is valid OpenAPI 3.1, and both
// listeners serve it at /openapi.json as JSON, the same bytes.
func TestOpenAPI_Document(t *testing.T) {
	t.Parallel()
	if _, err := openapitest.New(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	for _, base := range []string{s.url, s.opsURL} {
		r := s.must(200, s.callURL("GET", base+openapi.Path))
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type = %q", base, ct)
		}
		if string(r.raw) != string(openapi.JSON()) {
			t.Errorf("%s: the body is not the document", base)
		}
		if r.body["openapi"] != "3.1.0" {
			t.Errorf("%s: openapi = %v", base, r.body["openapi"])
		}
	}
}

// callURL sends a GET without a body to an absolute URL, through testhttp.
func (s *server) callURL(method, url string) resp {
	s.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	res, raw := testhttp.Do(s.t, req, "")
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}
