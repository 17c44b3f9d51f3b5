package postgres

import (
	"context"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// SetBeforeCommit makes Append call f in its transaction after it wrote and
// before it commits; an error from f rolls the append back.
func (s *Store) SetBeforeCommit(f func(ctx context.Context, stream string) error) { s.beforeCommit = f }

// SetOnListen makes Follow call f with the backend process id of every
// connection it listens on.
func (s *Store) SetOnListen(f func(pid uint32)) { s.onListen = f }

// SetPollInterval sets how long Follow waits for a notification before it
// reads the log anyway.
func (s *Store) SetPollInterval(d time.Duration) { s.pollInterval = d }

// StreamVersionsSQL is the query with which an append reads its streams'
// versions.
const StreamVersionsSQL = streamVersions

// Recent returns up to limit events after position after that the store
// keeps in memory: those its followers read and those it appended.
func (s *Store) Recent(after domain.Position, limit int) []domain.RecordedEvent {
	return s.recent.after(after, limit)
}
