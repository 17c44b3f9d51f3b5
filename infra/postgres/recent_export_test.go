package postgres

import "github.com/ticketing/ticketing/domain"

// Recent returns up to limit events after position after that the store
// keeps in memory: those its followers read and those it appended.
func (s *Store) Recent(after domain.Position, limit int) []domain.RecordedEvent {
	return s.recent.after(after, limit)
}
