package postgres_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// issue 17: feed2: the events of a group go to PostgreSQL joined at a
// separator; each comes back as it was given, byte for byte, in groups of
// one and of many, whatever JSON it holds.
func TestStore_AppendJoinedData(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	texts := []string{
		`{}`, `[]`, `"x"`, `1`, `null`,
		`{"a": "\u001e\u0000 escaped, not raw", "b": [1, 2, {"c": "é ✓ 🎟"}]}`,
		"{\n\t\"spaced\" :\r\n true }",
		`{"quote": "a \"b\" \\ c", "comma": "x,y", "braces": "{}"}`,
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	want := map[string][]domain.EventData{}
	for i := range 40 { // concurrent appends share groups
		stream := fmt.Sprintf("joined-%d", i)
		var events []domain.EventData
		for j := range 1 + i%3 {
			md := []byte(nil)
			if j%2 == 1 {
				md = []byte(texts[(i+j+3)%len(texts)])
			}
			events = append(events, domain.EventData{ID: uuid.New(), Type: "t", Data: []byte(texts[(i+j)%len(texts)]), Metadata: md})
		}
		want[stream] = events
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AppendMulti(t.Context(), []commands.StreamAppend{{Stream: stream, Expected: 0, Events: events}}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for stream, events := range want {
		got, err := s.ReadStream(t.Context(), stream, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(events) {
			t.Fatalf("%s: %d events, want %d", stream, len(got), len(events))
		}
		for i, e := range events {
			md := e.Metadata
			if md == nil {
				md = []byte("{}")
			}
			if got[i].ID != e.ID || !bytes.Equal(got[i].Data, e.Data) || !bytes.Equal(got[i].Metadata, md) {
				t.Errorf("%s@%d: got %s %q %q, want %s %q %q", stream, i+1, got[i].ID, got[i].Data, got[i].Metadata, e.ID, e.Data, md)
			}
		}
	}
}
