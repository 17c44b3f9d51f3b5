package domain

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// decodeJSON is Registry.DecodeRecorded without the hand-written readers:
// the data upcast, then encoding/json.
func decodeJSON(r *Registry, rec RecordedEvent) (Event, error) {
	data, _, err := r.UpcastRecorded(rec)
	if err != nil {
		return nil, err
	}
	return r.decodeJSON(rec.Type, data)
}

// decodeSeeds are data the hand-written readers read, and data they must
// leave to encoding/json, with the type they are stored as.
func decodeSeeds(t testing.TB) [][2]string {
	f := newAuditFixture()
	a := f.hold(f.buyer, 2, 1)
	c := confirmed(a, "ch_1")
	var seeds [][2]string
	for _, e := range []Event{a, placed(a), c, sold(a), released(a, ReleaseExpired), cancelled(a), expired(a), checkIn(c, c.Tickets[0].ID)} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, [2]string{e.EventType(), string(b)})
	}
	id := `"` + uuid.NewString() + `"`
	for _, d := range []string{
		`{"order_id":` + id + `,"show_id":` + id + `,"at":"2026-11-21T19:00:00Z"}`,
		` { "order_id" : ` + id + ` , "at" : "2026-11-21T19:00:00.5+01:00" } `,
		`{"order_id":"urn:uuid:` + uuid.NewString() + `"}`,
		`{"order_id":"{` + uuid.NewString() + `}"}`,
		`{"Order_ID":` + id + `}`,
		`{"order_id":null}`,
		`{"order_id":` + id + `,"at":"2026-11-21 19:00:00"}`,
		`{"order_id":` + id + `}{}`,
		`{"order_id":` + id + `,"extra":1}`,
		`{"order_id":"\u0030195f000-0000-7000-8000-00000000a001"}`,
		`{}`, `[]`, `null`, ``, `{"order_id":`,
	} {
		seeds = append(seeds, [2]string{"order.cancelled", d})
	}
	for _, d := range []string{
		`{"items":[{"section":"floor","quantity":2,"unit_price_cents":500}],"total_cents":1000}`,
		`{"items":[],"seats":[]}`,
		`{"items":null}`,
		`{"items":[{"section":"fl\"oor","quantity":2}]}`,
		`{"items":[{"section":"fløør","quantity":2}]}`,
		"{\"items\":[{\"section\":\"\xff\",\"quantity\":2}]}",
		`{"items":[{"quantity":9223372036854775807},{"quantity":-9223372036854775808}]}`,
		`{"items":[{"quantity":9223372036854775808}]}`,
		`{"items":[{"quantity":1e3}]}`, `{"items":[{"quantity":1.0}]}`, `{"items":[{"quantity":01}]}`,
		`{"items":[{"quantity":"2"}]}`, `{"items":[{"quantity":-}]}`, `{"total_cents":-0}`,
		`{"seats":[{"section":"b","row":"A","seat":3,"price_cents":900}],"seats":[{"seat":1}]}`,
		`{"hold_ttl_seconds":600,"held_at":"2026-11-21T19:00:00Z","expires_at":"2026-11-21T19:10:00Z"}`,
	} {
		seeds = append(seeds, [2]string{"show.seats_held", d})
	}
	seeds = append(seeds, [2]string{"order.confirmed", `{"tickets":[{"id":` + id + `,"section":"b","row":"A","seat":1,"code":"x"}],"payment_id":"ch"}`})
	return seeds
}

// checkFastDecode checks that the registry decodes data stored as typ as
// encoding/json does.
func checkFastDecode(t *testing.T, typ, data string) {
	r := NewRegistry()
	RegisterEvents(r)
	rec := RecordedEvent{Type: typ, Data: []byte(data), Metadata: []byte(`{"schema_version":2}`)}
	if typ != "show.seats_held" {
		rec.Metadata = nil
	}
	got, gotErr := r.DecodeRecorded(rec)
	want, wantErr := decodeJSON(r, rec)
	if (gotErr == nil) != (wantErr == nil) || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("%s %q:\n got %#v, %v\nwant %#v, %v", typ, data, got, gotErr, want, wantErr)
	}
}

func TestRegistry_DecodeFast(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds(t) {
		checkFastDecode(t, s[0], s[1])
	}
}

func FuzzRegistry_DecodeFast(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, data string) {
		checkFastDecode(t, typ, data)
	})
}
