package readapi_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/readapi"
)

// Every read route refuses a query string it cannot take whole, naming the
// parameter, instead of dropping a filter silently.
func TestAPI_QueryStrings(t *testing.T) {
	t.Parallel()
	w := newWorld(t).withAdmin()
	_, admin := w.token(domain.RoleAdmin)
	id := uuid.NewString()
	// The parameters each route takes; the test fails when a route is
	// missing here.
	takes := map[string][]string{
		"/v1/shows":                {"limit", "cursor"},
		"/v1/shows/{id}":           nil,
		"/v1/shows/{id}/seats":     {"section", "limit", "cursor"},
		"/v1/shows/{id}/sales":     nil,
		"/v1/shows/{id}/analytics": nil,
		"/v1/me/shows":             {"limit", "cursor"},
		"/v1/me/orders":            {"limit", "cursor"},
		"/v1/me/tickets":           {"limit", "cursor"},
		"/v1/orders/{id}":          nil,
		"/v1/shows/{id}/attendees": {"limit", "cursor"}, // issue 14: door
		"/v1/shows/{id}/orders":    {"limit", "cursor"}, // issue 14: door
		"/v1/admin/events":         {"stream", "type", "since", "until", "from_position", "after", "limit", "raw"},
		"/v1/shows/{id}/rules":     nil, // issue 14: rules
		"/v1/me/waitlist":          nil, // issue 14: waitlist
		"/v1/shows/{id}/live":      nil, // issue 18: hotreads (SSE)
	}
	router := mux.NewRouter()
	api := readapi.New(w.q, w.tokens, nil)
	api.Register(router)
	api.RegisterAdmin(router, w.store, w.registry)
	var routes []string
	_ = router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, _ := r.GetPathTemplate()
		routes = append(routes, tpl)
		return nil
	})
	sort.Strings(routes)
	for _, tpl := range routes {
		params, ok := takes[tpl]
		if !ok {
			t.Errorf("route %s: not in the table of this test", tpl)
			continue
		}
		path := strings.ReplaceAll(tpl, "{id}", id)
		cases := map[string]string{ // query → the parameter the 400 names
			"nope=1":            "nope",
			"a=1;b=2":           "a",
			"%zz=1":             "%zz",
			"x=%zz":             "x",
			"status=held&x=1":   "status",
			"st%00atus=held":    "st\uFFFDatus",
			"filter=" + "x;y=z": "filter",
		}
		for _, p := range params {
			if p != "type" { // repeatable, below
				cases[p+"=1&"+p+"=2"] = p
			}
			cases[p+"=%zz"] = p
		}
		if len(params) == 0 {
			cases["limit=1"] = "limit"
		}
		for query, field := range cases {
			t.Run(tpl+"?"+query, func(t *testing.T) {
				t.Parallel()
				p := w.get(path+"?"+query, admin).problem(t, http.StatusBadRequest)
				if len(p.Errors) != 1 || p.Errors[0].Field != field {
					t.Errorf("errors %+v, want one naming %q", p.Errors, field)
				}
			})
		}
	}
	t.Run("repeatable up to a bound", func(t *testing.T) {
		t.Parallel()
		types := strings.Repeat("type=a&", readapi.MaxEventTypes)
		if r := w.get("/v1/admin/events?"+types, admin); r.status != http.StatusOK {
			t.Errorf("%d types: got %d, want 200: %s", readapi.MaxEventTypes, r.status, r.body)
		}
		p := w.get("/v1/admin/events?"+types+"type=b", admin).problem(t, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != "type" {
			t.Errorf("errors %+v, want one naming type", p.Errors)
		}
	})
	t.Run("a good query still works", func(t *testing.T) {
		t.Parallel()
		if r := w.get("/v1/shows?limit=1&cursor=", ""); r.status != http.StatusOK {
			t.Errorf("got %d, want 200: %s", r.status, r.body)
		}
	})
}
