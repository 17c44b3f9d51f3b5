package memory

import (
	"context"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Export calls fn with every event that f selects, in log order, until fn
// fails (Export then returns its error) or f.Limit events were passed. The
// events are those of the log when Export is called.
func (s *Store) Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error {
	if err := ctx.Err(); err != nil {
		return &commands.StoreError{Op: "export", Stream: f.Stream, Err: err}
	}
	s.mu.Lock()
	var selected []domain.RecordedEvent
	pick := func(i int) bool {
		if e := s.log[i]; f.Match(e) {
			selected = append(selected, copyEvent(e))
		}
		return f.Limit <= 0 || len(selected) < f.Limit
	}
	if f.Stream != "" {
		for _, i := range s.streams[f.Stream] {
			if !pick(i) {
				break
			}
		}
	} else {
		for i := range s.log {
			if !pick(i) {
				break
			}
		}
	}
	s.mu.Unlock()
	for _, e := range selected {
		if err := ctx.Err(); err != nil {
			return &commands.StoreError{Op: "export", Stream: f.Stream, Err: err}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
