package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

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
	ShowID  uuid.UUID   `json:"show_id"`
	At      *time.Time  `json:"at"`
	Tickets []uuid.UUID `json:"tickets"`
	Paid    bool        `json:"paid"`
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
		{name: "null for the object", body: " null "},
		{name: "duplicate key", body: `{"role":"buyer","role":"organizer"}`, field: "role"},
		{name: "keys that differ only in case", body: `{"role":"buyer","ROLE":"organizer"}`, field: "ROLE"},
		{name: "the second spelled right", body: `{"ROLE":"organizer","role":"buyer"}`, field: "ROLE"},
		{name: "a lone key in another case", body: `{"ROLE":"organizer"}`, field: "ROLE"},
		{name: "a nested key in another case", body: `{"items":[{"Section":"a"}]}`, field: "items[0].Section"},
		{name: "case pair spelled with escapes", body: `{"role":"buyer","\u0052OLE":"organizer"}`, field: "ROLE"},
		{name: "case pair by Unicode folding", body: `{"items":[{"section":"a","ſection":"b"}]}`, field: "items[0].ſection"},
		{name: "duplicate in a nested array", body: `{"items":[{"section":"a"},{"quantity":1,"Quantity":2}]}`, field: "items[1].Quantity"},
		{name: "duplicate in a nested object", body: `{"meta":{"note":"a","note":"b"}}`, field: "meta.note"},
		{name: "the same key in two objects", body: `{"items":[{"section":"a"},{"section":"b"}],"meta":{"note":"section"}}`, ok: true},
		{name: "unknown field", body: `{"role":"buyer","admin":true}`, field: "admin"},
		{name: "wrong type", body: `{"items":[{"quantity":"2"}]}`, field: "items[0].quantity"},
		// issue 16: vocab. Each names its field, with its indices.
		{name: "a bad UUID", body: `{"show_id":"not-a-uuid"}`, field: "show_id"},
		{name: "a UUID as a number", body: `{"show_id":12}`, field: "show_id"},
		{name: "a bad UUID in an array", body: `{"tickets":["` + uuid.NewString() + `","x"]}`, field: "tickets[1]"},
		{name: "a good UUID and time", body: `{"show_id":"` + uuid.NewString() + `","at":"2026-11-21T20:00:00.5+01:00","tickets":[]}`, ok: true},
		{name: "a null time", body: `{"at":null}`, ok: true},
		{name: "a time in words", body: `{"at":"yesterday"}`, field: "at"},
		{name: "a date without a time", body: `{"at":"2026-11-21"}`, field: "at"},
		{name: "a fraction for an integer", body: `{"items":[{"quantity":1},{"quantity":1.5}]}`, field: "items[1].quantity"},
		{name: "an integer past int64", body: `{"items":[{"quantity":99999999999999999999}]}`, field: "items[0].quantity"},
		{name: "a string for a bool", body: `{"paid":"yes"}`, field: "paid"},
		{name: "an object for a string", body: `{"role":{}}`, field: "role"},
		{name: "an object for an array", body: `{"items":{}}`, field: "items"},
		{name: "a number for an object", body: `{"meta":1}`, field: "meta"},
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
			for _, goText := range []string{"2006", "parsing time", "invalid UUID", "json: cannot", "Go struct"} {
				if strings.Contains(e.Detail, goText) || (len(e.Fields) > 0 && strings.Contains(e.Fields[0].Detail, goText)) {
					t.Errorf("the error shows Go's text %q: %+v", goText, e)
				}
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

type base struct {
	ID string `json:"id"`
}

type withEmbedded struct {
	base
	Name   string         `json:"name"`
	Counts map[string]int `json:"counts"`
	Extra  any            `json:"extra"`
}

// Where the type does not name the keys (a map, an interface), DecodeJSON
// refuses only what is ambiguous there.
func TestDecodeJSON_Types(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		field      string // "" when the body is accepted
	}{
		{name: "a promoted field", body: `{"id":"1","name":"x"}`},
		{name: "a promoted field in another case", body: `{"ID":"1"}`, field: "ID"},
		{name: "map keys that differ in case", body: `{"counts":{"a":1,"A":2}}`},
		{name: "a map key given twice", body: `{"counts":{"a":1,"a":2}}`, field: "counts.a"},
		{name: "keys of an interface that fold alike", body: `{"extra":{"k":1,"K":2}}`, field: "extra.K"},
		{name: "keys of an interface in an array", body: `{"extra":[{"k":1},{"k":1}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var v withEmbedded
			err := web.DecodeJSON(strings.NewReader(c.body), &v)
			var e *web.Error
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case c.field != "" && (!errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != c.field):
				t.Fatalf("got %v (%+v), want a 400 naming %q", err, e, c.field)
			}
		})
	}
}

// Whatever the body, DecodeJSON either decodes it or refuses it with a 400
// whose texts are printable UTF-8, and what it accepts is valid JSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"role":"buyer","items":[{"section":"a","quantity":1}],"meta":{"note":"x"}}`,
		`{"role":"buyer","ROLE":"organizer"}`, `{"items":[{"ſection":"a","section":"b"}]}`,
		`{"role":"\u0000"}`, `{"\u0001":1}`, `{"role":"a"} {}`, `[{"a":1}]`, `{"items":[[]]}`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v order
		err := web.DecodeJSON(bytes.NewReader(body), &v)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			return
		}
		var e *web.Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("got %v, want a 400 *web.Error", err)
		}
		texts := []string{e.Detail}
		for _, f := range e.Fields {
			texts = append(texts, f.Field, f.Detail)
		}
		for _, s := range texts {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("unprintable text %q", s)
			}
		}
	})
}

