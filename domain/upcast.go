package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrSchemaVersion says that a stored event's schema version cannot be
// brought to the current shape of its type: it is newer than this build
// knows, or an upcaster is missing.
var ErrSchemaVersion = errors.New("unsupported event schema version")

// Versioned is implemented by events whose shape changed since their type was
// introduced. SchemaVersion is the version of the current shape; an event
// that does not implement it is at version 1.
type Versioned interface {
	Event
	SchemaVersion() int
}

// Upcaster turns the stored JSON of one schema version of an event type into
// the JSON of the next version. It must be a pure function of data: stored
// events never change, they are upcast every time they are read.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// RegisterUpcaster adds up, which turns the data of type typ at schema
// version from into version from+1. The type must be registered first, and
// from must be below its current version. Registering a step twice, or one
// the type does not need, panics: it is a programming error.
func RegisterUpcaster(r *Registry, typ string, from int, up Upcaster) {
	current, ok := r.versions[typ]
	switch {
	case !ok:
		panic("domain: upcaster for an unregistered event type: " + typ)
	case from < 1 || from >= current:
		panic(fmt.Sprintf("domain: upcaster of %s from version %d: the current version is %d", typ, from, current))
	}
	steps := r.upcasters[typ]
	if steps == nil {
		steps = map[int]Upcaster{}
		r.upcasters[typ] = steps
	}
	if _, dup := steps[from]; dup {
		panic(fmt.Sprintf("domain: upcaster of %s from version %d registered twice", typ, from))
	}
	steps[from] = up
}

// SchemaVersion returns the current schema version of an event type, and
// whether the type is registered.
func (r *Registry) SchemaVersion(typ string) (int, bool) {
	v, ok := r.versions[typ]
	return v, ok
}

// Upcast returns the data of an event of type typ stored at schema version
// version in the current shape of the type, and the current version. Data
// that is current, and data of types the registry does not know, is returned
// as it is. A version newer than the current one, or a missing upcaster,
// fails with ErrSchemaVersion.
func (r *Registry) Upcast(typ string, version int, data []byte) ([]byte, int, error) {
	current, ok := r.versions[typ]
	if !ok {
		return data, version, nil
	}
	if version < 1 || version > current {
		return nil, version, fmt.Errorf("%w: %s version %d (this build knows up to %d)", ErrSchemaVersion, typ, version, current)
	}
	for v := version; v < current; v++ {
		up, ok := r.upcasters[typ][v]
		if !ok {
			return nil, v, fmt.Errorf("%w: %s: no upcaster from version %d", ErrSchemaVersion, typ, v)
		}
		out, err := up(data)
		if err != nil {
			return nil, v, fmt.Errorf("upcast %s from version %d: %w", typ, v, err)
		}
		data = out
	}
	return data, current, nil
}

// UpcastRecorded returns the data of a recorded event in the current shape of
// its type, and that shape's version; the version it was stored at is in its
// metadata. See Upcast.
func (r *Registry) UpcastRecorded(rec RecordedEvent) ([]byte, int, error) {
	if r.versions[rec.Type] <= 1 {
		// A type with one shape, or unknown: skip reading the metadata.
		return rec.Data, 1, nil
	}
	version, err := StoredSchemaVersion(rec.Metadata)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", rec.Type, err)
	}
	return r.Upcast(rec.Type, version, rec.Data)
}

// DecodeRecorded turns a recorded event into its Go value in the current
// shape, upcasting its data from the schema version recorded in its
// metadata.
func (r *Registry) DecodeRecorded(rec RecordedEvent) (Event, error) {
	if _, ok := r.decoders[rec.Type]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, rec.Type)
	}
	data, _, err := r.UpcastRecorded(rec)
	if err != nil {
		return nil, err
	}
	return r.Decode(rec.Type, data)
}

var schemaVersionKey = []byte(`"schema_version"`)

// StoredSchemaVersion returns the schema version recorded in an event's
// metadata: 1 when there is none, as for every event stored before its type
// had versions.
func StoredSchemaVersion(metadata []byte) (int, error) {
	if !bytes.Contains(metadata, schemaVersionKey) {
		return 1, nil
	}
	var md struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(metadata, &md); err != nil {
		return 0, fmt.Errorf("event metadata: %w", err)
	}
	if md.SchemaVersion == nil {
		return 1, nil
	}
	return *md.SchemaVersion, nil
}

// schemaVersion returns the schema version of e's current shape.
func schemaVersion(e Event) int {
	if v, ok := e.(Versioned); ok {
		return v.SchemaVersion()
	}
	return 1
}

// upcastSeatsHeldV1 brings show.seats_held from version 1 to 2, which added
// hold_ttl_seconds: a version 1 hold lasted from held_at to expires_at.
func upcastSeatsHeldV1(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	var held, expires time.Time
	if err := json.Unmarshal(fields["held_at"], &held); err != nil {
		return nil, fmt.Errorf("held_at: %w", err)
	}
	if err := json.Unmarshal(fields["expires_at"], &expires); err != nil {
		return nil, fmt.Errorf("expires_at: %w", err)
	}
	ttl, err := json.Marshal(int64(expires.Sub(held).Round(time.Second) / time.Second))
	if err != nil {
		return nil, err
	}
	fields["hold_ttl_seconds"] = ttl
	return json.Marshal(fields)
}

// legacyMaxUnitsPerBuyer is the per-buyer limit of shows created before
// show.created had one: the default when it was introduced. It never
// changes, even if DefaultMaxUnitsPerBuyer does.
const legacyMaxUnitsPerBuyer = 10

// upcastShowCreatedV1 brings show.created from version 1 to 2, which added
// max_units_per_buyer: a version 1 show gets legacyMaxUnitsPerBuyer.
func upcastShowCreatedV1(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	limit, err := json.Marshal(legacyMaxUnitsPerBuyer)
	if err != nil {
		return nil, err
	}
	fields["max_units_per_buyer"] = limit
	return json.Marshal(fields)
}
