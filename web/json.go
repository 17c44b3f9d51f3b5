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
	return DecodeJSONBytes(data, v)
}

// DecodeJSONBytes is DecodeJSON of a body already read, data, which it
// does not keep or change.
//
// A null is refused where the field cannot hold one (a string, a number,
// a bool, a UUID, a time, a struct): encoding/json leaves such a field as
// it was, so the request would go through as if the field were left out,
// where the API's document says a null there is invalid. A pointer, a
// slice, a map or an interface takes a null as nil, which the document
// must then allow (writeapi's TestRequestBodies_NullAsDocumented).
func DecodeJSONBytes(data []byte, v any) error {
	return decodeJSONBytes(data, v, false)
}

// DecodeJSONNullAsAbsent is DecodeJSONBytes that takes a null anywhere as
// the field left out, for a document the engine does not define: a payment
// provider's event marks many of its fields nullable (a latest_charge
// before any charge) where the engine's struct has a plain string.
func DecodeJSONNullAsAbsent(data []byte, v any) error {
	return decodeJSONBytes(data, v, true)
}

func decodeJSONBytes(data []byte, v any, nullAsAbsent bool) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return &Error{Status: 400, Detail: "request body is empty"}
	}
	// encoding/json takes a null for a struct or a map as "nothing", and
	// the request would go through as if empty; every body is an object.
	if bytes.Equal(trimmed, []byte("null")) && wantsObject(reflect.TypeOf(v)) {
		return &Error{Status: 400, Detail: "the request body must be a JSON object, not null"}
	}
	known, err := checkKeys(data, reflect.TypeOf(v), nullAsAbsent)
	if err != nil {
		return err
	}
	if err := decodeKnown(data, v, known); err != nil {
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

// decodeKnown decodes data, which checkKeys passed, into v. When every
// key of every object decoding into a struct is one of its fields (known),
// there is no unknown field to refuse and json.Unmarshal decodes the same
// as a Decoder with DisallowUnknownFields, for less; otherwise the
// Decoder finds the unknown field and says which.
func decodeKnown(data []byte, v any, known bool) error {
	if known {
		return json.Unmarshal(data, v)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// wantsObject reports whether t, the type decoded into, is (a pointer to)
// a struct or a map.
func wantsObject(t reflect.Type) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map)
}

// MaxJSONDepth bounds the nesting of a JSON body: Decoder.Token, unlike
// Decode, has no bound, and a megabyte of '[' would otherwise cost a frame
// each. No request nests deeper than a few levels.
const MaxJSONDepth = 32

// token is one token of a JSON value, as checkKeys reads it: kind is
// one of { } [ ] (delimiters), '"' (a string, text its unescaped value),
// '0' (a number, text as written), 't' or 'f' (a bool) and 'n' (null).
type token struct {
	kind byte
	text []byte
}

// frame is an object or array checkKeys is inside.
type frame struct {
	object bool
	t      reflect.Type      // the Go type it decodes into; nil when unknown
	keys   int               // where its keys start in keyWalk.keys
	many   map[string][]byte // folded key (exact for a map) → key as given, past smallObject keys
	key    []byte            // the key whose value is being read
	elem   reflect.Type      // the type of the value being read
	index  int               // the element being read
	value  bool              // object: the next token is a value, not a key
}

// smallObject is how many keys of one object checkKeys compares one by
// one before it indexes them in a map: few objects have more, and a
// hostile one with thousands stays linear.
const smallObject = 16

// checkKeys walks the one JSON value of data beside t, the type it decodes
// into, and refuses duplicate keys, keys spelled otherwise than their
// fields, malformed JSON and trailing data.
//
// The walk is the same for every body; what feeds it differs. A body that
// json.Valid (encoding/json's own scanner, allocation-free) accepts is read
// by scan, a few lines over the bytes that may skip separators because
// the syntax is known good, allocating nothing for the common keys and
// values; a body it refuses goes to Decoder.Token, whose error text is the
// one the client gets. Either way the keys and values the walk sees are
// those encoding/json decodes: a string with an escape or a byte outside
// UTF-8 is unescaped by encoding/json itself. A hand-written decoder
// (go-json-experiment/json refuses duplicate names too) would have
// changed every error detail the API documents and the case-fold rule
// for interfaces, which it does not have.
func checkKeys(data []byte, t reflect.Type, nullAsAbsent bool) (known bool, err error) {
	room := new(struct { // one allocation for a body of common shape
		stack [8]frame
		keys  [smallObject][]byte
	})
	w := keyWalk{t: t, stack: room.stack[:0], keys: room.keys[:0], nullAsAbsent: nullAsAbsent}
	if !json.Valid(data) {
		return false, w.tokens(data)
	}
	s := scan{data: data}
	for {
		if err := w.token(s.next()); err != nil {
			return false, err
		}
		if len(w.stack) == 0 {
			return !w.unknown, nil
		}
	}
}

// tokens walks data, which json.Valid refused, through Decoder.Token, to
// the first key the walk refuses or the syntax error.
func (w *keyWalk) tokens(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return &Error{Status: 400, Detail: "malformed JSON: " + Printable(err.Error())}
		}
		if err := w.token(fromJSON(tok)); err != nil {
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

// fromJSON is tok, a token of Decoder.Token with UseNumber, as a token.
func fromJSON(tok json.Token) token {
	switch v := tok.(type) {
	case json.Delim:
		return token{kind: byte(v)}
	case string:
		return token{kind: '"', text: []byte(v)}
	case json.Number:
		return token{kind: '0', text: []byte(v)}
	case bool:
		if v {
			return token{kind: 't'}
		}
		return token{kind: 'f'}
	}
	return token{kind: 'n'}
}

// scan reads the tokens of data, one JSON value that json.Valid accepted.
type scan struct {
	data []byte
	pos  int
}

// next is the next token. Separators, and the whitespace around them,
// are skipped: in valid JSON the tokens alone say where they were.
func (s *scan) next() token {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r', ',', ':':
			s.pos++
			continue
		}
		break
	}
	start := s.pos
	c := s.data[start]
	switch c {
	case '{', '}', '[', ']':
		s.pos++
		return token{kind: c}
	case '"':
		return s.str()
	case 't', 'n':
		s.pos += 4
		return token{kind: c}
	case 'f':
		s.pos += 5
		return token{kind: c}
	}
	for s.pos < len(s.data) && strings.IndexByte("+-0123456789.eE", s.data[s.pos]) >= 0 {
		s.pos++
	}
	return token{kind: '0', text: s.data[start:s.pos]}
}

