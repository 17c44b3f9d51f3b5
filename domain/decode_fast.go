package domain

import (
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// fastDecoders read by hand the data, in the current shape, of the events
// a log holds most of (holds, sales, releases and the order's), about twice
// as fast as encoding/json and with a quarter fewer allocations: every
// rebuild, follower, consumer and audit decodes through them
// (Registry.Decode). Any data the hand-written reader does not expect (a key
// it does not know, a null, an escape in a string, a number it cannot hold,
// trailing data) goes to encoding/json, so what Decode returns is always
// what encoding/json returns. FuzzRegistry_DecodeFast pins that.
//
// Each reads the keys its type has (and no other) into auditFields and
// takes its fields from there; the reader is bad when it could not.
var fastDecoders = map[string]func(r *jsonReader) Event{
	"show.seats_held": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyShowID|keyOrderID|keyBuyerID|keyItems|keySeats|keyTotalCents|keyHeldAt|keyExpiresAt|keyHoldTTL)
		return SeatsHeld{ShowID: f.ShowID, OrderID: f.OrderID, BuyerID: f.BuyerID, Items: f.Items, Seats: f.Seats,
			TotalCents: f.TotalCents, HeldAt: f.HeldAt, ExpiresAt: f.ExpiresAt, HoldTTLSeconds: f.HoldTTLSeconds}
	},
	"show.seats_released": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyShowID|keyOrderID|keyReason|keyItems|keySeats|keyAt)
		return SeatsReleased{ShowID: f.ShowID, OrderID: f.OrderID, Reason: f.Reason, Items: f.Items, Seats: f.Seats, At: f.At}
	},
	"show.seats_sold": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyShowID|keyOrderID|keyItems|keySeats|keyTotalCents|keyAt)
		return SeatsSold{ShowID: f.ShowID, OrderID: f.OrderID, Items: f.Items, Seats: f.Seats, TotalCents: f.TotalCents, At: f.At}
	},
	"order.placed": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyOrderID|keyShowID|keyBuyerID|keyItems|keySeats|keyTotalCents|keyPlacedAt|keyExpiresAt)
		return OrderPlaced{OrderID: f.OrderID, ShowID: f.ShowID, BuyerID: f.BuyerID, Items: f.Items, Seats: f.Seats,
			TotalCents: f.TotalCents, PlacedAt: f.PlacedAt, ExpiresAt: f.ExpiresAt}
	},
	"order.confirmed": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyOrderID|keyShowID|keyBuyerID|keyPaymentID|keyTotalCents|keyTickets|keyConfirmedAt)
		return OrderConfirmed{OrderID: f.OrderID, ShowID: f.ShowID, BuyerID: f.BuyerID, PaymentID: f.PaymentID,
			TotalCents: f.TotalCents, Tickets: f.Tickets, ConfirmedAt: f.ConfirmedAt}
	},
	"order.cancelled": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyOrderID|keyShowID|keyAt)
		return OrderCancelled{OrderID: f.OrderID, ShowID: f.ShowID, At: f.At}
	},
	"order.expired": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyOrderID|keyShowID|keyAt)
		return OrderExpired{OrderID: f.OrderID, ShowID: f.ShowID, At: f.At}
	},
	"order.ticket_checked_in": func(r *jsonReader) Event {
		var f auditFields
		r.fields(&f, keyOrderID|keyShowID|keyTicketID|keyAt)
		return TicketCheckedIn{OrderID: f.OrderID, ShowID: f.ShowID, TicketID: f.TicketID, At: f.At}
	},
}

// auditKey is one key the reader knows, as a bit of a set of keys.
type auditKey uint32

// The keys of the events the reader knows, then those of their items,
// seats and tickets.
const (
	keyShowID auditKey = 1 << iota
	keyOrderID
	keyBuyerID
	keyTicketID
	keyItems
	keySeats
	keyTickets
	keyTotalCents
	keyHoldTTL
	keyHeldAt
	keyExpiresAt
	keyPlacedAt
	keyConfirmedAt
	keyAt
	keyReason
	keyPaymentID

	keyID
	keySection
	keyRow
	keySeat
	keyCode
	keyQuantity
	keyUnitPrice
	keyPrice
)

