package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		sent []string
		keep bool
	}{
		"none":             {nil, false},
		"a good one":       {[]string{"req-1.A_b"}, true},
		"64 characters":    {[]string{strings.Repeat("a", 64)}, true},
		"65 characters":    {[]string{strings.Repeat("a", 65)}, false},
		"half a megabyte":  {[]string{strings.Repeat("a", 500<<10)}, false},
		"unsafe":           {[]string{`<script>`}, false},
		"a space":          {[]string{"a b"}, false},
		"non-ASCII":        {[]string{"é"}, false},
		"given twice":      {[]string{"a", "b"}, false},
		"empty":            {[]string{""}, false},
		"a JSON injection": {[]string{`a","user_id":"x`}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var seen, header string
			h := web.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, header = web.RequestIDFrom(r.Context()), r.Header.Get(web.RequestIDHeader)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			for _, s := range c.sent {
				req.Header.Add(web.RequestIDHeader, s)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			echoed := w.Header().Get(web.RequestIDHeader)
			if seen == "" || seen != echoed || seen != header {
				t.Fatalf("context %q, request header %q, echoed %q: want one id", seen, header, echoed)
			}
			if kept := len(c.sent) > 0 && seen == c.sent[0]; kept != c.keep {
				t.Fatalf("kept the client's id: got %v, want %v (%q)", kept, c.keep, seen)
			}
			if len(seen) > web.MaxRequestIDLen {
				t.Fatalf("id of %d bytes", len(seen))
			}
		})
	}
	if id := web.RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()); id != "" {
		t.Errorf("without the middleware: got %q, want none", id)
	}
}

func TestCapFields(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, web.MaxFieldErrors, web.MaxFieldErrors + 1, 1000} {
		fields := make([]domain.FieldError, n)
		for i := range fields {
			fields[i] = domain.FieldError{Field: fmt.Sprint("f", i)}
		}
		got, rest := web.CapFields(fields)
		if want := min(n, web.MaxFieldErrors); len(got) != want || rest != n-want {
			t.Errorf("%d fields: got %d and %d more, want %d and %d more", n, len(got), rest, want, n-want)
		}
	}
}
