// Package domain holds the ticketing aggregates (Show, Order), their events,
// their invariants and the domain errors. It imports only the standard
// library and uuid.
package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is a domain event: a past-tense fact with a stable type name that is
// never renamed. A change of shape gets a new schema version and an upcaster
// (see Versioned, RegisterUpcaster); a breaking change gets a new type name.
type Event interface {
	EventType() string
}

// Stream versions. The first event of a stream has version 1.
const (
	// AnyVersion skips the optimistic concurrency check.
	AnyVersion int64 = -1
	// NoStream expects the stream not to exist yet.
	NoStream int64 = 0
)

// Position is a place in the global log, ordered by Commit, then Prepare.
// PostgreSQL uses the same number for both; EventStoreDB fills both.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event of the global log.
var Start = Position{}

// PositionAt returns the position with the single number n, as used by stores
// whose log has one dense sequence.
func PositionAt(n uint64) Position { return Position{Commit: n, Prepare: n} }

// Less reports whether p comes before q in the global log.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// IsZero reports whether p is the start of the log.
func (p Position) IsZero() bool { return p == Position{} }

// String renders p as the opaque token the APIs hand out.
func (p Position) String() string {
	if p.Commit == p.Prepare {
		return strconv.FormatUint(p.Commit, 10)
	}
	return strconv.FormatUint(p.Commit, 10) + "." + strconv.FormatUint(p.Prepare, 10)
}

// ParsePosition parses a token made by Position.String.
func ParsePosition(s string) (Position, error) {
	c, p, two := strings.Cut(s, ".")
	commit, err := strconv.ParseUint(c, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("invalid position %q", s)
	}
	if !two {
		return PositionAt(commit), nil
	}
	prepare, err := strconv.ParseUint(p, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("invalid position %q", s)
	}
	return Position{Commit: commit, Prepare: prepare}, nil
}

// EventData is an encoded event ready to be appended to a stream.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON, see Metadata; may be empty
}

// Metadata travels with every event: who caused it and as part of what, and
// the schema version of its data.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	// SchemaVersion is the version of the data's shape; Encode sets it for
	// Versioned events. Absent, it is 1.
	SchemaVersion int `json:"schema_version,omitempty"`
}

// RecordedEvent is an event as the store recorded it.
type RecordedEvent struct {
	ID         uuid.UUID
	StreamID   string
	Version    int64
	Position   Position
	Type       string
	Data       []byte
	Metadata   []byte
	RecordedAt time.Time
}

// Registry maps stable event type names to their Go types and the current
// schema version of each, and holds the upcasters that bring stored data of
// older versions to the current shape. Registration is explicit: see
// RegisterEvents.
type Registry struct {
	decoders  map[string]func([]byte) (Event, error)
	versions  map[string]int              // type → current schema version
	upcasters map[string]map[int]Upcaster // type → from version → upcaster
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		decoders:  map[string]func([]byte) (Event, error){},
		versions:  map[string]int{},
		upcasters: map[string]map[int]Upcaster{},
	}
}

// Register adds the event type E to r. Registering one name twice panics: it
// is a programming error.
func Register[E Event](r *Registry) {
	var zero E
	name := zero.EventType()
	if _, dup := r.decoders[name]; dup {
		panic("domain: event type registered twice: " + name)
	}
	r.decoders[name] = func(data []byte) (Event, error) {
		var e E
		err := json.Unmarshal(data, &e)
		return e, err
	}
	r.versions[name] = schemaVersion(zero)
}

// Decode turns data in the current shape of its type into its Go value, as
// encoding/json does (the events a log holds most of are read by hand, see
// fastDecoders). A stored event goes through DecodeRecorded, which upcasts
// it first.
func (r *Registry) Decode(typ string, data []byte) (Event, error) {
	if fast := fastDecoders[typ]; fast != nil && r.decoders[typ] != nil {
		jr := jsonReader{b: data}
		if e := fast(&jr); jr.end() {
			return e, nil
		}
	}
	return r.decodeJSON(typ, data)
}

// decodeJSON is Decode with encoding/json alone.
func (r *Registry) decodeJSON(typ string, data []byte) (Event, error) {
	dec, ok := r.decoders[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, typ)
	}
	e, err := dec(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return e, nil
}

// DecodeAll decodes recorded events in order; see DecodeRecorded.
func (r *Registry) DecodeAll(recs []RecordedEvent) ([]Event, error) {
	out := make([]Event, len(recs))
	for i, rec := range recs {
		e, err := r.DecodeRecorded(rec)
		if err != nil {
			return nil, fmt.Errorf("%s@%d: %w", rec.StreamID, rec.Version, err)
		}
		out[i] = e
	}
	return out, nil
}

// RegisterEvents registers every event of the domain with r.
func RegisterEvents(r *Registry) {
	Register[ShowCreated](r)
	Register[ShowDetailsChanged](r)
	Register[SectionPriceChanged](r)
	Register[ShowPublished](r)
	Register[ShowCancelled](r)
	Register[SeatsHeld](r)
	Register[SeatsReleased](r)
	Register[SeatsSold](r)
	Register[ShowBuyerLimitChanged](r)
	Register[OrderPlaced](r)
	Register[OrderConfirmed](r)
	Register[OrderCancelled](r)
	Register[OrderExpired](r)
	Register[TicketCheckedIn](r)
	// issue 14: rules
	Register[TicketTypeSet](r)
	Register[QuotaSet](r)
	Register[OrderLimitsChanged](r)
	Register[VoucherCreated](r)
	Register[VoucherDisabled](r)
	// issue 14: asyncpay
	Register[OrderPaymentStarted](r)
	Register[OrderPaymentSucceeded](r)
	Register[OrderPaymentFailed](r)
	Register[OrderPaymentRefunded](r)
	// issue 14: waitlist
	Register[WaitlistJoined](r)
	Register[WaitlistLeft](r)
	Register[WaitlistReserved](r)
	Register[WaitlistOffered](r)
	// issue 14: door
	Register[TicketTransferred](r)
	// issue 14: money
	Register[OrderRefunded](r)
	Register[SeatsReturned](r)

	RegisterUpcaster(r, "show.seats_held", 1, upcastSeatsHeldV1)
	RegisterUpcaster(r, "show.created", 1, upcastShowCreatedV1)
	RegisterUpcaster(r, "order.confirmed", 1, upcastOrderConfirmedV1) // issue 14: door: codes are derived, not stored
}

// Encode turns events into EventData with ids from newID and the given
// metadata, which records the schema version of each Versioned event.
func Encode(events []Event, newID func() uuid.UUID, md Metadata) ([]EventData, error) {
	md.SchemaVersion = 0
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	out := make([]EventData, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		m := meta
		if v := schemaVersion(e); v > 1 {
			vmd := md
			vmd.SchemaVersion = v
			if m, err = json.Marshal(vmd); err != nil {
				return nil, err
			}
		}
		out[i] = EventData{ID: newID(), Type: e.EventType(), Data: data, Metadata: m}
	}
	return out, nil
}

// ShowStream names the stream of a show.
func ShowStream(id uuid.UUID) string { return "show-" + id.String() }

// OrderStream names the stream of an order.
func OrderStream(id uuid.UUID) string { return "order-" + id.String() }