// auditFields holds a value for every key of the events the reader knows,
// named as the events' fields are; a key not read leaves its zero value.
type auditFields struct {
	ShowID, OrderID, BuyerID, TicketID       uuid.UUID
	Items                                    []HeldItem
	Seats                                    []HeldSeat
	Tickets                                  []Ticket
	TotalCents, HoldTTLSeconds               int64
	HeldAt, ExpiresAt, PlacedAt, ConfirmedAt time.Time
	At                                       time.Time
	Reason, PaymentID                        string
}

// elemFields holds a value for every key of the items, seats and tickets
// of those events.
type elemFields struct {
	ID                         uuid.UUID
	Section, Row, Code         string
	Seat, Quantity             int
	UnitPriceCents, PriceCents int64
}

// fields reads an object whose keys are all in allowed into f; any other
// key turns the reader bad.
func (r *jsonReader) fields(f *auditFields, allowed auditKey) {
	r.object(func(key []byte) {
		if r.field(f, key)&allowed == 0 {
			r.bad = true
		}
	})
}

// field reads the value of an event's key into f and returns the key's
// bit, or 0 for a key it does not know.
func (r *jsonReader) field(f *auditFields, key []byte) auditKey {
	switch string(key) {
	case "show_id":
		f.ShowID = r.uuid()
		return keyShowID
	case "order_id":
		f.OrderID = r.uuid()
		return keyOrderID
	case "buyer_id":
		f.BuyerID = r.uuid()
		return keyBuyerID
	case "ticket_id":
		f.TicketID = r.uuid()
		return keyTicketID
	case "items":
		f.Items = readArray(r, keySection|keyQuantity|keyUnitPrice, heldItem)
		return keyItems
	case "seats":
		f.Seats = readArray(r, keySection|keyRow|keySeat|keyPrice, heldSeat)
		return keySeats
	case "tickets":
		f.Tickets = readArray(r, keyID|keySection|keyRow|keySeat|keyCode, ticket)
		return keyTickets
	case "total_cents":
		f.TotalCents = r.int64()
		return keyTotalCents
	case "hold_ttl_seconds":
		f.HoldTTLSeconds = r.int64()
		return keyHoldTTL
	case "held_at":
		f.HeldAt = r.time()
		return keyHeldAt
	case "expires_at":
		f.ExpiresAt = r.time()
		return keyExpiresAt
	case "placed_at":
		f.PlacedAt = r.time()
		return keyPlacedAt
	case "confirmed_at":
		f.ConfirmedAt = r.time()
		return keyConfirmedAt
	case "at":
		f.At = r.time()
		return keyAt
	case "reason":
		f.Reason = r.str()
		return keyReason
	case "payment_id":
		f.PaymentID = r.str()
		return keyPaymentID
	}
	return 0
}

// readArray reads an array of objects whose keys are all in allowed (keys
// of elemFields), making each element with elem.
func readArray[T any](r *jsonReader, allowed auditKey, elem func(f elemFields) T) []T {
	out := []T{}
	r.array(func() {
		var f elemFields
		r.object(func(key []byte) {
			if r.elemField(&f, key)&allowed == 0 {
				r.bad = true
			}
		})
		out = append(out, elem(f))
	})
	return out
}

// elemField reads the value of an element's key into f and returns the
// key's bit, or 0 for a key it does not know.
func (r *jsonReader) elemField(f *elemFields, key []byte) auditKey {
	switch string(key) {
	case "id":
		f.ID = r.uuid()
		return keyID
	case "section":
		f.Section = r.str()
		return keySection
	case "row":
		f.Row = r.str()
		return keyRow
	case "seat":
		f.Seat = r.int()
		return keySeat
	case "code":
		f.Code = r.str()
		return keyCode
	case "quantity":
		f.Quantity = r.int()
		return keyQuantity
	case "unit_price_cents":
		f.UnitPriceCents = r.int64()
		return keyUnitPrice
	case "price_cents":
		f.PriceCents = r.int64()
		return keyPrice
	}
	return 0
}

func heldItem(f elemFields) HeldItem {
	return HeldItem{Section: f.Section, Quantity: f.Quantity, UnitPriceCents: f.UnitPriceCents}
}

func heldSeat(f elemFields) HeldSeat {
	return HeldSeat{SeatRef: SeatRef{Section: f.Section, Row: f.Row, Seat: f.Seat}, PriceCents: f.PriceCents}
}

