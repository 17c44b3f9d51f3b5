package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// DecodeJSON reads body, one JSON value, into v, strictly: a key given
// twice in one object, or two keys that differ only in case, an unknown
// field, a value of the wrong type, malformed JSON and data after the
// value are each a 400 *Error, naming the key where there is one.
//
// encoding/json keeps the last of duplicate keys and matches keys to fields
// case-insensitively, so {"role":"buyer","ROLE":"organizer"} decodes as an
// organizer while anything that reads the first key sees a buyer. It has no
// option to refuse either, and encoding/json/v2, which does, is still an
// experiment; so checkKeys walks the tokens first (Decoder.Token) beside
// the type of v and refuses a key given twice, a key spelled otherwise
// than its struct field, and, where the type does not say (an interface),
// two keys that fold alike as encoding/json folds them. Map keys are the
// map's: only exact duplicates are refused there.
func DecodeJSON(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return &Error{Status: 400, Detail: "request body unreadable"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{Status: 400, Detail: "request body is empty"}
	}
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return &Error{Status: 400, Detail: "a field has the wrong type", Fields: []domain.FieldError{{Field: typeErr.Field, Detail: "must be " + jsonKind(typeErr.Type)}}}
		// encoding/json has no typed error for unknown fields; its message
		// is the only way to tell.
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &Error{Status: 400, Detail: "unknown field", Fields: []domain.FieldError{{Field: Printable(field), Detail: "unknown field"}}}
		}
		// issue 16: vocab. Go's own text (a time layout, an internal
		// chain) is not the client's: only a syntax error is echoed.
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return &Error{Status: 400, Detail: "malformed JSON: " + Printable(err.Error())}
		}
		return &Error{Status: 400, Detail: "a field has a value of the wrong form"}
	}
	return nil
}

// MaxJSONDepth bounds the nesting of a JSON body: Decoder.Token, unlike
// Decode, has no bound, and a megabyte of '[' would otherwise cost a frame
// each. No request nests deeper than a few levels.
const MaxJSONDepth = 32

// frame is an object or array checkKeys is inside.
type frame struct {
	object bool
	t      reflect.Type      // the Go type it decodes into; nil when unknown
	keys   map[string]string // folded key (exact for a map) → key as given
	key    string            // the key whose value is being read
	elem   reflect.Type      // the type of the value being read
	index  int               // the element being read
	value  bool              // object: the next token is a value, not a key
}

// checkKeys walks the one JSON value of data beside t, the type it decodes
// into, and refuses duplicate keys, keys spelled otherwise than their
// fields, malformed JSON and trailing data.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := keyWalk{t: t}
	for {
		tok, err := dec.Token()
		if err != nil {
			return &Error{Status: 400, Detail: "malformed JSON: " + Printable(err.Error())}
		}
		if err := w.token(tok); err != nil {
			return err
		}
		if len(w.stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: 400, Detail: "malformed JSON: data after the value"}
	}
	return nil
}

// keyWalk is checkKeys's place in the value: the objects and arrays it is
// inside, outermost first, and the type of the whole value.
type keyWalk struct {
	t     reflect.Type
	stack []*frame
}

// token takes the next token of the value.
func (w *keyWalk) token(tok json.Token) error {
	var top *frame
	if len(w.stack) > 0 {
		top = w.stack[len(w.stack)-1]
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && len(w.stack) == MaxJSONDepth {
		return &Error{Status: 400, Detail: "malformed JSON: nested deeper than " + strconv.Itoa(MaxJSONDepth) + " levels"}
	}
	if top != nil && top.object && !top.value {
		if d, ok := tok.(json.Delim); ok && d == '}' {
			w.pop()
			return nil
		}
		return w.key(top, tok.(string)) // Token yields only strings as keys
	}
	switch tok {
	case json.Delim('{'), json.Delim('['):
		if err := w.value(tok); err != nil {
			return err
		}
		f := &frame{object: tok == json.Delim('{'), t: w.next()}
		if f.object {
			f.keys = map[string]string{}
		}
		w.stack = append(w.stack, f)
	case json.Delim(']'):
		w.pop()
	default:
		if err := w.value(tok); err != nil {
			return err
		}
		w.done()
	}
	return nil
}

// value refuses a value (a scalar, or the start of an object or array) of
// another kind than the type it decodes into takes, naming its field with
// its array indices (encoding/json names it without them), and a UUID or
// time that does not parse (whose errors are Go's, naming no field)
// (issue 16: vocab).
func (w *keyWalk) value(tok json.Token) error {
	t := w.next()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || tok == nil {
		return nil
	}
	if decodesFrom(t, tok) {
		return nil
	}
	field := Printable(valuePath(w.stack))
	detail := "must be " + jsonKind(t) + ", got " + given(tok)
	return &Error{Status: 400, Detail: field + ": " + detail, Fields: []domain.FieldError{{Field: field, Detail: detail}}}
}

// decodesFrom reports whether a value whose first token is tok decodes into t,
// as far as its kind (and, for a UUID or a time, its text) tells.
func decodesFrom(t reflect.Type, tok json.Token) bool {
	str, isStr := tok.(string)
	num, isNum := tok.(json.Number)
	_, isBool := tok.(bool)
	switch t {
	case reflect.TypeFor[uuid.UUID]():
		_, err := uuid.Parse(str)
		return isStr && err == nil
	case reflect.TypeFor[time.Time]():
		_, err := time.Parse(time.RFC3339Nano, str)
		return isStr && err == nil
	}
	if t.Implements(unmarshaler) || t.Implements(textUnmarshaler) ||
		reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return true // it decodes itself
	}
	switch t.Kind() {
	case reflect.String:
		return isStr
	case reflect.Bool:
		return isBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err := strconv.ParseInt(string(num), 10, t.Bits())
		return isNum && err == nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err := strconv.ParseUint(string(num), 10, t.Bits())
		return isNum && err == nil
	case reflect.Float32, reflect.Float64:
		return isNum
	case reflect.Slice, reflect.Array:
		return tok == json.Delim('[')
	case reflect.Struct, reflect.Map:
		return tok == json.Delim('{')
	}
	return true
}

