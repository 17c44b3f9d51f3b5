// Package openapitest checks real HTTP exchanges against the engine's
// OpenAPI document (package openapi), for tests: internal/testhttp runs
// every request of the end-to-end tests through Check.
//
// The validator is github.com/pb33f/libopenapi-validator, chosen over
// github.com/getkin/kin-openapi because the document is OpenAPI 3.1: its
// schemas are JSON Schema 2020-12 (type arrays such as ["string", "null"],
// const, $defs), which libopenapi parses natively and validates with a
// 2020-12 validator (santhosh-tekuri/jsonschema), while kin-openapi models
// 3.0 and reads 3.1 only in part. It validates a request's path, query,
// header and security parameters and body, and a response's status,
// headers, content type and body, from a parsed document kept in memory;
// it is maintained (monthly releases) under the MIT licence. It is linked
// into test binaries only: the engine serves the document without it.
package openapitest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/ticketing/ticketing/openapi"
)

// Validator checks requests and responses against the document.
type Validator struct {
	v validator.Validator
}

// New parses the document and returns its validator; a document that is
// not valid OpenAPI 3.1 is an error.
func New() (*Validator, error) {
	doc, err := libopenapi.NewDocument(openapi.JSON())
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapi: the document is not valid OpenAPI: %s", describe(verrs))
	}
	return &Validator{v: v}, nil
}

// Default returns the validator of the document, built once per process.
var Default = sync.OnceValues(New)

// Check validates an exchange: req, sent with reqBody, and its response res,
// whose body is resBody. It returns what is wrong, nil when nothing is:
//   - a request to a path and method the document has must get a response
//     the document has (status, headers, content type, body);
//   - a request the document says is invalid must not be accepted: its
//     answer must be a 4xx;
//   - a request to a path or method the document does not have must be
//     answered 404 or 405 with a problem.
//
// No answer may be a 5xx other than the 503s the document lists.
func (v *Validator) Check(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("%s %s → %d: ", req.Method, req.URL.RequestURI(), res.StatusCode)+fmt.Sprintf(format, args...))
	}
	if preflight(req) {
		if res.StatusCode >= 500 {
			bad("a CORS preflight failed")
		}
		return out
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	ok, reqErrs := v.v.ValidateHttpRequestSync(r)
	if unrouted(req, reqErrs) {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			bad("the document has no such operation, but the server answered it: %s", describe(reqErrs))
		} else if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			bad("a 404 or 405 must be a problem, not %q", res.Header.Get("Content-Type"))
		}
		return out
	}
	if !ok && res.StatusCode < 400 {
		bad("the server accepted a request the document says is invalid: %s", describe(reqErrs))
	}
	resp := *res
	resp.Body = io.NopCloser(bytes.NewReader(resBody))
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	if ok, resErrs := v.v.ValidateHttpResponse(r, &resp); !ok {
		bad("the response breaks the document: %s; body: %.300s", describe(resErrs), resBody)
	}
	return out
}

// preflight reports whether req is a CORS preflight, which the CORS
// middleware answers before any route (when origins are configured): a
// browser's protocol, not an operation of the document.
func preflight(req *http.Request) bool {
	return req.Method == http.MethodOptions && req.Header.Get("Origin") != "" && req.Header.Get("Access-Control-Request-Method") != ""
}

// unrouted reports whether the document has no operation for req: its path
// or method are not there, or its path is not canonical (the server, like
// gorilla/mux with SkipClean, does not clean paths; the validator would).
func unrouted(req *http.Request, errs []*verrors.ValidationError) bool {
	p := req.URL.Path
	if p != "/" && (path.Clean(p) != p || strings.HasSuffix(p, "/")) {
		return true
	}
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation &&
			(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			return true
		}
	}
	return false
}

// describe renders validation errors on one line, with their schema
// failures.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s at %s]", f.Reason, f.FieldPath)
		}
	}
	return b.String()
}
