// Package memory holds in-memory adapters for tests and single-process demos.
package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

var _ commands.EventStore = (*Store)(nil)

// followBatch is the largest batch Follow hands to its handler.
const followBatch = 1000

// Store is an in-memory event store. Its global log is dense: the n-th event
// appended has position domain.PositionAt(n). It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	log     []domain.RecordedEvent // log[i] has position i+1
	streams map[string][]int       // stream id -> indexes into log, by version
	ids     map[uuid.UUID]int      // event id -> index into log
	changed chan struct{}          // closed and replaced on every append
}

// NewStore returns an empty store that stamps events with time.Now.
func NewStore() *Store {
	return &Store{
		now:     time.Now,
		streams: map[string][]int{},
		ids:     map[uuid.UUID]int{},
		changed: make(chan struct{}),
	}
}

// Append adds events to the end of a stream; see commands.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	if len(events) > 0 {
		res, err := s.AppendMulti(ctx, []commands.StreamAppend{{Stream: stream, Expected: expected, Events: events}})
		if err != nil {
			return commands.AppendResult{}, err
		}
		return res[0], nil
	}
	if err := ctx.Err(); err != nil {
		return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idxs := s.streams[stream]
	current := int64(len(idxs))
	if expected != domain.AnyVersion && expected != current {
		return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
	}
	res := commands.AppendResult{Version: current}
	if current > 0 {
		res.Position = s.log[idxs[current-1]].Position
	}
	return res, nil
}

var _ commands.MultiAppender = (*Store)(nil)

// AppendMulti appends to several streams at once, all or none; see
// commands.MultiAppender.
func (s *Store) AppendMulti(ctx context.Context, parts []commands.StreamAppend) ([]commands.AppendResult, error) {
	if err := checkParts(ctx, parts); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	retried, err := s.decide(parts)
	if err != nil || len(retried) == len(parts) {
		return retried, err
	}
	out := s.write(parts)
	close(s.changed)
	s.changed = make(chan struct{})
	return out, nil
}

// checkParts refuses an append that cannot be written whatever the log
// holds: a done context, a part without events, data or metadata that is
// not JSON.
func checkParts(ctx context.Context, parts []commands.StreamAppend) error {
	for _, p := range parts {
		fail := func(err error) error {
			return &commands.StoreError{Op: "append", Stream: p.Stream, Version: p.Expected, Err: err}
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if len(p.Events) == 0 {
			return fail(fmt.Errorf("no events"))
		}
		for _, e := range p.Events {
			if !json.Valid(e.Data) {
				return fail(fmt.Errorf("event %s: data is not valid JSON", e.ID))
			}
			if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
				return fail(fmt.Errorf("event %s: metadata is not valid JSON", e.ID))
			}
		}
	}
	return nil
}

// decide checks every part against the log before any is written. It
// returns the original results when the whole append is a retry of one
// already written, none when it is to be written, and a conflict when
// it may not be.
// s.mu must be held.
func (s *Store) decide(parts []commands.StreamAppend) ([]commands.AppendResult, error) {
	after := map[string]int64{}
	current := func(stream string) int64 {
		if v, ok := after[stream]; ok {
			return v
		}
		return int64(len(s.streams[stream]))
	}
	seen := map[uuid.UUID]bool{}
	var retried []commands.AppendResult
	for _, p := range parts {
		cur := current(p.Stream)
		conflict := &commands.ConflictError{Stream: p.Stream, Expected: p.Expected, Actual: cur}
		for _, e := range p.Events {
			if seen[e.ID] {
				return nil, conflict
			}
			seen[e.ID] = true
		}
		if res, ok, err := s.retried(p.Stream, p.Expected, cur, p.Events); ok {
			if err != nil {
				return nil, err
			}
			retried = append(retried, res)
			continue
		}
		if p.Expected != domain.AnyVersion && p.Expected != cur {
			return nil, conflict
		}
		after[p.Stream] = cur + int64(len(p.Events))
	}
	switch len(retried) {
	case len(parts), 0:
		return retried, nil
	default: // only some were written before: not the same append
		p := parts[0]
		return nil, &commands.ConflictError{Stream: p.Stream, Expected: p.Expected, Actual: int64(len(s.streams[p.Stream]))}
	}
}

