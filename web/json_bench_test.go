package web

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// holdBody is the shape of the hottest request body, a hold.
type holdBody struct {
	ShowID uuid.UUID `json:"show_id"`
	Items  []struct {
		Section    string `json:"section"`
		Quantity   int    `json:"quantity"`
		TicketType string `json:"ticket_type"`
	} `json:"items"`
	Seats   []struct{ Section, Row string } `json:"seats"`
	Voucher string                          `json:"voucher"`
}

var holdJSON = []byte(`{"show_id":"5f0c6f1e-2b9a-4c55-9d7e-1f2a3b4c5d6e","items":[{"section":"floor","quantity":2}]}`)

// BenchmarkDecodeJSON_Hold is DecodeJSON of a hold's body, beside a plain
// json.Unmarshal of it (the floor: no strictness at all).
func BenchmarkDecodeJSON_Hold(b *testing.B) {
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v holdBody
			if err := DecodeJSON(bytes.NewReader(holdJSON), &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v holdBody
			if err := json.Unmarshal(holdJSON, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