// given names the JSON value whose first token is tok, for an error.
func given(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return "the string " + strconv.Quote(Printable(v))
	case json.Number:
		return "the number " + Printable(string(v))
	case bool:
		return strconv.FormatBool(v)
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	}
	return "null"
}

// key takes a key of the object on top, refusing one spelled otherwise
// than its field and one given twice.
func (w *keyWalk) key(top *frame, key string) error {
	elem, spelled, err := member(top.t, key)
	if err != nil {
		return &Error{Status: 400, Detail: "key spelled otherwise than its field", Fields: []domain.FieldError{{Field: Printable(path(w.stack, key)), Detail: Printable("must be spelled " + strconv.Quote(spelled))}}}
	}
	folded := key
	if k := kind(top.t); k != reflect.Map {
		folded = foldKey(key)
	}
	if first, dup := top.keys[folded]; dup {
		detail := "is given twice"
		if first != key {
			detail = "differs only in case from " + strconv.Quote(first)
		}
		return &Error{Status: 400, Detail: "duplicate key", Fields: []domain.FieldError{{Field: Printable(path(w.stack, key)), Detail: Printable(detail)}}}
	}
	top.keys[folded] = key
	top.key, top.elem, top.value = key, elem, true
	return nil
}

// next is the type of the value about to be read.
func (w *keyWalk) next() reflect.Type {
	if len(w.stack) == 0 {
		return w.t
	}
	top := w.stack[len(w.stack)-1]
	if top.object {
		return top.elem
	}
	return elemType(top.t)
}

// pop leaves the object or array on top, which has ended.
func (w *keyWalk) pop() {
	w.stack = w.stack[:len(w.stack)-1]
	w.done()
}

// done marks the end of a value in the frame on top.
func (w *keyWalk) done() {
	if len(w.stack) == 0 {
		return
	}
	top := w.stack[len(w.stack)-1]
	if top.object {
		top.value = false
	} else {
		top.index++
	}
}

var (
	unmarshaler     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodes returns t without pointers, or nil when encoding/json does not
// decode into it field by field (an interface, a type that unmarshals
// itself): what its JSON holds is then not known.
func decodes(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshaler) || t.Implements(textUnmarshaler) ||
			reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			break
		}
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		return nil
	}
	return t
}

func kind(t reflect.Type) reflect.Kind {
	if t = decodes(t); t == nil {
		return reflect.Invalid
	}
	return t.Kind()
}

// elemType is the type of the elements of an array decoding into t.
func elemType(t reflect.Type) reflect.Type {
	if t = decodes(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

// member returns the type of the value of key in an object decoding into
// t. A key that matches a field of a struct only as encoding/json folds
// case is an error, with the field's name.
func member(t reflect.Type, key string) (reflect.Type, string, error) {
	t = decodes(t)
	if t == nil {
		return nil, "", nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), "", nil
	case reflect.Struct:
		fields := structFields(t)
		if f, ok := fields[key]; ok {
			return f, "", nil
		}
		folded := foldKey(key)
		for name := range fields {
			if foldKey(name) == folded {
				return nil, name, errors.New("misspelled")
			}
		}
	}
	return nil, "", nil // unknown keys are DisallowUnknownFields's
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields maps the JSON names of the fields of struct type t to their
// types, by encoding/json's rules: exported fields, named by their tag or
// else their Go name, those of embedded structs promoted unless a
// shallower field has the name.
func structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for _, e := range embedded {
		for name, ft := range structFields(e) {
			if _, ok := fields[name]; !ok {
				fields[name] = ft
			}
		}
	}
	fieldCache.Store(t, fields)
	return fields
}

// path names key inside the frames of stack: sections[2].name.
func path(stack []*frame, key string) string {
	if p := valuePath(stack[:len(stack)-1]); p != "" {
		return p + "." + key
	}
	return key
}

// valuePath names the value being read in the frames of stack:
// sections[2].name, items[0].
func valuePath(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}

// foldKey folds a key the way encoding/json does when it matches keys to
// fields (its foldName): each rune upper-cased, so "ROLE", "role" and
// "roLe" fold alike, and so do "s" and "ſ".
func foldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// jsonKind names what JSON a Go type takes, for error messages.
func jsonKind(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[uuid.UUID]():
		return "a UUID such as 3f2c1a9e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time such as 2026-11-21T20:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}
