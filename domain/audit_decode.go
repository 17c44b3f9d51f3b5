package domain

import (
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// decode turns a recorded event into its Go value as Registry.DecodeRecorded
// does. The events a log holds most of (holds, sales, releases and the
// order's) are read by hand from their data in the current shape
// (Registry.UpcastRecorded), several times faster than encoding/json; any
// data the hand-written reader does not expect (a key it does not know, a
// null, an escape in a string, a number it cannot hold, trailing data)
// goes to the registry's decoder, so what decode returns is always what
// DecodeRecorded returns. FuzzAuditor_Decode pins that.
func (a *Auditor) decode(rec RecordedEvent) (Event, error) {
	if fast := auditDecoders[rec.Type]; fast != nil && a.registry.decoders[rec.Type] != nil {
		if data, _, err := a.registry.UpcastRecorded(rec); err == nil {
			r := jsonReader{b: data}
			if e := fast(&r); r.end() {
				return e, nil
			}
		}
	}
	return a.registry.DecodeRecorded(rec)
}

// auditDecoders read the data of the events of their type; the reader is
// bad when they could not. Each reads the keys its type has (and no other)
// into auditFields and takes its fields from there.
var auditDecoders = map[string]func(r *jsonReader) Event{
	"show.seats_held": func(r *jsonReader) Event {
		f := r.fields(keyShowID | keyOrderID | keyBuyerID | keyItems | keySeats | keyTotalCents | keyHeldAt | keyExpiresAt | keyHoldTTL)
		return SeatsHeld{ShowID: f.ShowID, OrderID: f.OrderID, BuyerID: f.BuyerID, Items: f.Items, Seats: f.Seats,
			TotalCents: f.TotalCents, HeldAt: f.HeldAt, ExpiresAt: f.ExpiresAt, HoldTTLSeconds: f.HoldTTLSeconds}
	},
	"show.seats_released": func(r *jsonReader) Event {
		f := r.fields(keyShowID | keyOrderID | keyReason | keyItems | keySeats | keyAt)
		return SeatsReleased{ShowID: f.ShowID, OrderID: f.OrderID, Reason: f.Reason, Items: f.Items, Seats: f.Seats, At: f.At}
	},
	"show.seats_sold": func(r *jsonReader) Event {
		f := r.fields(keyShowID | keyOrderID | keyItems | keySeats | keyTotalCents | keyAt)
		return SeatsSold{ShowID: f.ShowID, OrderID: f.OrderID, Items: f.Items, Seats: f.Seats, TotalCents: f.TotalCents, At: f.At}
	},
	"order.placed": func(r *jsonReader) Event {
		f := r.fields(keyOrderID | keyShowID | keyBuyerID | keyItems | keySeats | keyTotalCents | keyPlacedAt | keyExpiresAt)
		return OrderPlaced{OrderID: f.OrderID, ShowID: f.ShowID, BuyerID: f.BuyerID, Items: f.Items, Seats: f.Seats,
			TotalCents: f.TotalCents, PlacedAt: f.PlacedAt, ExpiresAt: f.ExpiresAt}
	},
	"order.confirmed": func(r *jsonReader) Event {
		f := r.fields(keyOrderID | keyShowID | keyBuyerID | keyPaymentID | keyTotalCents | keyTickets | keyConfirmedAt)
		return OrderConfirmed{OrderID: f.OrderID, ShowID: f.ShowID, BuyerID: f.BuyerID, PaymentID: f.PaymentID,
			TotalCents: f.TotalCents, Tickets: f.Tickets, ConfirmedAt: f.ConfirmedAt}
	},
	"order.cancelled": func(r *jsonReader) Event {
		f := r.fields(keyOrderID | keyShowID | keyAt)
		return OrderCancelled{OrderID: f.OrderID, ShowID: f.ShowID, At: f.At}
	},
	"order.expired": func(r *jsonReader) Event {
		f := r.fields(keyOrderID | keyShowID | keyAt)
		return OrderExpired{OrderID: f.OrderID, ShowID: f.ShowID, At: f.At}
	},
	"order.ticket_checked_in": func(r *jsonReader) Event {
		f := r.fields(keyOrderID | keyShowID | keyTicketID | keyAt)
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

// auditFields holds a value for every key the reader knows, named as the
// events' fields are; a key not read leaves its zero value.
type auditFields struct {
	ShowID, OrderID, BuyerID, TicketID, ID                 uuid.UUID
	Items                                                  []HeldItem
	Seats                                                  []HeldSeat
	Tickets                                                []Ticket
	TotalCents, HoldTTLSeconds, UnitPriceCents, PriceCents int64
	HeldAt, ExpiresAt, PlacedAt, ConfirmedAt, At           time.Time
	Reason, PaymentID, Section, Row, Code                  string
	Seat, Quantity                                         int
}

// fields reads an object whose keys are all in allowed; any other key
// turns the reader bad.
func (r *jsonReader) fields(allowed auditKey) (f auditFields) {
	r.object(func(key []byte) {
		if r.field(&f, key)&allowed == 0 {
			r.bad = true
		}
	})
	return f
}

// field reads the value of key into f and returns the key's bit, or 0
// for a key it does not know.
func (r *jsonReader) field(f *auditFields, key []byte) auditKey {
	var bit auditKey
	var dst any
	switch string(key) {
	case "show_id":
		bit, dst = keyShowID, &f.ShowID
	case "order_id":
		bit, dst = keyOrderID, &f.OrderID
	case "buyer_id":
		bit, dst = keyBuyerID, &f.BuyerID
	case "ticket_id":
		bit, dst = keyTicketID, &f.TicketID
	case "items":
		bit, dst = keyItems, &f.Items
	case "seats":
		bit, dst = keySeats, &f.Seats
	case "tickets":
		bit, dst = keyTickets, &f.Tickets
	case "total_cents":
		bit, dst = keyTotalCents, &f.TotalCents
	case "hold_ttl_seconds":
		bit, dst = keyHoldTTL, &f.HoldTTLSeconds
	case "held_at":
		bit, dst = keyHeldAt, &f.HeldAt
	case "expires_at":
		bit, dst = keyExpiresAt, &f.ExpiresAt
	case "placed_at":
		bit, dst = keyPlacedAt, &f.PlacedAt
	case "confirmed_at":
		bit, dst = keyConfirmedAt, &f.ConfirmedAt
	case "at":
		bit, dst = keyAt, &f.At
	case "reason":
		bit, dst = keyReason, &f.Reason
	case "payment_id":
		bit, dst = keyPaymentID, &f.PaymentID
	case "id":
		bit, dst = keyID, &f.ID
	case "section":
		bit, dst = keySection, &f.Section
	case "row":
		bit, dst = keyRow, &f.Row
	case "seat":
		bit, dst = keySeat, &f.Seat
	case "code":
		bit, dst = keyCode, &f.Code
	case "quantity":
		bit, dst = keyQuantity, &f.Quantity
	case "unit_price_cents":
		bit, dst = keyUnitPrice, &f.UnitPriceCents
	case "price_cents":
		bit, dst = keyPrice, &f.PriceCents
	default:
		return 0
	}
	r.value(dst)
	return bit
}

// value reads a value into dst, by dst's type.
func (r *jsonReader) value(dst any) {
	switch p := dst.(type) {
	case *uuid.UUID:
		*p = r.uuid()
	case *string:
		*p = r.str()
	case *int64:
		*p = r.int64()
	case *int:
		*p = r.int()
	case *time.Time:
		*p = r.time()
	case *[]HeldItem:
		*p = readArray(r, keySection|keyQuantity|keyUnitPrice, func(f auditFields) HeldItem {
			return HeldItem{Section: f.Section, Quantity: f.Quantity, UnitPriceCents: f.UnitPriceCents}
		})
	case *[]HeldSeat:
		*p = readArray(r, keySection|keyRow|keySeat|keyPrice, func(f auditFields) HeldSeat {
			return HeldSeat{SeatRef: SeatRef{Section: f.Section, Row: f.Row, Seat: f.Seat}, PriceCents: f.PriceCents}
		})
	case *[]Ticket:
		*p = readArray(r, keyID|keySection|keyRow|keySeat|keyCode, func(f auditFields) Ticket {
			return Ticket{ID: f.ID, Section: f.Section, Row: f.Row, Seat: f.Seat, Code: f.Code}
		})
	}
}

// readArray reads an array of objects whose keys are all in allowed,
// taking each element from the fields read.
func readArray[T any](r *jsonReader, allowed auditKey, elem func(f auditFields) T) []T {
	out := []T{}
	r.array(func() {
		f := r.fields(allowed)
		out = append(out, elem(f))
	})
	return out
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
