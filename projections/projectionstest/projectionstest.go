// Package projectionstest holds projectors for the tests of parked streams
// in several packages.
package projectionstest

import (
	"context"
	"strings"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// FixedShows is the shows projector of a fixed release: it stores a title
// without its NUL characters, which the released one parked on.
type FixedShows struct{ projections.Shows }

// Apply applies e with the NUL characters of a created show's title removed.
func (f FixedShows) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, e domain.Event) error {
	if c, ok := e.(domain.ShowCreated); ok {
		c.Title = strings.ReplaceAll(c.Title, "\x00", "")
		e = c
	}
	return f.Shows.Apply(ctx, db, rec, e)
}

// ApplyBatch applies one by one: Shows' own would skip the fix.
func (f FixedShows) ApplyBatch(ctx context.Context, db projections.DB, recs []domain.RecordedEvent, events []domain.Event) error {
	for i := range recs {
		if err := f.Apply(ctx, db, recs[i], events[i]); err != nil {
			return &projections.BatchError{Index: i, Err: err}
		}
	}
	return nil
}
