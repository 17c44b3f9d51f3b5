package esdb

import (
	"sync"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// DefaultRecentIDs is how many event ids of its own appends a Store
// remembers, unless Options say otherwise.
const DefaultRecentIDs = 100_000

// recentIDs remembers where the latest events a Store appended landed, so
// that a retry of one of its appends is recognised whatever its expected
// version. EventStoreDB itself recognises a retry only at the expected
// revision of the original write (or, for expected revision any, while the
// ids are still in its cache), and keeps no index by event id.
type recentIDs struct {
	mu    sync.Mutex
	max   int
	byID  map[uuid.UUID]placed
	order []uuid.UUID // ring of the remembered ids, oldest at next
	next  int
}

// placed is where an event landed. pos is zero when it is not known (only
// the last event of an append has its position in the answer).
type placed struct {
	stream  string
	version int64
	pos     domain.Position
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{max: n, byID: make(map[uuid.UUID]placed, min(max(n, 0), 1024))}
}

// add remembers the events of an append that landed at res.
func (r *recentIDs) add(stream string, res commands.AppendResult, events []domain.EventData) {
	if r.max <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	first := res.Version - int64(len(events)) + 1
	for i, e := range events {
		p := placed{stream: stream, version: first + int64(i)}
		if i == len(events)-1 {
			p.pos = res.Position
		}
		if _, ok := r.byID[e.ID]; !ok {
			if len(r.order) < r.max {
				r.order = append(r.order, e.ID)
			} else {
				delete(r.byID, r.order[r.next])
				r.order[r.next] = e.ID
				r.next = (r.next + 1) % r.max
			}
		}
		r.byID[e.ID] = p
	}
}

// decide tells whether an append must not reach the server. When all its
// ids were appended to stream, consecutively and in order, it is a retry:
// res is the original result (its Position may be zero: unknown). When only
// some were, or to another stream, or an id repeats within the append, it
// conflicts. Otherwise it is not decided here.
func (r *recentIDs) decide(stream string, events []domain.EventData) (res commands.AppendResult, retry, conflict bool) {
	seen := make(map[uuid.UUID]bool, len(events))
	for _, e := range events {
		if seen[e.ID] {
			return res, false, true
		}
		seen[e.ID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	first, ok := r.byID[events[0].ID]
	if !ok {
		for _, e := range events[1:] {
			if _, dup := r.byID[e.ID]; dup {
				return res, false, true
			}
		}
		return res, false, false
	}
	var last placed
	for i, e := range events {
		p, ok := r.byID[e.ID]
		if !ok || p.stream != stream || p.version != first.version+int64(i) {
			return res, false, true
		}
		last = p
	}
	return commands.AppendResult{Version: last.version, Position: last.pos}, true, false
}
