package domain

import (
	"encoding/json"
	"testing"
)

// auditBenchRecords are one recorded event of each type the hand-written
// readers know, as a log holds them.
func auditBenchRecords(b *testing.B) []RecordedEvent {
	f := newAuditFixture()
	h := f.hold(f.buyer, 2, 1)
	c := confirmed(h, "ch_1")
	var recs []RecordedEvent
	for _, e := range []Event{h, placed(h), c, sold(h), released(h, ReleaseExpired), cancelled(h), expired(h), checkIn(c, c.Tickets[0].ID)} {
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		rec := RecordedEvent{Type: e.EventType(), Data: data}
		if rec.Type == "show.seats_held" {
			rec.Metadata = []byte(`{"schema_version":2}`)
		}
		recs = append(recs, rec)
	}
	return recs
}

// benchDecode runs decode over the records, b.N rounds.
func benchDecode(b *testing.B, decode func(RecordedEvent) (Event, error)) {
	recs := auditBenchRecords(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, rec := range recs {
			if _, err := decode(rec); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRegistry_Decode is the registry's decoder, its hand-written
// readers first, one event of each type per round.
func BenchmarkRegistry_Decode(b *testing.B) {
	r := NewRegistry()
	RegisterEvents(r)
	benchDecode(b, r.DecodeRecorded)
}

// BenchmarkRegistry_DecodeJSON is encoding/json alone over the same events,
// for comparison.
func BenchmarkRegistry_DecodeJSON(b *testing.B) {
	r := NewRegistry()
	RegisterEvents(r)
	benchDecode(b, func(rec RecordedEvent) (Event, error) { return decodeJSON(r, rec) })
}
