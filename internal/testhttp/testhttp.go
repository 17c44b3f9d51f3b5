// Package testhttp sends the HTTP requests of end-to-end tests.
//
// Every exchange it makes is checked against the engine's OpenAPI document
// (openapi/openapitest): a response the document does not allow, or an
// accepted request the document says is invalid, fails the test. So the
// existing end-to-end tests keep the document honest.
package testhttp

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/ticketing/ticketing/openapi/openapitest"
)

// Do sends req with token as its bearer token (none when empty) and extra
// headers ("name", "value", ...), and returns the answer with its body
// read and closed. A request that could not be sent or read fails t, and
// so does an exchange that breaks the OpenAPI document (Check).
func Do(t testing.TB, req *http.Request, token string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var sent []byte
	if req.Body != nil {
		var err error
		if sent, err = io.ReadAll(req.Body); err != nil {
			t.Fatal(err)
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	Check(t, req, sent, res, body)
	return res, body
}

// Check fails t (without stopping it) when the exchange of req, sent with
// reqBody, and res, whose body is resBody, breaks the OpenAPI document.
func Check(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	v, err := openapitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Check(req, reqBody, res, resBody) {
		t.Errorf("openapi: %s", p)
	}
}
