package web_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ticketing/ticketing/web"
)

func TestProblemFor(t *testing.T) {
	t.Parallel()
	gone, other := errors.New("gone"), errors.New("other")
	mappings := []web.Mapping{
		web.PlumbingMapping,
		web.NotFound(gone, "no such thing"),
		{Match: web.Is(other, gone), Status: http.StatusConflict, Slug: "never", Title: "Never"},
	}
	for _, tc := range []struct {
		name  string
		err   error
		want  web.Problem
		found bool
	}{
		{"the first row that matches", fmt.Errorf("load: %w", gone),
			web.Problem{Type: "urn:problem:ticketing:not-found", Title: "Not found", Status: http.StatusNotFound, Detail: "no such thing"}, true},
		{"any of Is's targets", other,
			web.Problem{Type: "urn:problem:ticketing:never", Title: "Never", Status: http.StatusConflict}, true},
		{"no row", errors.New("disk on fire"), web.Problem{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, found := web.ProblemFor(mappings, tc.err)
			if found != tc.found || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, %v; want %+v, %v", got, found, tc.want, tc.found)
			}
		})
	}
}
