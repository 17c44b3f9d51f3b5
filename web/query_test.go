package web_test

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/ticketing/ticketing/web"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	allowed := web.Params{"limit": 1, "cursor": 1, "type": 3}
	for _, c := range []struct {
		name, query string
		want        map[string][]string
		field       string // the parameter a refusal names
	}{
		{name: "none", query: "", want: map[string][]string{}},
		{name: "plain", query: "limit=5&cursor=abc%2Fd", want: map[string][]string{"limit": {"5"}, "cursor": {"abc/d"}}},
		{name: "repeatable", query: "type=a&type=b", want: map[string][]string{"type": {"a", "b"}}},
		{name: "empty pairs are skipped", query: "&limit=1&&", want: map[string][]string{"limit": {"1"}}},
		{name: "a bad escape in a value", query: "limit=5&cursor=%zz", field: "cursor"},
		{name: "a bad escape in a name", query: "lim%zzit=5", field: "lim%zzit"},
		{name: "a semicolon", query: "limit=5;cursor=x", field: "limit"},
		{name: "unknown", query: "limit=5&status=held", field: "status"},
		{name: "repeated", query: "limit=5&limit=6", field: "limit"},
		{name: "repeated too often", query: "type=a&type=b&type=c&type=d", field: "type"},
		{name: "a control character in a name", query: "st%01atus=x", field: "st\uFFFDatus"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := web.Query(httptest.NewRequest("GET", "/x?"+c.query, nil), allowed)
			if c.field == "" {
				if err != nil || !reflect.DeepEqual(map[string][]string(got), c.want) {
					t.Fatalf("got %v, %v; want %v", got, err, c.want)
				}
				return
			}
			var e *web.Error
			if !errors.As(err, &e) || e.Status != 400 || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
				t.Fatalf("got %v %+v, want a 400 naming %q", got, e, c.field)
			}
		})
	}
	if _, err := web.Query(httptest.NewRequest("GET", "/x?a=1", nil), nil); err == nil {
		t.Error("a route that takes no parameter accepted one")
	}
}
