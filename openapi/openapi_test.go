package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ticketing/ticketing/openapi"
	"github.com/ticketing/ticketing/openapi/openapitest"
)

// TestJSON: the embedded YAML converts to JSON, an OpenAPI 3.1 document
// that libopenapi-validator accepts as valid.
func TestJSON(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := doc["openapi"], "3.1.0"; got != want {
		t.Errorf("openapi = %v, want %v", got, want)
	}
	if _, err := openapitest.New(); err != nil {
		t.Fatal(err)
	}
}

// TestHandler: the handler answers the JSON, validated against itself.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(openapi.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+openapi.Path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	v, err := openapitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Check(req, nil, res, body) {
		t.Error(p)
	}
}