func TestDecodeJSON_Depth(t *testing.T) {
	t.Parallel()
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	var v any
	if err := web.DecodeJSON(strings.NewReader(nested(web.MaxJSONDepth)), &v); err != nil {
		t.Errorf("depth %d: got %v, want it decoded", web.MaxJSONDepth, err)
	}
	for _, body := range []string{nested(web.MaxJSONDepth + 1), strings.Repeat("[", 1<<20), strings.Repeat(`{"a":`, 1<<18)} {
		err := web.DecodeJSON(strings.NewReader(body), &v)
		if err == nil || !strings.Contains(err.Error(), "nested deeper") {
			t.Errorf("%.20s… (%d bytes): got %v, want refused for its depth", body, len(body), err)
		}
	}
}

// A null decodes into what can hold one (a pointer, a slice, a map, an
// interface) and is refused, naming its field, where it cannot: the
// field would be left as it was, the request taken as if it had left the
// field out. DecodeJSONNullAsAbsent takes it anywhere.
func TestDecodeJSON_Null(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body, field string // field "" when accepted
	}{
		{body: `{"role":null}`, field: "role"},
		{body: `{"paid":null}`, field: "paid"},
		{body: `{"show_id":null}`, field: "show_id"},
		{body: `{"items":[{"quantity":null}]}`, field: "items[0].quantity"},
		{body: `{"items":[null]}`, field: "items[0]"},
		{body: `{"tickets":[null]}`, field: "tickets[0]"},
		{body: `{"items":null}`},
		{body: `{"meta":null}`},
		{body: `{"at":null}`},
		{body: `{"tickets":null}`},
	} {
		var v order
		err := web.DecodeJSONBytes([]byte(c.body), &v)
		var e *web.Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: got %v, want no error", c.body, err)
		case c.field != "" && (!errors.As(err, &e) || e.Status != 400 || len(e.Fields) == 0 || e.Fields[0].Field != c.field):
			t.Errorf("%s: got %v (%+v), want a 400 naming %q", c.body, err, e, c.field)
		case c.field != "" && !strings.Contains(e.Fields[0].Detail, "not null"):
			t.Errorf("%s: detail %q does not say null is refused", c.body, e.Fields[0].Detail)
		}
		v = order{Role: "kept"}
		if err := web.DecodeJSONNullAsAbsent([]byte(c.body), &v); err != nil || v.Role != "kept" && c.body == `{"role":null}` {
			t.Errorf("%s, null as absent: got %v, role %q", c.body, err, v.Role)
		}
	}
}
