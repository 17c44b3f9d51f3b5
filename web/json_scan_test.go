package web

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// scanBody is a type with every kind the walk tells apart: a map, an
// interface, a UUID, a time, integers that may overflow, nesting.
type scanBody struct {
	ID    uuid.UUID      `json:"id"`
	N     int8           `json:"n"`
	U     uint           `json:"u"`
	F     float64        `json:"f"`
	B     bool           `json:"b"`
	S     string         `json:"s"`
	Any   any            `json:"any"`
	Meta  map[string]any `json:"meta"`
	Items []struct {
		Section  string `json:"section"`
		Quantity int    `json:"quantity"`
	} `json:"items"`
	Ptr *struct {
		At json.Number `json:"at"`
	} `json:"ptr"`
}

// FuzzCheckKeys_ScanMatchesTokens pins that, for every body json.Valid
// accepts, the byte scan refuses exactly what the Decoder.Token walk
// refuses, with the same error.
func FuzzCheckKeys_ScanMatchesTokens(f *testing.F) {
	for _, seed := range []string{
		`{"id":"5f0c6f1e-2b9a-4c55-9d7e-1f2a3b4c5d6e","items":[{"section":"floor","quantity":2}]}`,
		`{"s":"a","S":"b"}`, `{"meta":{"a":1,"A":2,"a":3}}`, `{"any":{"x":1,"X":2}}`,
		`{"items":[{"ſection":"a","section":"b"}]}`, `{"n":128}`, `{"u":-1}`, `{"b":"true"}`,
		`{"s":"\u00e9\"\\","s\u0000":1}`, "{\"s\xff\":1,\"s\xfe\":2}", `{"id":"urn:uuid:5f0c6f1e-2b9a-4c55-9d7e-1f2a3b4c5d6e"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, ` {"f": -1.5e3 } `,
		`{"meta":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"ka":10,"kb":11,"kc":12,"kd":13,"ke":14,"kf":15,"kg":16,"k3":17}}`,
		`{"any":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"ka":10,"kb":11,"kc":12,"kd":13,"ke":14,"kf":15,"kg":16,"K3":17}}`,
	} {
		f.Add([]byte(seed))
	}
	t := reflect.TypeFor[*scanBody]()
	f.Fuzz(func(tt *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		_, got := checkKeys(data, t, false)
		w := keyWalk{t: t}
		want := w.tokens(data)
		if !reflect.DeepEqual(got, want) {
			tt.Fatalf("checkKeys(%q) = %#v, the Token walk says %#v", data, got, want)
		}
	})
}

// TestCheckKeys_ScanAllocates pins that a hold's body, the hottest, is
// checked with one allocation, the walk's room.
func TestCheckKeys_ScanAllocates(t *testing.T) {
	typ := reflect.TypeOf(&holdBody{})
	if known, err := checkKeys(holdJSON, typ, false); err != nil || !known {
		t.Fatalf("checkKeys of a hold: known %v, %v", known, err)
	}
	want := 1.0
	if raceEnabled {
		want = 2 // the race detector's own
	}
	if got := testing.AllocsPerRun(100, func() { _, _ = checkKeys(holdJSON, typ, false) }); got > want {
		t.Errorf("checkKeys of a hold allocates %v times, want %v", got, want)
	}
}

// FuzzDecodeKnown_MatchesDecoder pins that, where checkKeys reports every
// key known, json.Unmarshal decodes what the Decoder with
// DisallowUnknownFields decodes: the same value and the same error.
func FuzzDecodeKnown_MatchesDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"id":"5f0c6f1e-2b9a-4c55-9d7e-1f2a3b4c5d6e","items":[{"section":"floor","quantity":2}]}`,
		`{"n":1.5}`, `{"any":{"x":[1,"a",null]},"meta":{"k":{}}}`, `{"ptr":{"at":"12"}}`, `{"ptr":null,"f":1e400}`,
		`{"items":[{"section":"a","nope":1}]}`, `{"s":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	t := reflect.TypeFor[*scanBody]()
	f.Fuzz(func(tt *testing.T, data []byte) {
		known, err := checkKeys(data, t, false)
		if err != nil || !known {
			return
		}
		var got, want scanBody
		gotErr, wantErr := decodeKnown(data, &got, true), decodeKnown(data, &want, false)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			tt.Fatalf("%q: Unmarshal gave %+v, %v; the Decoder %+v, %v", data, got, gotErr, want, wantErr)
		}
	})
}
