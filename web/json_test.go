package web_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/web"
)

type item struct {
	Section  string `json:"section"`
	Quantity int    `json:"quantity"`
}

type order struct {
	Role  string `json:"role"`
	Items []item `json:"items"`
	Meta  *struct {
		Note string `json:"note"`
	} `json:"meta"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		field      string // the field the error names; "" for none
		ok         bool
	}{
		{name: "a good body", body: `{"role":"buyer","items":[{"section":"a","quantity":1},{"section":"b","quantity":2}],"meta":{"note":"x"}}`, ok: true},
		{name: "white space around it", body: " \n{\"role\":\"buyer\"}\n ", ok: true},
		{name: "duplicate key", body: `{"role":"buyer","role":"organizer"}`, field: "role"},
		{name: "keys that differ only in case", body: `{"role":"buyer","ROLE":"organizer"}`, field: "ROLE"},
		{name: "case pair spelled with escapes", body: `{"role":"buyer","\u0052OLE":"organizer"}`, field: "ROLE"},
		{name: "case pair by Unicode folding", body: `{"items":[{"section":"a","ſection":"b"}]}`, field: "items[0].ſection"},
		{name: "duplicate in a nested array", body: `{"items":[{"section":"a"},{"quantity":1,"Quantity":2}]}`, field: "items[1].Quantity"},
		{name: "duplicate in a nested object", body: `{"meta":{"note":"a","note":"b"}}`, field: "meta.note"},
		{name: "the same key in two objects", body: `{"items":[{"section":"a"},{"section":"b"}],"meta":{"note":"section"}}`, ok: true},
		{name: "unknown field", body: `{"role":"buyer","admin":true}`, field: "admin"},
		{name: "wrong type", body: `{"items":[{"quantity":"2"}]}`, field: "items.quantity"},
		{name: "trailing object", body: `{"role":"buyer"}{}`},
		{name: "trailing garbage", body: `{"role":"buyer"} x`},
		{name: "malformed", body: `{"role":`},
		{name: "empty", body: ``},
		{name: "not an object", body: `[1,2]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var v order
			err := web.DecodeJSON(strings.NewReader(c.body), &v)
			if c.ok {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var e *web.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("got %v, want a 400 *web.Error", err)
			}
			var got string
			if len(e.Fields) > 0 {
				got = e.Fields[0].Field
			}
			if got != c.field {
				t.Fatalf("field: got %q, want %q (%+v)", got, c.field, e)
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"role":                  "role",
		"a\x00b\nc":             "a\uFFFDb\uFFFDc",
		"bad\xffutf8":           "bad\uFFFDutf8",
		strings.Repeat("é", 70): strings.Repeat("é", 64) + "…",
	} {
		if got := web.Printable(in); got != want {
			t.Errorf("Printable(%q): got %q, want %q", in, got, want)
		}
	}
}