// write appends the parts' events to the log and their streams and
// returns each part's result. s.mu must be held.
func (s *Store) write(parts []commands.StreamAppend) []commands.AppendResult {
	at := s.now().UTC()
	out := make([]commands.AppendResult, len(parts))
	for j, p := range parts {
		idxs := s.streams[p.Stream]
		for _, e := range p.Events {
			metadata := e.Metadata
			if len(metadata) == 0 {
				metadata = []byte("{}")
			}
			rec := domain.RecordedEvent{
				ID:         e.ID,
				StreamID:   p.Stream,
				Version:    int64(len(idxs)) + 1,
				Position:   domain.PositionAt(uint64(len(s.log) + 1)),
				Type:       e.Type,
				Data:       clone(e.Data),
				Metadata:   clone(metadata),
				RecordedAt: at,
			}
			s.ids[e.ID] = len(s.log)
			idxs = append(idxs, len(s.log))
			s.log = append(s.log, rec)
		}
		s.streams[p.Stream] = idxs
		last := s.log[len(s.log)-1]
		out[j] = commands.AppendResult{Version: last.Version, Position: last.Position}
	}
	return out
}

// retried tells whether events were already appended (in whole or in part).
// When every id was appended to stream in the same order, it returns the
// original result; when only some were, or to another stream, a conflict.
// s.mu must be held.
func (s *Store) retried(stream string, expected, current int64, events []domain.EventData) (commands.AppendResult, bool, error) {
	conflict := &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
	first, ok := s.ids[events[0].ID]
	if !ok {
		seen := make(map[uuid.UUID]bool, len(events))
		for _, e := range events {
			if _, dup := s.ids[e.ID]; dup || seen[e.ID] {
				return commands.AppendResult{}, true, conflict
			}
			seen[e.ID] = true
		}
		return commands.AppendResult{}, false, nil
	}
	for i, e := range events {
		j, ok := s.ids[e.ID]
		if !ok || s.log[j].StreamID != stream || s.log[j].Version != s.log[first].Version+int64(i) {
			return commands.AppendResult{}, true, conflict
		}
	}
	last := s.log[s.ids[events[len(events)-1].ID]]
	return commands.AppendResult{Version: last.Version, Position: last.Position}, true, nil
}

// ReadStream returns the events of a stream from version from; see
// commands.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, &commands.StoreError{Op: "read stream", Stream: stream, Version: from, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idxs := s.streams[stream]
	start := max(from-1, 0)
	if start >= int64(len(idxs)) {
		return nil, nil
	}
	out := make([]domain.RecordedEvent, 0, int64(len(idxs))-start)
	for _, i := range idxs[start:] {
		out = append(out, copyEvent(s.log[i]))
	}
	return out, nil
}

// ReadAll returns up to limit events of the global log after position after;
// see commands.EventStore.
func (s *Store) ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, &commands.StoreError{Op: "read all", Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, _ := s.readAll(after, limit)
	return out, nil
}

// readAll reads like ReadAll and also returns the channel that the next
// append closes. s.mu must be held.
func (s *Store) readAll(after domain.Position, limit int) ([]domain.RecordedEvent, <-chan struct{}) {
	start := sort.Search(len(s.log), func(i int) bool { return after.Less(s.log[i].Position) })
	end := start + max(min(limit, len(s.log)-start), 0)
	if start == end {
		return nil, s.changed
	}
	out := make([]domain.RecordedEvent, 0, end-start)
	for _, e := range s.log[start:end] {
		out = append(out, copyEvent(e))
	}
	return out, s.changed
}

// Follow calls handle with every event after position after, as they are
// appended; see commands.EventStore.
func (s *Store) Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		batch, changed := s.readAll(after, followBatch)
		s.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
			}
			continue
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
		after = batch[len(batch)-1].Position
	}
}

// Head returns the position of the last event of the global log, or
// domain.Start when the log is empty.
func (s *Store) Head(ctx context.Context) (domain.Position, error) {
	if err := ctx.Err(); err != nil {
		return domain.Position{}, &commands.StoreError{Op: "head", Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return domain.PositionAt(uint64(len(s.log))), nil
}

func copyEvent(e domain.RecordedEvent) domain.RecordedEvent {
	e.Data = clone(e.Data)
	e.Metadata = clone(e.Metadata)
	return e
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
