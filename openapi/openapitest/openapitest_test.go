package openapitest

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// exchange is a request and the response a fake server gave it.
type exchange struct {
	method, path, reqBody string
	status                int
	contentType, resBody  string
}

func (e exchange) check(t *testing.T) []string {
	t.Helper()
	v, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(e.method, "http://127.0.0.1:8080"+e.path, strings.NewReader(e.reqBody))
	if e.reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", e.contentType)
	rec.WriteHeader(e.status)
	_, _ = rec.WriteString(e.resBody)
	res := rec.Result()
	return v.Check(req, []byte(e.reqBody), res, []byte(e.resBody))
}

const problem = `{"type":"urn:problem:ticketing:not-found","title":"Not found","status":404}`

// TestValidator_Check: what the end-to-end tests' hook lets through, and
// what fails them.
func TestValidator_Check(t *testing.T) {
	show := `{"id":"0b9f4c52-3f1e-4a57-9a63-5a1d2b0c9e11","version":1,"position":"12"}`
	cases := []struct {
		name string
		e    exchange
		want string // "" for no problem, else part of the problem
	}{
		{"a documented answer", exchange{"GET", "/v1/shows?limit=5", "", 200, "application/json", `{"items":[],"has_more":false}`}, ""},
		{"a documented problem", exchange{"GET", "/v1/shows/0b9f4c52-3f1e-4a57-9a63-5a1d2b0c9e11", "", 404, "application/problem+json", problem}, ""},
		{"an undocumented status", exchange{"GET", "/v1/shows", "", 418, "application/problem+json", problem}, "breaks the document"},
		{"a 5xx", exchange{"GET", "/v1/shows", "", 500, "application/problem+json", problem}, "breaks the document"},
		{"a body off the schema", exchange{"GET", "/v1/shows", "", 200, "application/json", `{"items":[],"has_more":false,"cursor":"x"}`}, "breaks the document"},
		{"the wrong content type", exchange{"GET", "/v1/shows", "", 200, "text/plain", `{"items":[],"has_more":false}`}, "breaks the document"},
		{"an invalid request accepted", exchange{"GET", "/v1/shows?limit=0", "", 200, "application/json", `{"items":[],"has_more":false}`}, "accepted a request"},
		{"an invalid request refused", exchange{"GET", "/v1/shows?limit=0", "", 400, "application/problem+json", problem}, ""},
		{"an invalid body accepted", exchange{"PUT", "/v1/shows/0b9f4c52-3f1e-4a57-9a63-5a1d2b0c9e11/order-limits",
			`{"min_units_per_order":"two"}`, 200, "application/json", show}, "accepted a request"},
		{"an unknown route answered", exchange{"GET", "/v1/nothing", "", 200, "application/json", `{}`}, "no such operation"},
		{"an unknown route refused", exchange{"GET", "/v1/nothing", "", 404, "application/problem+json", problem}, ""},
		{"an unknown method refused", exchange{"DELETE", "/v1/shows", "", 405, "application/problem+json", problem}, ""},
		{"an uncleaned path", exchange{"GET", "/v1//shows", "", 200, "application/json", `{"items":[],"has_more":false}`}, "no such operation"},
		{"a 404 not a problem", exchange{"GET", "/v1/nothing", "", 404, "text/plain", "404 page not found"}, "must be a problem"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(c.e.check(t), "\n")
			switch {
			case c.want == "" && got != "":
				t.Errorf("problems: %s", got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Errorf("problems = %q, want one with %q", got, c.want)
			}
		})
	}
}
