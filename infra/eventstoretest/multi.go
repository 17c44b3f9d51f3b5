package eventstoretest

import (
	"slices"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// runMulti runs the contract of commands.MultiAppender, for stores that
// have it.
func runMulti(t *testing.T, newStore func(t *testing.T) commands.EventStore) {
	multi := func(t *testing.T) commands.MultiAppender { return newStore(t).(commands.MultiAppender) }
	runBehaviours(t, multi, []behaviour[commands.MultiAppender]{
		{"multi-stream append writes every part in order", testMultiAppend},
		{"multi-stream append with one conflicting part writes nothing", testMultiConflict},
		{"retried multi-stream append returns the original results", testMultiRetry},
		{"multi-stream append whose ids were partly appended conflicts", testMultiPartlyRetried},
		{"concurrent multi-stream appends at one expected version: exactly one wins", testMultiConcurrent},
	})
}

func mustAppendMulti(t *testing.T, s commands.MultiAppender, parts []commands.StreamAppend) []commands.AppendResult {
	t.Helper()
	res, err := s.AppendMulti(t.Context(), parts)
	if err != nil {
		t.Fatalf("AppendMulti: %v", err)
	}
	if len(res) != len(parts) {
		t.Fatalf("AppendMulti returned %d results for %d parts", len(res), len(parts))
	}
	return res
}

func testMultiAppend(t *testing.T, s commands.MultiAppender) {
	es := s.(commands.EventStore)
	mustAppend(t, es, "show-1", domain.NoStream, newEvents(2))
	show, o1, o2 := newEvents(2), newEvents(1), newEvents(1)
	res := mustAppendMulti(t, s, []commands.StreamAppend{
		{Stream: "show-1", Expected: 2, Events: show},
		{Stream: "order-1", Expected: domain.NoStream, Events: o1},
		{Stream: "order-2", Expected: domain.NoStream, Events: o2},
	})
	if res[0].Version != 4 || res[1].Version != 1 || res[2].Version != 1 {
		t.Errorf("versions = %d, %d, %d; want 4, 1, 1", res[0].Version, res[1].Version, res[2].Version)
	}
	all := mustReadAll(t, es)
	assertIDs(t, "ReadAll", all[2:], slices.Concat(IDs(show), IDs(o1), IDs(o2)))
	for i, r := range res {
		stream := []string{"show-1", "order-1", "order-2"}[i]
		recs := mustReadStream(t, es, stream, 1)
		if last := recs[len(recs)-1]; last.Position != r.Position {
			t.Errorf("%s: result position %v, want its last event's %v", stream, r.Position, last.Position)
		}
	}
}

func testMultiConflict(t *testing.T, s commands.MultiAppender) {
	es := s.(commands.EventStore)
	mustAppend(t, es, "show-1", domain.NoStream, newEvents(2))
	mustAppend(t, es, "order-2", domain.NoStream, newEvents(1))
	before := mustReadAll(t, es)
	for _, tc := range []struct {
		name     string
		parts    []commands.StreamAppend
		stream   string
		expected int64
		actual   int64
	}{
		{"stale first part", []commands.StreamAppend{
			{Stream: "show-1", Expected: 1, Events: newEvents(1)},
			{Stream: "order-1", Expected: domain.NoStream, Events: newEvents(1)},
		}, "show-1", 1, 2},
		{"existing later part", []commands.StreamAppend{
			{Stream: "show-1", Expected: 2, Events: newEvents(1)},
			{Stream: "order-1", Expected: domain.NoStream, Events: newEvents(1)},
			{Stream: "order-2", Expected: domain.NoStream, Events: newEvents(1)},
		}, "order-2", domain.NoStream, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AppendMulti(t.Context(), tc.parts)
			assertConflict(t, err, tc.stream, tc.expected, tc.actual)
			assertIDs(t, "ReadAll", mustReadAll(t, es), IDs(before))
		})
	}
}

func testMultiRetry(t *testing.T, s commands.MultiAppender) {
	es := s.(commands.EventStore)
	parts := []commands.StreamAppend{
		{Stream: "show-1", Expected: domain.NoStream, Events: newEvents(2)},
		{Stream: "order-1", Expected: domain.NoStream, Events: newEvents(1)},
	}
	first := mustAppendMulti(t, s, parts)
	mustAppend(t, es, "show-1", 2, newEvents(1))
	again := mustAppendMulti(t, s, parts)
	if !slices.Equal(first, again) {
		t.Errorf("retry = %+v, want the original %+v", again, first)
	}
	if n := len(mustReadAll(t, es)); n != 4 {
		t.Errorf("log has %d events, want 4", n)
	}
}

func testMultiPartlyRetried(t *testing.T, s commands.MultiAppender) {
	es := s.(commands.EventStore)
	show := newEvents(1)
	mustAppend(t, es, "show-1", domain.NoStream, show)
	_, err := s.AppendMulti(t.Context(), []commands.StreamAppend{
		{Stream: "show-1", Expected: domain.NoStream, Events: show},
		{Stream: "order-1", Expected: domain.NoStream, Events: newEvents(1)},
	})
	assertConflict(t, err, "show-1", domain.NoStream, 1)
	if n := len(mustReadAll(t, es)); n != 1 {
		t.Errorf("log has %d events, want 1", n)
	}
}

func testMultiConcurrent(t *testing.T, s commands.MultiAppender) {
	es := s.(commands.EventStore)
	mustAppend(t, es, "show-1", domain.NoStream, newEvents(1))
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.AppendMulti(t.Context(), []commands.StreamAppend{
				{Stream: "show-1", Expected: 1, Events: newEvents(1)},
				{Stream: "order-" + string(rune('a'+i)), Expected: domain.NoStream, Events: newEvents(1)},
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assertConflict(t, err, "show-1", 1, 2)
		}
	}
	if won != 1 {
		t.Errorf("%d appends won, want 1", won)
	}
	if got := len(mustReadAll(t, es)); got != 3 {
		t.Errorf("log has %d events, want 3", got)
	}
}