// str reads a string: its bytes as they are when they hold no escape and
// are UTF-8, else as encoding/json unescapes them (and replaces what is
// not UTF-8).
func (s *scan) str() token {
	start := s.pos
	plain := true
	s.pos++
	for s.data[s.pos] != '"' {
		c := s.data[s.pos]
		if c == '\\' {
			plain = false
			s.pos++ // the escaped byte, which may be a quote
		} else if c >= utf8.RuneSelf {
			plain = false
		}
		s.pos++
	}
	s.pos++
	raw := s.data[start:s.pos]
	if plain || utf8.Valid(raw) && bytes.IndexByte(raw, '\\') < 0 {
		return token{kind: '"', text: raw[1 : len(raw)-1]}
	}
	var v string
	_ = json.Unmarshal(raw, &v) // valid: json.Valid said so
	return token{kind: '"', text: []byte(v)}
}

// keyWalk is checkKeys's place in the value: the objects and arrays it is
// inside, outermost first, the keys of those objects, and the type of the
// whole value.
type keyWalk struct {
	t     reflect.Type
	stack []frame
	keys  [][]byte // the keys of the objects on the stack so far, outermost first
	// unknown is set by a key that may be no field of its struct (or of
	// a struct with embedded ones, where encoding/json's rules for
	// promoted fields decide): DisallowUnknownFields must then decide.
	unknown bool
	// nullAsAbsent takes a null for any field as the field left out
	// (DecodeJSONNullAsAbsent); otherwise only a nilable field takes one.
	nullAsAbsent bool
}

