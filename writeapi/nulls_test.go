package writeapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/openapi"
	"github.com/ticketing/ticketing/web"
)

// requestBodies is the type each operation's JSON body decodes into, by
// the operation's id in the OpenAPI document.
var requestBodies = map[string]any{
	"signUp": signUpRequest{}, "signIn": signInRequest{},
	"createShow": createShowRequest{}, "editShow": editShowRequest{},
	"addTicketType": ticketTypeRequest{}, "changeTicketType": ticketTypePatchRequest{},
	"setQuota": domain.Quota{}, "setOrderLimits": orderLimitsRequest{}, "createVoucher": domain.Voucher{},
	"recordScans": scansRequest{}, "checkIn": checkInRequest{}, "transferTicket": transferRequest{},
	"joinWaitlist": joinWaitlistRequest{}, "leaveWaitlist": leaveWaitlistRequest{},
	"placeOrder": placeOrderRequest{}, "payOrder": payRequest{}, "refundOrder": refundRequest{},
	"createEndpoint": createEndpointRequest{},
}

// notOurDocument are the operations whose body is another party's
// document: a payment provider's event, decoded with null taken as absent
// (web.DecodeJSONNullAsAbsent) because the provider marks its own fields
// nullable.
var notOurDocument = []string{"paymentWebhook"}

// TestRequestBodies_NullAsDocumented holds every request body's fields to
// the document on null, through the decoder the API uses:
//   - a field the document lets be null decodes from null;
//   - a field it does not is refused with a 400 when null, unless the
//     field is required and a pointer (null is then "left out", which the
//     handler refuses as it refuses a missing field).
//
// Before this test the decoder took a null as "left out" for every field,
// so a refund's {"restock": null} was accepted where the document said it
// was invalid (schemathesis's negative_data_rejection, one CI run).
func TestRequestBodies_NullAsDocumented(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	d := nullDoc{schemas: dig(doc, "components", "schemas")}
	seen := map[string]bool{}
	for _, item := range dig(doc, "paths") {
		for _, op := range item.(map[string]any) {
			op, _ := op.(map[string]any)
			schema := dig(op, "requestBody", "content", "application/json")["schema"]
			id, _ := op["operationId"].(string)
			if schema == nil || slices.Contains(notOurDocument, id) {
				continue
			}
			var props []property
			d.walk(schema, "", &props)
			if len(props) == 0 {
				continue // {type: object}: nothing to hold a field to
			}
			body, ok := requestBodies[id]
			if !ok {
				t.Errorf("%s: a JSON body with properties and no entry in requestBodies", id)
				continue
			}
			seen[id] = true
			for _, p := range props {
				checkNull(t, id, reflect.TypeOf(body), p)
			}
		}
	}
	for id := range requestBodies {
		if !seen[id] {
			t.Errorf("requestBodies names %s, which the document has no JSON body of properties for", id)
		}
	}
}

// checkNull decodes a body of type typ with null at p's path, and holds
// the outcome to the document.
func checkNull(t *testing.T, op string, typ reflect.Type, p property) {
	t.Helper()
	field, ok := fieldType(typ, p.path)
	if !ok {
		t.Errorf("%s: %s is in the document and in no field of %v", op, p.path, typ)
		return
	}
	err := web.DecodeJSONBytes(nullAt(p.path), reflect.New(typ).Interface())
	var we *web.Error
	refused := errors.As(err, &we) && we.Status == 400
	switch {
	case err != nil && !refused:
		t.Errorf("%s: null at %s: %v, want a 400 or nothing", op, p.path, err)
	case p.nullable && refused:
		t.Errorf("%s: the document lets %s be null, and the decoder refuses it: %v (make the field a pointer)", op, p.path, err)
	case !p.nullable && !refused && !p.required:
		t.Errorf("%s: the document does not let %s be null, and the decoder takes null as left out (%v): document the null, or make the field a value", op, p.path, field)
	}
}

// property is a property of a request body's schema: its path (.a[].b),
// whether its object requires it, and whether it may be null.
type property struct {
	path               string
	required, nullable bool
}

type nullDoc struct{ schemas map[string]any }

// resolve follows $ref.
func (d nullDoc) resolve(s any) map[string]any {
	m, _ := s.(map[string]any)
	for m != nil && m["$ref"] != nil {
		ref, _ := m["$ref"].(string)
		m, _ = d.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	return m
}

// nullable reports whether schema s takes a null.
func (d nullDoc) nullable(s any) bool {
	m := d.resolve(s)
	switch t := m["type"].(type) {
	case string:
		if t == "null" {
			return true
		}
	case []any:
		if slices.Contains(t, any("null")) {
			return true
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, _ := m[k].([]any)
		if slices.ContainsFunc(alts, d.nullable) {
			return true
		}
	}
	return false
}

// walk appends the properties of schema s, and of the objects within it,
// under path.
func (d nullDoc) walk(s any, path string, out *[]property) {
	m := d.resolve(s)
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		alts, _ := m[k].([]any)
		for _, alt := range alts {
			d.walk(alt, path, out)
		}
	}
	req, _ := m["required"].([]any)
	props, _ := m["properties"].(map[string]any)
	for name, ps := range props {
		p := path + "." + name
		if !slices.ContainsFunc(*out, func(q property) bool { return q.path == p }) {
			*out = append(*out, property{path: p, required: slices.Contains(req, any(name)), nullable: d.nullable(ps)})
		}
		d.walk(ps, p, out)
	}
	if items := m["items"]; items != nil {
		d.walk(items, path+"[]", out)
	}
}

// segments splits a path (.a[].b) into its names, "[]" for an element.
func segments(path string) []string {
	var out []string
	for _, s := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		n := 0
		for ; strings.HasSuffix(s, "[]"); n++ {
			s = strings.TrimSuffix(s, "[]")
		}
		out = append(out, s)
		for range n {
			out = append(out, "[]")
		}
	}
	return out
}

// nullAt is a JSON body that is null at path and empty elsewhere:
// {"a":[{"b":null}]} for .a[].b.
func nullAt(path string) []byte {
	var b strings.Builder
	segs := segments(path)
	for _, s := range segs {
		if s == "[]" {
			b.WriteString("[")
		} else {
			b.WriteString(`{"` + s + `":`)
		}
	}
	b.WriteString("null")
	for _, s := range slices.Backward(segs) {
		if s == "[]" {
			b.WriteString("]")
		} else {
			b.WriteString("}")
		}
	}
	return []byte(b.String())
}

// fieldType is the type of the field at path in t, by JSON name.
func fieldType(t reflect.Type, path string) (reflect.Type, bool) {
	for _, s := range segments(path) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if s == "[]" {
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return nil, false
			}
			t = t.Elem()
			continue
		}
		f, ok := jsonField(t, s)
		if !ok {
			return nil, false
		}
		t = f
	}
	return t, true
}

// jsonField is the type of the field of struct t named name in JSON,
// looking into embedded structs as encoding/json does.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name || tag == "" && f.Name == name {
			return f.Type, true
		}
	}
	return nil, false
}

// dig is the object at keys within m, or nil.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func TestNullAt(t *testing.T) {
	for path, want := range map[string]string{
		".a":       `{"a":null}`,
		".a[].b":   `{"a":[{"b":null}]}`,
		".a[][].b": `{"a":[[{"b":null}]]}`,
	} {
		if got := string(nullAt(path)); got != want {
			t.Errorf("nullAt(%q) = %s, want %s", path, got, want)
		}
	}
}
