package domain

import (
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a show and an order may hold. They fit the largest real
// venues (stadiums seat about 150,000) and keep every sum of quantities and
// money far inside int64.
const (
	MaxSections      = 100
	MaxRowsPerSect   = 500
	MaxSeatsPerRow   = 500
	MaxUnitsPerShow  = 200_000         // seats and general-admission units across all sections
	MaxCapacity      = MaxUnitsPerShow // of one general-admission section
	MaxUnitsPerOrder = 50
	MaxPriceCents    = 100_000_000
	// DefaultMaxUnitsPerBuyer is a show's per-buyer limit when the organizer
	// sets none: units held and bought by one buyer across all their orders.
	DefaultMaxUnitsPerBuyer = 10
	// MaxUnitsPerBuyerLimit bounds the per-buyer limit an organizer may set.
	MaxUnitsPerBuyerLimit = MaxUnitsPerShow
	// MaxStartsAhead is how far ahead of now a show may start.
	MaxStartsAhead = 5 * 366 * 24 * time.Hour
	// MaxLiveShowsPerOrganizer bounds an organizer's live shows: those
	// neither cancelled nor started.
	MaxLiveShowsPerOrganizer = 1000
)

// CheckShowQuota is the policy on how many shows an organizer may have: it
// returns ErrShowQuota when an organizer with live live shows may not
// create another.
func CheckShowQuota(live int) error {
	if live >= MaxLiveShowsPerOrganizer {
		return ErrShowQuota
	}
	return nil
}

// Text limits, counted in runes (Unicode code points), not bytes: a title
// of MaxTextLen runes is at most 4×MaxTextLen bytes.
const (
	MaxTextLen  = 200 // titles and venues
	MaxNameLen  = 100 // section names
	MaxLabelLen = 20  // row labels
)

// checkText is the one rule for every text a client sends that the domain
// stores: not blank, at most max runes, valid UTF-8, and no control
// characters. Control characters are C0 (NUL, tab and newline included),
// DEL and C1, the Unicode line and paragraph separators, and the
// bidirectional embedding, override and isolate controls, which can make a
// text display as another.
func checkText(v *validator, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		v.check(false, field, "must be valid UTF-8")
	case !printable(s):
		v.check(false, field, "must not contain control characters")
	case utf8.RuneCountInString(s) > max:
		v.check(false, field, "at most %d characters", max)
	case isBlank(s):
		v.check(false, field, "is required")
	}
}

// StorableText reports whether s is text a store can hold: valid UTF-8
// without U+0000, which PostgreSQL's text and jsonb refuse. A value a
// client sends to be looked up, not stored, must pass it before it
// reaches a query (checkText's rule, for what is stored, is stricter).
func StorableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// printable reports whether s has none of the characters checkText refuses.
func printable(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsControl(r), // C0, DEL, C1
			r == '\u2028', r == '\u2029', // line and paragraph separators
			r >= '\u202a' && r <= '\u202e', // bidi embeddings and overrides
			r >= '\u2066' && r <= '\u2069': // bidi isolates
			return false
		}
	}
	return true
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// addInt returns a+b, and false when the sum overflows.
func addInt[T ~int | ~int64](a, b T) (T, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}

// mulCents returns cents×n, and false when the product overflows.
func mulCents(cents int64, n int) (int64, bool) {
	m := int64(n)
	if cents == 0 || m == 0 {
		return 0, true
	}
	if (cents == -1 && m == math.MinInt64) || (m == -1 && cents == math.MinInt64) {
		return 0, false
	}
	p := cents * m
	if p/m != cents {
		return 0, false
	}
	return p, true
}

// UnitsOf counts the units of items and seats; ok is false when a quantity
// is not positive or the count overflows, as only a corrupt event has.
func UnitsOf(items []HeldItem, seats []HeldSeat) (n int, ok bool) {
	n = len(seats)
	for _, it := range items {
		if it.Quantity <= 0 {
			return 0, false
		}
		if n, ok = addInt(n, it.Quantity); !ok {
			return 0, false
		}
	}
	return n, true
}

// TotalOf is the total price of items and seats; ok is false when a
// product or the sum overflows.
func TotalOf(items []HeldItem, seats []HeldSeat) (total int64, ok bool) {
	for _, it := range items {
		line, ok := mulCents(it.UnitPriceCents, it.Quantity)
		if !ok {
			return 0, false
		}
		if total, ok = addInt(total, line); !ok {
			return 0, false
		}
	}
	for _, st := range seats {
		if total, ok = addInt(total, st.PriceCents); !ok {
			return 0, false
		}
	}
	return total, true
}
