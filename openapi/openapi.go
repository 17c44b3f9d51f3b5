// Package openapi holds the OpenAPI 3.1 document of the engine's HTTP
// routes (openapi.yaml, embedded) and serves it as JSON at /openapi.json.
//
// The document is written by hand, in YAML so that it can carry comments,
// and kept from drifting by tests: cmd/ticketing's route walk compares it
// with the routers, and every request the end-to-end tests send through
// internal/testhttp is validated against it with its response
// (openapi/openapitest). docs/openapi.md says how to read it.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Path is where the document is served.
const Path = "/openapi.json"

//go:embed openapi.yaml
var document []byte

// YAML returns the document as written.
func YAML() []byte { return document }

// JSON returns the document as JSON. The embedded YAML is converted once;
// a document that does not convert is a build defect that this package's
// tests catch, so JSON panics on it.
func JSON() []byte {
	b, err := toJSON()
	if err != nil {
		panic(err)
	}
	return b
}

var toJSON = sync.OnceValues(func() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(document, &v); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	return b, nil
})

// Handler serves the document as JSON.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := JSON()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	})
}
