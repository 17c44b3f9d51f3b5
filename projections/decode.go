package projections

import (
	"sync"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// decodeCacheSize is how many decoded events a Runner keeps for its other
// projectors. Projectors further behind the first one than that decode
// their events themselves.
const decodeCacheSize = 16384

// decodeCache keeps the events a Runner decoded last, by position, so that
// its projectors, which follow the same log, decode each event once. An
// event being decoded by one projector is waited for by the others.
type decodeCache struct {
	mu      sync.Mutex
	entries fifo[domain.Position, *decoded] // made on first use
}

// decoded is an event decoded, or being decoded until ready is closed.
type decoded struct {
	id    uuid.UUID
	ready chan struct{}
	e     domain.Event
	err   error
}

// decode decodes recs with decodeOne, taking what another caller decoded
// or is decoding. Decoded events are shared: they must only be read.
func (c *decodeCache) decode(decodeOne func(domain.RecordedEvent) (domain.Event, error), recs []domain.RecordedEvent) ([]domain.Event, []error) {
	entries := make([]*decoded, len(recs))
	ready := make(chan struct{})
	var mine []int
	c.mu.Lock()
	if c.entries.entries == nil {
		c.entries = newFIFO[domain.Position, *decoded](decodeCacheSize)
	}
	for i, rec := range recs {
		if d, ok := c.entries.get(rec.Position); ok && d.id == rec.ID {
			entries[i] = d
			continue
		}
		d := &decoded{id: rec.ID, ready: ready}
		entries[i] = d
		mine = append(mine, i)
		c.entries.put(rec.Position, d)
	}
	c.mu.Unlock()
	for _, i := range mine {
		entries[i].e, entries[i].err = decodeOne(recs[i])
	}
	close(ready)
	events, errs := make([]domain.Event, len(recs)), make([]error, len(recs))
	for i, d := range entries {
		<-d.ready
		events[i], errs[i] = d.e, d.err
	}
	return events, errs
}
