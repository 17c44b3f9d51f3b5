package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// seatsHeldV1 is a show.seats_held event exactly as version 1 stored it,
// before hold_ttl_seconds existed: no schema_version in its metadata.
const seatsHeldV1 = `{"show_id":"00000000-0000-0000-0000-00000000a001","order_id":"00000000-0000-0000-0000-00000000d001",
	"buyer_id":"00000000-0000-0000-0000-00000000c001","items":[{"section":"floor","quantity":2,"unit_price_cents":500}],
	"total_cents":1000,"held_at":"2026-11-21T20:00:00Z","expires_at":"2026-11-21T20:10:00Z"}`

func registry() *domain.Registry {
	r := domain.NewRegistry()
	domain.RegisterEvents(r)
	return r
}

func TestRegistry_DecodeRecorded(t *testing.T) {
	t.Parallel()
	current := heldGA(orderA, 2, 500)
	encoded, err := domain.Encode([]domain.Event{current, published()}, uuid.New, domain.Metadata{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	wantV1 := heldGA(orderA, 2, 500)
	wantV1.ExpiresAt, wantV1.HoldTTLSeconds = t0.Add(10*time.Minute), 600

	cases := []struct {
		name string
		rec  domain.RecordedEvent
		want domain.Event
		err  error
	}{
		{"version 1 shape is upcast", domain.RecordedEvent{Type: "show.seats_held", Data: []byte(seatsHeldV1), Metadata: []byte(`{"user_id":"u1"}`)}, wantV1, nil},
		{"version 1 shape without metadata", domain.RecordedEvent{Type: "show.seats_held", Data: []byte(seatsHeldV1)}, wantV1, nil},
		{"explicit version 1", domain.RecordedEvent{Type: "show.seats_held", Data: []byte(seatsHeldV1), Metadata: []byte(`{"schema_version":1}`)}, wantV1, nil},
		{"current shape as Encode stores it", domain.RecordedEvent{Type: encoded[0].Type, Data: encoded[0].Data, Metadata: encoded[0].Metadata}, current, nil},
		{"type with one shape", domain.RecordedEvent{Type: encoded[1].Type, Data: encoded[1].Data, Metadata: encoded[1].Metadata}, published(), nil},
		{"version from the future", domain.RecordedEvent{Type: "show.seats_held", Data: []byte(seatsHeldV1), Metadata: []byte(`{"schema_version":3}`)}, nil, domain.ErrSchemaVersion},
		{"unknown type", domain.RecordedEvent{Type: "no.such", Data: []byte(`{}`)}, nil, domain.ErrUnknownEventType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stored := bytes.Clone(c.rec.Data)
			got, err := registry().DecodeRecorded(c.rec)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
			if !bytes.Equal(c.rec.Data, stored) {
				t.Errorf("the stored data changed: %s", c.rec.Data)
			}
		})
	}
}

func TestRegistry_DecodeAll(t *testing.T) {
	t.Parallel()
	// A show whose history has a hold stored in the old shape: the aggregate
	// sees the new one.
	head, err := domain.Encode([]domain.Event{created(), published()}, uuid.New, domain.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []domain.RecordedEvent
	for i, d := range head {
		recs = append(recs, domain.RecordedEvent{StreamID: "show-1", Version: int64(i + 1), Type: d.Type, Data: d.Data, Metadata: d.Metadata})
	}
	recs = append(recs, domain.RecordedEvent{StreamID: "show-1", Version: 3, Type: "show.seats_held", Data: []byte(seatsHeldV1)})
	events, err := registry().DecodeAll(recs)
	if err != nil {
		t.Fatal(err)
	}
	s := domain.NewShow()
	s.Load(events, 3)
	h, ok := s.HoldOf(orderA)
	if !ok {
		t.Fatal("no hold of order A")
	}
	if got, want := h.TTL, 10*time.Minute; got != want {
		t.Errorf("hold TTL = %v, want %v", got, want)
	}
	if got, want := s.Available("floor"), 1; got != want {
		t.Errorf("floor available = %d, want %d", got, want)
	}

	recs[2].Metadata = []byte(`{"schema_version":9}`)
	if _, err := registry().DecodeAll(recs); !errors.Is(err, domain.ErrSchemaVersion) {
		t.Errorf("err = %v, want ErrSchemaVersion", err)
	}
}

func TestRegistry_Upcast(t *testing.T) {
	t.Parallel()
	t.Run("old shape gains the new field", func(t *testing.T) {
		t.Parallel()
		data, v, err := registry().Upcast("show.seats_held", 1, []byte(seatsHeldV1))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if got["hold_ttl_seconds"] != float64(600) || got["total_cents"] != float64(1000) || v != 2 {
			t.Errorf("got %s at version %d, want hold_ttl_seconds 600 and the other fields at version 2", data, v)
		}
	})
	t.Run("current shape is returned as it is", func(t *testing.T) {
		t.Parallel()
		in := []byte(`{"hold_ttl_seconds":5}`)
		data, v, err := registry().Upcast("show.seats_held", 2, in)
		if err != nil || !bytes.Equal(data, in) || v != 2 {
			t.Errorf("got %s, %d, %v; want the input at version 2", data, v, err)
		}
	})
	t.Run("unknown types pass through", func(t *testing.T) {
		t.Parallel()
		data, v, err := registry().Upcast("no.such", 4, []byte(`{"a":1}`))
		if err != nil || string(data) != `{"a":1}` || v != 4 {
			t.Errorf("got %s, %d, %v", data, v, err)
		}
	})
	t.Run("broken old data fails", func(t *testing.T) {
		t.Parallel()
		if _, _, err := registry().Upcast("show.seats_held", 1, []byte(`{"held_at":"yesterday"}`)); err == nil {
			t.Error("no error")
		}
	})
	t.Run("a missing step fails", func(t *testing.T) {
		t.Parallel()
		r := domain.NewRegistry()
		domain.Register[domain.SeatsHeld](r)
		if _, _, err := r.Upcast("show.seats_held", 1, []byte(seatsHeldV1)); !errors.Is(err, domain.ErrSchemaVersion) {
			t.Errorf("err = %v, want ErrSchemaVersion", err)
		}
	})
}

func TestRegisterUpcaster(t *testing.T) {
	t.Parallel()
	noop := func(d json.RawMessage) (json.RawMessage, error) { return d, nil }
	cases := []struct {
		name string
		typ  string
		from int
	}{
		{"unregistered type", "no.such", 1},
		{"type with one version", "show.published", 1},
		{"from the current version", "show.seats_held", 2},
		{"from version 0", "show.seats_held", 0},
		{"a step twice", "show.seats_held", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			domain.RegisterUpcaster(registry(), c.typ, c.from, noop)
		})
	}
}

func TestEncode_SchemaVersion(t *testing.T) {
	t.Parallel()
	data, err := domain.Encode([]domain.Event{published(), heldGA(orderA, 1, 500)}, uuid.New,
		domain.Metadata{UserID: "u1", SchemaVersion: 7})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 2} {
		got, err := domain.StoredSchemaVersion(data[i].Metadata)
		if err != nil || got != want {
			t.Errorf("%s: schema version = %d, %v; want %d", data[i].Type, got, err, want)
		}
		var md domain.Metadata
		if err := json.Unmarshal(data[i].Metadata, &md); err != nil || md.UserID != "u1" {
			t.Errorf("%s: metadata %s lost the user", data[i].Type, data[i].Metadata)
		}
	}
	if v, ok := registry().SchemaVersion("show.seats_held"); !ok || v != 2 {
		t.Errorf("SchemaVersion(show.seats_held) = %d, %v; want 2", v, ok)
	}
}

func TestStoredSchemaVersion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		metadata string
		want     int
		bad      bool
	}{
		{"", 1, false},
		{"{}", 1, false},
		{`{"user_id":"schema_version"}`, 1, false},
		{`{"schema_version":3}`, 3, false},
		{`{"schema_version":"x"}`, 0, true},
	}
	for _, c := range cases {
		t.Run(c.metadata, func(t *testing.T) {
			t.Parallel()
			got, err := domain.StoredSchemaVersion([]byte(c.metadata))
			if (err != nil) != c.bad || got != c.want {
				t.Errorf("got %d, %v; want %d (error: %v)", got, err, c.want, c.bad)
			}
		})
	}
}
