package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
)

// An append whose streams are all expected at a version (none yet, or an
// exact one) is one round trip: BEGIN, the insert that moves log_head, the
// check of the versions, the notification and COMMIT. One that expects a
// stream at a version it is not at, behind or ahead, is refused as a
// conflict with the stream's actual version and writes nothing; a retry of
// an append comes back with the original answer; an append that skips the
// check reads the log first, two round trips. The log stays dense and in
// time order, and every answer's position is the stored one.
func TestStore_AppendExpectedInOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, trips := tracedPool(t)
	s, err := postgres.NewStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "warm", domain.NoStream, newEvents(1)) // the connection is open
	trips.batches.Store(0)
	trips.alone.Store(0)
	sent := func(what string, batches, alone int32) {
		t.Helper()
		if b, a := trips.batches.Swap(0), trips.alone.Swap(0); b != batches || a != alone {
			t.Errorf("%s: %d batches and %d statements alone, want %d and %d", what, b, a, batches, alone)
		}
	}
	at := func(what string, res commands.AppendResult, version int64, position uint64) {
		t.Helper()
		if res.Version != version || res.Position != domain.PositionAt(position) {
			t.Errorf("%s: version %d at %v, want %d at %v", what, res.Version, res.Position, version, domain.PositionAt(position))
		}
	}
	conflict := func(what string, err error, expected, actual int64) {
		t.Helper()
		var ce *commands.ConflictError
		if !errors.As(err, &ce) || ce.Stream != "a" || ce.Expected != expected || ce.Actual != actual {
			t.Errorf("%s: %v, want a conflict on a, expected %d, actual %d", what, err, expected, actual)
		}
	}

	first := newEvents(2)
	at("a new stream", mustAppend(t, s, "a", domain.NoStream, first), 2, 3)
	sent("a new stream", 1, 0)
	second := newEvents(1)
	at("at its version", mustAppend(t, s, "a", 2, second), 3, 4)
	sent("at its version", 1, 0)

	_, err = s.Append(ctx, "a", 7, newEvents(1))
	conflict("ahead of the stream", err, 7, 3)
	_, err = s.Append(ctx, "a", 1, newEvents(1))
	conflict("behind the stream", err, 1, 3)
	_, err = s.Append(ctx, "a", domain.NoStream, newEvents(1))
	conflict("a new stream that exists", err, domain.NoStream, 3)
	trips.batches.Store(0)
	trips.alone.Store(0)

	at("a retry", mustAppend(t, s, "a", 2, second), 3, 4)
	trips.batches.Store(0)
	trips.alone.Store(0)
	at("an order beside a show", mustMulti(t, s, []commands.StreamAppend{
		{Stream: "a", Expected: 3, Events: newEvents(2)},
		{Stream: "order", Expected: domain.NoStream, Events: newEvents(1)},
	}), 1, 7)
	sent("an order beside a show", 1, 0)
	at("no check", mustAppend(t, s, "a", domain.AnyVersion, newEvents(1)), 6, 8)
	sent("no check", 2, 0)

	stored, err := s.ReadAll(ctx, domain.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 8 {
		t.Fatalf("the log holds %d events, want 8", len(stored))
	}
	for i, e := range stored {
		if e.Position != domain.PositionAt(uint64(i+1)) {
			t.Errorf("event %d at %v: the log is not dense", i, e.Position)
		}
		if i > 0 && e.RecordedAt.Before(stored[i-1].RecordedAt) {
			t.Errorf("event at %v recorded before the one before it", e.Position)
		}
	}
	if stored[1].ID != first[0].ID || stored[3].ID != second[0].ID || stored[3].Version != 3 {
		t.Errorf("the log holds %+v", stored)
	}
	for i, e := range s.Recent(domain.Start, 100) {
		if e.Position != stored[i].Position || e.ID != stored[i].ID || !e.RecordedAt.Equal(stored[i].RecordedAt) {
			t.Errorf("kept in memory at %v: %+v, the log holds %+v", e.Position, e, stored[i])
		}
	}
}

func mustMulti(t *testing.T, s *postgres.Store, parts []commands.StreamAppend) commands.AppendResult {
	t.Helper()
	res, err := s.AppendMulti(t.Context(), parts)
	if err != nil {
		t.Fatalf("AppendMulti: %v", err)
	}
	return res[len(res)-1]
}