func ticket(f elemFields) Ticket {
	return Ticket{ID: f.ID, Section: f.Section, Row: f.Row, Seat: f.Seat, Code: f.Code}
}

// jsonReader reads the plain JSON the engine writes: objects, arrays,
// strings without escapes, integers. It turns bad at anything else and then
// reads nothing more.
type jsonReader struct {
	b   []byte
	i   int
	bad bool
}

func (r *jsonReader) space() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\t' || r.b[r.i] == '\n' || r.b[r.i] == '\r') {
		r.i++
	}
}

// next skips space and consumes c, or turns bad.
func (r *jsonReader) next(c byte) {
	r.space()
	if r.bad || r.i >= len(r.b) || r.b[r.i] != c {
		r.bad = true
		return
	}
	r.i++
}

// peek skips space and reports whether c comes next.
func (r *jsonReader) peek(c byte) bool {
	r.space()
	return !r.bad && r.i < len(r.b) && r.b[r.i] == c
}

// end reports whether the data was read whole without turning bad.
func (r *jsonReader) end() bool {
	r.space()
	return !r.bad && r.i == len(r.b)
}

// object reads an object, calling value with each key to read its value.
// A key given twice turns it bad: encoding/json merges the values of
// some.
func (r *jsonReader) object(value func(key []byte)) {
	r.next('{')
	if r.peek('}') {
		r.i++
		return
	}
	var seen [12][]byte
	n := 0
	for !r.bad {
		key := r.raw()
		r.next(':')
		if r.bad || n == len(seen) {
			r.bad = true
			return
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				r.bad = true
				return
			}
		}
		seen[n] = key
		n++
		value(key)
		if r.peek(',') {
			r.i++
			continue
		}
		r.next('}')
		return
	}
}

// array reads an array, calling elem to read each element.
func (r *jsonReader) array(elem func()) {
	r.next('[')
	if r.peek(']') {
		r.i++
		return
	}
	for !r.bad {
		elem()
		if r.peek(',') {
			r.i++
			continue
		}
		r.next(']')
		return
	}
}

// raw reads a string without escapes or control characters, in valid
// UTF-8, and returns its bytes.
func (r *jsonReader) raw() []byte {
	r.next('"')
	if r.bad {
		return nil
	}
	start, ascii := r.i, true
	for ; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !ascii && !utf8.Valid(s) {
				r.bad = true
			}
			return s
		case c == '\\' || c < 0x20:
			r.bad = true
			return nil
		case c >= 0x80:
			ascii = false
		}
	}
	r.bad = true
	return nil
}

func (r *jsonReader) str() string { return string(r.raw()) }

func (r *jsonReader) uuid() uuid.UUID {
	s := r.raw()
	if r.bad {
		return uuid.UUID{}
	}
	id, err := uuid.ParseBytes(s)
	if err != nil {
		r.bad = true
	}
	return id
}

// time reads a time as time.Time's UnmarshalJSON does.
func (r *jsonReader) time() time.Time {
	r.space()
	start := r.i
	r.raw()
	var t time.Time
	if r.bad {
		return t
	}
	if err := t.UnmarshalJSON(r.b[start:r.i]); err != nil {
		r.bad = true
	}
	return t
}

// int64 reads an integer that fits an int64.
func (r *jsonReader) int64() int64 {
	r.space()
	neg := r.i < len(r.b) && r.b[r.i] == '-'
	if neg {
		r.i++
	}
	start := r.i
	var n uint64
	for ; r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9'; r.i++ {
		if n > (1<<63)/10 {
			r.bad = true
			return 0
		}
		n = n*10 + uint64(r.b[r.i]-'0')
	}
	digits := r.i - start
	switch {
	case digits == 0, digits > 1 && r.b[start] == '0', !neg && n > 1<<63-1, neg && n > 1<<63:
		r.bad = true
		return 0
	case r.i < len(r.b) && (r.b[r.i] == '.' || r.b[r.i] == 'e' || r.b[r.i] == 'E'):
		r.bad = true // encoding/json refuses a fraction or an exponent for an integer field
		return 0
	}
	if neg {
		return -int64(n)
	}
	return int64(n)
}

func (r *jsonReader) int() int {
	n := r.int64()
	if int64(int(n)) != n {
		r.bad = true
	}
	return int(n)
}
