// Package projectionstest holds projectors for the tests of parked streams
// in several packages, and the running of a Runner for the tests that
// project a log.
package projectionstest

import (
	"context"
	"strings"
	"testing"

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

// Start runs r until the test ends; an error Run returns then fails the
// test.
func Start(t testing.TB, r *projections.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
}
