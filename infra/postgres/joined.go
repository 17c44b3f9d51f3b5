package postgres

import "strings"

// issue 17: feed2: the data and metadata of the events of an append go to
// PostgreSQL as one text each, split there at a separator (string_to_array
// at chr(30)), not as text arrays: pgx encodes an array element by element
// into its parameter buffer and then its message buffer, and shrinks both
// back after every statement (to 256 bytes and 1 KiB), so that every
// group of events regrew them by doubling. A text parameter is written in
// one copy, sized here once for the whole group. The separator, the ASCII
// record separator, never occurs in JSON text: AppendMulti accepts only
// valid JSON, where a control character must be escaped.

// jsonSep separates the JSON texts of a joined.
const jsonSep = '\x1e'

// emptyJSON is the metadata of an event that has none.
var emptyJSON = []byte("{}")

// joined is JSON texts joined by jsonSep.
type joined struct {
	b strings.Builder
	n int
}

// newJoined returns a joined with room for size bytes of text.
func newJoined(size int) *joined {
	j := &joined{}
	j.b.Grow(size)
	return j
}

// add appends one JSON text, which must be valid JSON.
func (j *joined) add(text []byte) {
	if j.n > 0 {
		j.b.WriteByte(jsonSep)
	}
	j.b.Write(text)
	j.n++
}

// String returns the texts joined.
func (j *joined) String() string { return j.b.String() }

// size is how many bytes the data of an append's events take, with a
// separator each.
func (r *appendReq) size() int {
	n := 0
	for _, p := range r.parts {
		for _, e := range p.Events {
			n += len(e.Data) + 1
		}
	}
	return n
}
