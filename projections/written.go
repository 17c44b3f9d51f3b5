package projections

import (
	"sync"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// writtenSize is how many events a Written keeps.
const writtenSize = 16384

// Written keeps the events the command side of this process appended last,
// as they were before they were encoded, by event id: a Runner given it
// takes an event from here instead of decoding its JSON again. Only events
// whose JSON decodes to exactly the value encoded belong here (see
// domain.TestEncode_RoundTrip); the Runner still checks the id and type.
// It is safe for concurrent use.
type Written struct {
	mu     sync.Mutex
	events fifo[uuid.UUID, domain.Event] // made on first use
}

// Add keeps events, appended with ids.
func (w *Written) Add(ids []uuid.UUID, events []domain.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.events.entries == nil {
		w.events = newFIFO[uuid.UUID, domain.Event](writtenSize)
	}
	for i, id := range ids {
		w.events.put(id, events[i])
	}
}

// event returns the event appended as rec, if it is kept.
func (w *Written) event(rec domain.RecordedEvent) (domain.Event, bool) {
	if w == nil {
		return nil, false
	}
	w.mu.Lock()
	e, ok := w.events.get(rec.ID)
	w.mu.Unlock()
	if !ok || e.EventType() != rec.Type {
		return nil, false
	}
	return e, true
}

// Decode returns the event rec records: as this process appended it, if w
// has it, or decoded with registry. w may be nil.
func (w *Written) Decode(registry *domain.Registry, rec domain.RecordedEvent) (domain.Event, error) {
	if e, ok := w.event(rec); ok {
		return e, nil
	}
	return registry.DecodeRecorded(rec)
}
