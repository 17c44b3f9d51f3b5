package writeapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// TestPlacedOrder_SameBytesAsMap pins that the answer to a hold, now a
// struct, is byte for byte what the map it replaced encoded to.
func TestPlacedOrder_SameBytesAsMap(t *testing.T) {
	id, at := uuid.New(), time.Date(2026, 11, 21, 20, 0, 0, 123, time.UTC)
	got, err := json.Marshal(placedOrder{ExpiresAt: at, ID: id, Position: "42", Status: domain.OrderStatusHeld, TotalCents: 1999})
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(map[string]any{
		"id": id, "status": domain.OrderStatusHeld, "expires_at": at, "total_cents": int64(1999), "position": "42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}
