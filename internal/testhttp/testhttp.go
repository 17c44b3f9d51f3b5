// Package testhttp sends the HTTP requests of end-to-end tests.
package testhttp

import (
	"io"
	"net/http"
	"testing"
)

// Do sends req with token as its bearer token (none when empty) and extra
// headers ("name", "value", ...), and returns the answer with its body
// read and closed. A request that could not be sent or read fails t.
func Do(t testing.TB, req *http.Request, token string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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
	return res, body
}
