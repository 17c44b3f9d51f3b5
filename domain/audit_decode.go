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
// bad when they could not.
var auditDecoders = map[string]func(r *jsonReader) Event{
	"show.seats_held": func(r *jsonReader) Event {
		var e SeatsHeld
		r.object(func(key []byte) {
			switch string(key) {
			case "show_id":
				e.ShowID = r.uuid()
			case "order_id":
				e.OrderID = r.uuid()
			case "buyer_id":
				e.BuyerID = r.uuid()
			case "items":
				e.Items = r.items()
			case "seats":
				e.Seats = r.seats()
			case "total_cents":
				e.TotalCents = r.int64()
			case "held_at":
				e.HeldAt = r.time()
			case "expires_at":
				e.ExpiresAt = r.time()
			case "hold_ttl_seconds":
				e.HoldTTLSeconds = r.int64()
			default:
				r.bad = true
			}
		})
		return e
	},
	"show.seats_released": func(r *jsonReader) Event {
		var e SeatsReleased
		r.object(func(key []byte) {
			switch string(key) {
			case "show_id":
				e.ShowID = r.uuid()
			case "order_id":
				e.OrderID = r.uuid()
			case "reason":
				e.Reason = r.str()
			case "items":
				e.Items = r.items()
			case "seats":
				e.Seats = r.seats()
			case "at":
				e.At = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"show.seats_sold": func(r *jsonReader) Event {
		var e SeatsSold
		r.object(func(key []byte) {
			switch string(key) {
			case "show_id":
				e.ShowID = r.uuid()
			case "order_id":
				e.OrderID = r.uuid()
			case "items":
				e.Items = r.items()
			case "seats":
				e.Seats = r.seats()
			case "total_cents":
				e.TotalCents = r.int64()
			case "at":
				e.At = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"order.placed": func(r *jsonReader) Event {
		var e OrderPlaced
		r.object(func(key []byte) {
			switch string(key) {
			case "order_id":
				e.OrderID = r.uuid()
			case "show_id":
				e.ShowID = r.uuid()
			case "buyer_id":
				e.BuyerID = r.uuid()
			case "items":
				e.Items = r.items()
			case "seats":
				e.Seats = r.seats()
			case "total_cents":
				e.TotalCents = r.int64()
			case "placed_at":
				e.PlacedAt = r.time()
			case "expires_at":
				e.ExpiresAt = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"order.confirmed": func(r *jsonReader) Event {
		var e OrderConfirmed
		r.object(func(key []byte) {
			switch string(key) {
			case "order_id":
				e.OrderID = r.uuid()
			case "show_id":
				e.ShowID = r.uuid()
			case "buyer_id":
				e.BuyerID = r.uuid()
			case "payment_id":
				e.PaymentID = r.str()
			case "total_cents":
				e.TotalCents = r.int64()
			case "tickets":
				e.Tickets = r.tickets()
			case "confirmed_at":
				e.ConfirmedAt = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"order.cancelled": func(r *jsonReader) Event {
		var e OrderCancelled
		r.object(func(key []byte) {
			switch string(key) {
			case "order_id":
				e.OrderID = r.uuid()
			case "show_id":
				e.ShowID = r.uuid()
			case "at":
				e.At = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"order.expired": func(r *jsonReader) Event {
		var e OrderExpired
		r.object(func(key []byte) {
			switch string(key) {
			case "order_id":
				e.OrderID = r.uuid()
			case "show_id":
				e.ShowID = r.uuid()
			case "at":
				e.At = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
	"order.ticket_checked_in": func(r *jsonReader) Event {
		var e TicketCheckedIn
		r.object(func(key []byte) {
			switch string(key) {
			case "order_id":
				e.OrderID = r.uuid()
			case "show_id":
				e.ShowID = r.uuid()
			case "ticket_id":
				e.TicketID = r.uuid()
			case "at":
				e.At = r.time()
			default:
				r.bad = true
			}
		})
		return e
	},
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

func (r *jsonReader) items() []HeldItem {
	out := []HeldItem{}
	r.array(func() {
		var it HeldItem
		r.object(func(key []byte) {
			switch string(key) {
			case "section":
				it.Section = r.str()
			case "quantity":
				it.Quantity = r.int()
			case "unit_price_cents":
				it.UnitPriceCents = r.int64()
			default:
				r.bad = true
			}
		})
		out = append(out, it)
	})
	return out
}

func (r *jsonReader) seats() []HeldSeat {
	out := []HeldSeat{}
	r.array(func() {
		var st HeldSeat
		r.object(func(key []byte) {
			switch string(key) {
			case "section":
				st.Section = r.str()
			case "row":
				st.Row = r.str()
			case "seat":
				st.Seat = r.int()
			case "price_cents":
				st.PriceCents = r.int64()
			default:
				r.bad = true
			}
		})
		out = append(out, st)
	})
	return out
}

func (r *jsonReader) tickets() []Ticket {
	out := []Ticket{}
	r.array(func() {
		var t Ticket
		r.object(func(key []byte) {
			switch string(key) {
			case "id":
				t.ID = r.uuid()
			case "section":
				t.Section = r.str()
			case "row":
				t.Row = r.str()
			case "seat":
				t.Seat = r.int()
			case "code":
				t.Code = r.str()
			default:
				r.bad = true
			}
		})
		out = append(out, t)
	})
	return out
}