// token takes the next token of the value.
func (w *keyWalk) token(tok token) error {
	var top *frame
	if len(w.stack) > 0 {
		top = &w.stack[len(w.stack)-1]
	}
	if (tok.kind == '{' || tok.kind == '[') && len(w.stack) == MaxJSONDepth {
		return &Error{Status: 400, Detail: "malformed JSON: nested deeper than " + strconv.Itoa(MaxJSONDepth) + " levels"}
	}
	if top != nil && top.object && !top.value {
		if tok.kind == '}' {
			w.pop()
			return nil
		}
		return w.key(top, tok.text) // only strings come as keys
	}
	switch tok.kind {
	case '{', '[':
		if err := w.value(tok); err != nil {
			return err
		}
		w.stack = append(w.stack, frame{object: tok.kind == '{', t: w.next(), keys: len(w.keys)})
	case ']':
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
// its array indices (encoding/json names it without them), a UUID or
// time that does not parse (whose errors are Go's, naming no field)
// (issue 16: vocab), and a null where the type cannot hold one, unless
// nullAsAbsent.
func (w *keyWalk) value(tok token) error {
	t := w.next()
	null := tok.kind == 'n'
	if t == nil || null && (w.nullAsAbsent || nilable(t)) {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !null && decodesFrom(t, tok) {
		return nil
	}
	detail := "must be " + jsonKind(t) + ", got " + given(tok)
	if null {
		detail = "must be " + jsonKind(t) + ", not null"
	}
	field := Printable(valuePath(w.stack))
	return &Error{Status: 400, Detail: field + ": " + detail, Fields: []domain.FieldError{{Field: field, Detail: detail}}}
}

// nilable reports whether a field of type t takes a JSON null, as nil.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

// decodesFrom reports whether a value whose first token is tok decodes into t,
// as far as its kind (and, for a UUID or a time, its text) tells.
func decodesFrom(t reflect.Type, tok token) bool {
	isStr, isNum := tok.kind == '"', tok.kind == '0'
	switch t {
	case uuidType:
		_, err := uuid.ParseBytes(tok.text)
		return isStr && err == nil
	case timeType:
		_, err := time.Parse(time.RFC3339Nano, string(tok.text))
		return isStr && err == nil
	}
	if selfDecoding(t) {
		return true // it decodes itself
	}
	switch t.Kind() {
	case reflect.String:
		return isStr
	case reflect.Bool:
		return tok.kind == 't' || tok.kind == 'f'
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err := strconv.ParseInt(string(tok.text), 10, t.Bits())
		return isNum && err == nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err := strconv.ParseUint(string(tok.text), 10, t.Bits())
		return isNum && err == nil
	case reflect.Float32, reflect.Float64:
		return isNum
	case reflect.Slice, reflect.Array:
		return tok.kind == '['
	case reflect.Struct, reflect.Map:
		return tok.kind == '{'
	}
	return true
}

// given names the JSON value whose first token is tok, for an error.
func given(tok token) string {
	switch tok.kind {
	case '"':
		return "the string " + strconv.Quote(Printable(string(tok.text)))
	case '0':
		return "the number " + Printable(string(tok.text))
	case 't':
		return "true"
	case 'f':
		return "false"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "null"
}

// key takes a key of the object on top, refusing one spelled otherwise
// than its field and one given twice.
func (w *keyWalk) key(top *frame, key []byte) error {
	elem, spelled, err := member(top.t, key)
	if err != nil {
		return &Error{Status: 400, Detail: "key spelled otherwise than its field", Fields: []domain.FieldError{{Field: Printable(path(w.stack, key)), Detail: Printable("must be spelled " + strconv.Quote(spelled))}}}
	}
	exact := kind(top.t) == reflect.Map
	if kind(top.t) == reflect.Struct && (elem == nil || embeds(decodes(top.t))) {
		w.unknown = true
	}
	if first, dup := w.given(top, key, exact); dup {
		detail := "is given twice"
		if !bytes.Equal(first, key) {
			detail = "differs only in case from " + strconv.Quote(string(first))
		}
		return &Error{Status: 400, Detail: "duplicate key", Fields: []domain.FieldError{{Field: Printable(path(w.stack, key)), Detail: Printable(detail)}}}
	}
	top.key, top.elem, top.value = key, elem, true
	return nil
}

// given returns the key of the object on top equal to key (exactly, or
// as encoding/json folds case unless exact) if one was given before, and
// else records key.
func (w *keyWalk) given(top *frame, key []byte, exact bool) ([]byte, bool) {
	fold := func(k []byte) string {
		if exact {
			return string(k)
		}
		return foldKey(string(k))
	}
	if top.many != nil {
		if first, dup := top.many[fold(key)]; dup {
			return first, true
		}
		top.many[fold(key)] = key
		return nil, false
	}
	for _, k := range w.keys[top.keys:] {
		if bytes.Equal(k, key) || !exact && foldEqual(k, key) {
			return k, true
		}
	}
	w.keys = append(w.keys, key)
	if len(w.keys)-top.keys > smallObject {
		top.many = make(map[string][]byte, 2*smallObject)
		for _, k := range w.keys[top.keys:] {
			top.many[fold(k)] = k
		}
	}
	return nil, false
}

// next is the type of the value about to be read.
func (w *keyWalk) next() reflect.Type {
	if len(w.stack) == 0 {
		return w.t
	}
	top := &w.stack[len(w.stack)-1]
	if top.object {
		return top.elem
	}
	return elemType(top.t)
}

// pop leaves the object or array on top, which has ended, and forgets its
// keys.
func (w *keyWalk) pop() {
	w.keys = w.keys[:w.stack[len(w.stack)-1].keys]
	w.stack = w.stack[:len(w.stack)-1]
	w.done()
}

// done marks the end of a value in the frame on top.
func (w *keyWalk) done() {
	if len(w.stack) == 0 {
		return
	}
	top := &w.stack[len(w.stack)-1]
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

var (
	uuidType = reflect.TypeFor[uuid.UUID]()
	timeType = reflect.TypeFor[time.Time]()
)

// selfDecoding reports whether t, or a pointer to it, unmarshals itself.
// The answer is kept per type: Implements is the walk's dearest call.
func selfDecoding(t reflect.Type) bool {
	if v, ok := selfCache.Load(t); ok {
		return v.(bool)
	}
	self := t.Implements(unmarshaler) || t.Implements(textUnmarshaler) ||
		reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
	selfCache.Store(t, self)
	return self
}

var selfCache sync.Map // reflect.Type → bool

// decodes returns t without pointers, or nil when encoding/json does not
// decode into it field by field (an interface, a type that unmarshals
// itself): what its JSON holds is then not known.
func decodes(t reflect.Type) reflect.Type {
	for t != nil {
		if selfDecoding(t) {
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
func member(t reflect.Type, key []byte) (reflect.Type, string, error) {
	t = decodes(t)
	if t == nil {
		return nil, "", nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), "", nil
	case reflect.Struct:
		fields := structFields(t)
		if f, ok := fields[string(key)]; ok {
			return f, "", nil
		}
		for name := range fields {
			if foldEqual([]byte(name), key) {
				return nil, name, errors.New("misspelled")
			}
		}
	}
	return nil, "", nil // unknown keys are DisallowUnknownFields's
}

// embeds reports whether struct type t has an embedded field.
func embeds(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).Anonymous {
			return true
		}
	}
	return false
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
func path(stack []frame, key []byte) string {
	if p := valuePath(stack[:len(stack)-1]); p != "" {
		return p + "." + string(key)
	}
	return string(key)
}

// valuePath names the value being read in the frames of stack:
// sections[2].name, items[0].
func valuePath(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.Write(f.key)
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

// foldEqual reports whether a and b fold alike, as foldKey folds them,
// without building either folded key.
func foldEqual(a, b []byte) bool {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			x, y := a[0], b[0]
			if 'a' <= x && x <= 'z' {
				x -= 'a' - 'A'
			}
			if 'a' <= y && y <= 'z' {
				y -= 'a' - 'A'
			}
			if x != y {
				return false
			}
			a, b = a[1:], b[1:]
			continue
		}
		r, n := utf8.DecodeRune(a)
		q, m := utf8.DecodeRune(b)
		if unicode.ToUpper(r) != unicode.ToUpper(q) {
			return false
		}
		a, b = a[n:], b[m:]
	}
	return len(a) == len(b)
}

// jsonKind names what JSON a Go type takes, for error messages.
func jsonKind(t reflect.Type) string {
	switch t {
	case uuidType:
		return "a UUID such as 3f2c1a9e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"
	case timeType:
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
