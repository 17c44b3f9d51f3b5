package postgres

import (
	"sync"

	"github.com/ticketing/ticketing/domain"
)

// recentSize is how many of the latest events read a Store keeps.
const recentSize = 16384

// recentEvents keeps the events a Store's followers read last, by position.
// The projectors of a process each follow the same log at about the same
// place; the first to read a stretch reads it from the database, the others
// from here. The log is dense and committed events never change, so a
// position names one event for good.
type recentEvents struct {
	mu     sync.Mutex
	events []domain.RecordedEvent // at position % recentSize, once one is read
}

// after returns up to limit events that follow position after, as long as
// they are kept; nil when the first of them is not.
func (r *recentEvents) after(after domain.Position, limit int) []domain.RecordedEvent {
	if after.Prepare < after.Commit { // only this log's own positions
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		return nil
	}
	var out []domain.RecordedEvent
	for p := after.Commit + 1; len(out) < limit; p++ {
		e := r.events[p%recentSize]
		if e.Position.Commit != p || e.Position.Prepare != p {
			break
		}
		out = append(out, e)
	}
	return out
}

// add keeps events read from the log.
func (r *recentEvents) add(events []domain.RecordedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		r.events = make([]domain.RecordedEvent, recentSize)
	}
	for _, e := range events {
		r.events[e.Position.Commit%recentSize] = e
	}
}
