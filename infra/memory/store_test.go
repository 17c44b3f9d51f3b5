package memory_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/eventstoretest"
	"github.com/ticketing/ticketing/infra/memory"
)

func TestStore_Contract(t *testing.T) {
	t.Parallel()
	eventstoretest.Run(t, func(*testing.T) commands.EventStore { return memory.NewStore() })
}

func TestStore_Head(t *testing.T) {
	t.Parallel()
	s := memory.NewStore()
	got, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if got != domain.Start {
		t.Errorf("Head of an empty store = %v, want %v", got, domain.Start)
	}
	events := []domain.EventData{
		{ID: uuid.New(), Type: "T", Data: []byte(`{"n":1}`)},
		{ID: uuid.New(), Type: "T", Data: []byte(`{"n":2}`)},
	}
	res, err := s.Append(t.Context(), "show-1", domain.NoStream, events)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err = s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if want := domain.PositionAt(2); got != want || res.Position != want {
		t.Errorf("Head = %v, append position = %v, want %v", got, res.Position, want)
	}
}

func TestStore_Append(t *testing.T) {
	t.Parallel()
	t.Run("keeps its own copy of the data", func(t *testing.T) {
		t.Parallel()
		s := memory.NewStore()
		data := []byte(`{"n":1}`)
		if _, err := s.Append(t.Context(), "show-1", domain.NoStream, []domain.EventData{{ID: uuid.New(), Type: "T", Data: data}}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		copy(data, `{"n":2}`)
		first, err := s.ReadStream(t.Context(), "show-1", 0)
		if err != nil {
			t.Fatalf("ReadStream: %v", err)
		}
		copy(first[0].Data, `{"n":3}`)
		again, err := s.ReadAll(t.Context(), domain.Start, 10)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if got, want := string(again[0].Data), `{"n":1}`; got != want {
			t.Errorf("data = %s, want %s", got, want)
		}
	})
}
