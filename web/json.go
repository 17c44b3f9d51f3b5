package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
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
// experiment; so checkKeys walks the tokens first (Decoder.Token) and
// refuses them, with the case folding encoding/json matches by. No request
// body has a free-form map, so keys differing in case are refused in every
// object.
func DecodeJSON(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return &Error{Status: 400, Detail: "request body unreadable"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{Status: 400, Detail: "request body is empty"}
	}
	if err := checkKeys(data); err != nil {
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
			return &Error{Status: 400, Detail: "unknown field", Fields: []domain.FieldError{{Field: field, Detail: "unknown field"}}}
		}
		return &Error{Status: 400, Detail: "malformed JSON: " + err.Error()}
	}
	return nil
}

// frame is an object or array checkKeys is inside.
type frame struct {
	object bool
	keys   map[string]string // folded key → key as given
	key    string            // the key whose value is being read
	index  int               // the element being read
	value  bool              // object: the next token is a value, not a key
}

// checkKeys walks the one JSON value of data and refuses duplicate keys,
// keys that differ only in case, malformed JSON and trailing data.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	// done marks the end of a value in the frame on top.
	done := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.object {
			top.value = false
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return &Error{Status: 400, Detail: "malformed JSON: " + err.Error()}
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && !top.value {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				done()
			} else {
				key := tok.(string) // Token yields only strings as keys
				folded := foldKey(key)
				if first, dup := top.keys[folded]; dup {
					detail := "is given twice"
					if first != key {
						detail = "differs only in case from " + strconv.Quote(first)
					}
					return &Error{Status: 400, Detail: "duplicate key", Fields: []domain.FieldError{{Field: Printable(path(stack, key)), Detail: Printable(detail)}}}
				}
				top.keys[folded] = key
				top.key, top.value = key, true
			}
		} else {
			switch tok {
			case json.Delim('{'):
				stack = append(stack, &frame{object: true, keys: map[string]string{}})
			case json.Delim('['):
				stack = append(stack, &frame{})
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
				done()
			default:
				done()
			}
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: 400, Detail: "malformed JSON: data after the value"}
	}
	return nil
}

// path names key inside the frames of stack: sections[2].name.
func path(stack []*frame, key string) string {
	var b strings.Builder
	for _, f := range stack[:len(stack)-1] {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
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
		return "a UUID string"
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time string"
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
