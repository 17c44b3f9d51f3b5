// Package eventstoretest is the contract suite that every commands.EventStore
// adapter passes: its tests call Run with a constructor of empty stores.
package eventstoretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// waitTimeout bounds every wait for a follower; only a broken store reaches it.
const waitTimeout = 10 * time.Second

// Run runs the contract of commands.EventStore against stores made by
// newStore, which must return an empty store for each call. Every subtest
// runs in parallel with its own store.
//
// A *commands.ConflictError must name the stream and the expected version;
// its Actual must be the stream's version, or -1 if the adapter cannot tell.
func Run(t *testing.T, newStore func(t *testing.T) commands.EventStore) {
	t.Helper()
	runBehaviours(t, newStore, []behaviour[commands.EventStore]{
		{"append to a new stream with NoStream", testAppendNoStream},
		{"append with a wrong expected version conflicts and writes nothing", testAppendConflict},
		{"append with AnyVersion", testAppendAnyVersion},
		{"concurrent appends at one expected version: exactly one wins", testAppendConcurrent},
		{"concurrent appends with AnyVersion all succeed", testAppendConcurrentAnyVersion},
		{"append of no events writes nothing", testAppendNothing},
		{"append of invalid JSON fails and writes nothing", testAppendInvalidJSON},
		{"retried append returns the original result", testAppendRetry},
		{"concurrent retries of one append store it once", testAppendRetryConcurrent},
		{"append whose ids partly overlap conflicts and writes nothing", testAppendOverlap},
		{"read stream from a version", testReadStream},
		{"read stream of a missing stream", testReadStreamMissing},
		{"read all pages in log order", testReadAll},
		{"follow delivers existing then new events once, in order", testFollow},
		{"follow from a position", testFollowFrom},
		{"follow returns the context error when cancelled", testFollowCancel},
		{"follow returns the handler error", testFollowHandlerError},
		{"follower of concurrent appenders sees the final log", testFollowConcurrent},
		{"events round-trip", testRoundTrip},
	})
	if _, ok := newStore(t).(commands.MultiAppender); ok {
		runMulti(t, newStore)
	}
}

// behaviour is one named behaviour of a contract, checked on a store S.
type behaviour[S any] struct {
	name string
	test func(t *testing.T, s S)
}

// runBehaviours checks each behaviour in a parallel subtest of its own, on
// a fresh store.
func runBehaviours[S any](t *testing.T, newStore func(t *testing.T) S, behaviours []behaviour[S]) {
	t.Helper()
	for _, b := range behaviours {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.test(t, newStore(t))
		})
	}
}

func testAppendNoStream(t *testing.T, s commands.EventStore) {
	events := newEvents(3)
	got := mustAppend(t, s, "show-1", domain.NoStream, events)
	if got.Version != 3 {
		t.Errorf("Append version = %d, want 3", got.Version)
	}
	recs := mustReadStream(t, s, "show-1", 0)
	assertIDs(t, "ReadStream", recs, IDs(events))
	for i, rec := range recs {
		if got, want := rec.Version, int64(i+1); got != want {
			t.Errorf("event %d version = %d, want %d", i, got, want)
		}
	}
	if len(recs) == 3 && recs[2].Position != got.Position {
		t.Errorf("Append position = %v, want the last event's %v", got.Position, recs[2].Position)
	}
}

func testAppendConflict(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(2))
	mustAppend(t, s, "show-2", domain.NoStream, newEvents(1))
	before := mustReadAll(t, s)
	for _, tc := range []struct {
		name       string
		stream     string
		expected   int64
		wantActual int64
	}{
		{"stale version", "show-1", 1, 2},
		{"NoStream on an existing stream", "show-1", domain.NoStream, 2},
		{"version ahead of the stream", "show-1", 5, 2},
		{"version on a missing stream", "show-3", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(t.Context(), tc.stream, tc.expected, newEvents(2))
			assertConflict(t, err, tc.stream, tc.expected, tc.wantActual)
		})
	}
	after := mustReadAll(t, s)
	assertIDs(t, "ReadAll after conflicts", after, IDs(before))
	if got := mustReadStream(t, s, "show-3", 0); len(got) != 0 {
		t.Errorf("ReadStream(show-3) has %d events, want 0", len(got))
	}
}

func testAppendAnyVersion(t *testing.T, s commands.EventStore) {
	got := mustAppend(t, s, "show-1", domain.AnyVersion, newEvents(2))
	if got.Version != 2 {
		t.Errorf("Append to a new stream: version = %d, want 2", got.Version)
	}
	got = mustAppend(t, s, "show-1", domain.AnyVersion, newEvents(1))
	if got.Version != 3 {
		t.Errorf("Append to an existing stream: version = %d, want 3", got.Version)
	}
	if recs := mustReadStream(t, s, "show-1", 0); len(recs) != 3 {
		t.Errorf("ReadStream has %d events, want 3", len(recs))
	}
}

func testAppendConcurrent(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(1))
	const n = 20
	batches := make([][]domain.EventData, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		batches[i] = newEvents(2)
		wg.Go(func() {
			_, errs[i] = s.Append(t.Context(), "show-1", 1, batches[i])
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("appends %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		default:
			assertConflict(t, err, "show-1", 1, 3)
		}
	}
	if winner < 0 {
		t.Fatalf("no append succeeded")
	}
	recs := mustReadStream(t, s, "show-1", 2)
	assertIDs(t, "ReadStream", recs, IDs(batches[winner]))
	if got, want := len(mustReadAll(t, s)), 3; got != want {
		t.Errorf("ReadAll has %d events, want %d", got, want)
	}
}

func testAppendConcurrentAnyVersion(t *testing.T, s commands.EventStore) {
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Append(t.Context(), "show-1", domain.AnyVersion, newEvents(2))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	recs := mustReadStream(t, s, "show-1", 0)
	if len(recs) != 2*n {
		t.Fatalf("ReadStream has %d events, want %d", len(recs), 2*n)
	}
	for i, rec := range recs {
		if got, want := rec.Version, int64(i+1); got != want {
			t.Errorf("event %d version = %d, want %d", i, got, want)
		}
	}
}

func testAppendNothing(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(2))
	got, err := s.Append(t.Context(), "show-1", 2, nil)
	if err != nil {
		t.Fatalf("Append(no events): %v", err)
	}
	if got.Version != 2 {
		t.Errorf("Append(no events) version = %d, want 2", got.Version)
	}
	if got, want := len(mustReadAll(t, s)), 2; got != want {
		t.Errorf("ReadAll has %d events, want %d", got, want)
	}
}

func testAppendInvalidJSON(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(1))
	events := newEvents(2)
	events[1].Data = []byte(`{"n":`)
	_, err := s.Append(t.Context(), "show-1", 1, events)
	if err == nil {
		t.Fatalf("Append(invalid JSON) succeeded, want an error")
	}
	if errors.Is(err, commands.ErrConflict) {
		t.Errorf("Append(invalid JSON) = %v, want an error other than a conflict", err)
	}
	if got, want := len(mustReadAll(t, s)), 1; got != want {
		t.Errorf("ReadAll has %d events, want %d", got, want)
	}
}

func testAppendRetry(t *testing.T, s commands.EventStore) {
	events := newEvents(2)
	want := mustAppend(t, s, "show-1", domain.NoStream, events)
	mustAppend(t, s, "show-2", domain.NoStream, newEvents(1))
	mustAppend(t, s, "show-1", 2, newEvents(1))
	for _, tc := range []struct {
		name     string
		expected int64
	}{
		{"with the original, now stale, version", domain.NoStream},
		{"with AnyVersion", domain.AnyVersion},
		{"with the current version", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Append(t.Context(), "show-1", tc.expected, events)
			if err != nil {
				t.Fatalf("Append(retry): %v", err)
			}
			if got != want {
				t.Errorf("Append(retry) = %+v, want %+v", got, want)
			}
		})
	}
	if got, want := len(mustReadStream(t, s, "show-1", 0)), 3; got != want {
		t.Errorf("ReadStream has %d events, want %d", got, want)
	}
	if got, want := len(mustReadAll(t, s)), 4; got != want {
		t.Errorf("ReadAll has %d events, want %d", got, want)
	}
}

func testAppendRetryConcurrent(t *testing.T, s commands.EventStore) {
	events := newEvents(3)
	const n = 10
	results := make([]commands.AppendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = s.Append(t.Context(), "show-1", domain.NoStream, events)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("append %d: %v", i, errs[i])
		} else if results[i] != results[0] {
			t.Errorf("append %d = %+v, want %+v", i, results[i], results[0])
		}
	}
	assertIDs(t, "ReadAll", mustReadAll(t, s), IDs(events))
}

func testAppendOverlap(t *testing.T, s commands.EventStore) {
	old := newEvents(2)
	mustAppend(t, s, "show-1", domain.NoStream, old)
	other := newEvents(1)
	mustAppend(t, s, "show-2", domain.NoStream, other)
	before := mustReadAll(t, s)
	fresh := newEvents(2)
	for _, tc := range []struct {
		name     string
		stream   string
		expected int64
		events   []domain.EventData
	}{
		{"old id then a new one", "show-1", 2, []domain.EventData{old[1], fresh[0]}},
		{"new id then an old one", "show-1", 2, []domain.EventData{fresh[0], old[0]}},
		{"old ids out of order", "show-1", 2, []domain.EventData{old[1], old[0]}},
		{"old ids with a gap", "show-1", 2, []domain.EventData{old[0], fresh[1], old[1]}},
		{"ids of another stream", "show-1", 2, other},
		{"ids into another stream", "show-3", domain.NoStream, old},
		{"one new id twice", "show-1", 2, []domain.EventData{fresh[0], fresh[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(t.Context(), tc.stream, tc.expected, tc.events)
			if !errors.Is(err, commands.ErrConflict) {
				t.Errorf("Append = %v, want a conflict", err)
			}
			var ce *commands.ConflictError
			if !errors.As(err, &ce) {
				t.Errorf("Append = %v, want a *commands.ConflictError", err)
			}
		})
	}
	assertIDs(t, "ReadAll after overlapping appends", mustReadAll(t, s), IDs(before))
}

func testReadStream(t *testing.T, s commands.EventStore) {
	events := newEvents(5)
	mustAppend(t, s, "show-1", domain.NoStream, events[:2])
	mustAppend(t, s, "show-2", domain.NoStream, newEvents(2))
	mustAppend(t, s, "show-1", 2, events[2:])
	for _, tc := range []struct {
		name string
		from int64
		want []domain.EventData
	}{
		{"from 0", 0, events},
		{"from 1", 1, events},
		{"from 3", 3, events[2:]},
		{"from the last", 5, events[4:]},
		{"from after the last", 6, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustReadStream(t, s, "show-1", tc.from)
			assertIDs(t, "ReadStream", got, IDs(tc.want))
			for i, rec := range got {
				if want := max(tc.from, 1) + int64(i); rec.Version != want {
					t.Errorf("event %d version = %d, want %d", i, rec.Version, want)
				}
				if rec.StreamID != "show-1" {
					t.Errorf("event %d stream = %q, want show-1", i, rec.StreamID)
				}
			}
		})
	}
}

func testReadStreamMissing(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(1))
	got, err := s.ReadStream(t.Context(), "show-404", 0)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ReadStream has %d events, want 0", len(got))
	}
}

func testReadAll(t *testing.T, s commands.EventStore) {
	var want []uuid.UUID
	var lastPositions []domain.Position
	for i, stream := range []string{"a", "b", "a", "c", "b"} {
		events := newEvents(1 + i%2)
		res := mustAppend(t, s, stream, domain.AnyVersion, events)
		want = append(want, IDs(events)...)
		lastPositions = append(lastPositions, res.Position)
	}
	const limit = 3
	var got []domain.RecordedEvent
	after := domain.Start
	for page := 0; ; page++ {
		if page > len(want) {
			t.Fatalf("ReadAll did not stop after %d pages", page)
		}
		recs, err := s.ReadAll(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if len(recs) > limit {
			t.Fatalf("ReadAll returned %d events, want at most %d", len(recs), limit)
		}
		if len(recs) == 0 {
			break
		}
		got = append(got, recs...)
		after = recs[len(recs)-1].Position
	}
	assertIDs(t, "ReadAll pages", got, want)
	assertAscending(t, got)
	for _, p := range lastPositions {
		found := false
		for _, rec := range got {
			found = found || rec.Position == p
		}
		if !found {
			t.Errorf("no event at the appended position %v", p)
		}
	}
	if len(got) > 4 {
		rest, err := s.ReadAll(t.Context(), got[3].Position, 100)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		assertIDs(t, "ReadAll after the 4th event", rest, want[4:])
	}
}

func testFollow(t *testing.T, s commands.EventStore) {
	first := newEvents(3)
	mustAppend(t, s, "show-1", domain.NoStream, first)
	f := StartFollow(t, s, domain.Start)
	got := f.WaitFor(t, 3)
	assertIDs(t, "delivered before appends", got, IDs(first))

	second := newEvents(2)
	mustAppend(t, s, "show-2", domain.NoStream, second[:1])
	mustAppend(t, s, "show-1", 3, second[1:])
	marker := newEvents(1)
	mustAppend(t, s, "marker", domain.NoStream, marker)
	got = f.WaitFor(t, 6)
	want := append(append(IDs(first), IDs(second)...), IDs(marker)...)
	assertIDs(t, "delivered", got, want)
	assertIDs(t, "delivered", got, IDs(mustReadAll(t, s)))
	assertAscending(t, got)
	if err := f.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Follow = %v, want context.Canceled", err)
	}
}

func testFollowFrom(t *testing.T, s commands.EventStore) {
	events := newEvents(4)
	res := mustAppend(t, s, "show-1", domain.NoStream, events[:2])
	mustAppend(t, s, "show-1", 2, events[2:])
	f := StartFollow(t, s, res.Position)
	assertIDs(t, "delivered", f.WaitFor(t, 2), IDs(events[2:]))
	more := newEvents(1)
	mustAppend(t, s, "show-1", 4, more)
	assertIDs(t, "delivered", f.WaitFor(t, 3), append(IDs(events[2:]), IDs(more)...))
}

func testFollowCancel(t *testing.T, s commands.EventStore) {
	t.Run("while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := s.Follow(ctx, domain.Start, func(context.Context, []domain.RecordedEvent) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Follow = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("from the handler", func(t *testing.T) {
		mustAppend(t, s, "show-1", domain.AnyVersion, newEvents(2))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		calls := 0
		err := s.Follow(ctx, domain.Start, func(context.Context, []domain.RecordedEvent) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow = %v, want context.Canceled", err)
		}
		if calls != 1 {
			t.Errorf("handler called %d times after cancel, want 1", calls)
		}
	})
}

func testFollowHandlerError(t *testing.T, s commands.EventStore) {
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(2))
	errStop := errors.New("stop")
	calls := 0
	err := s.Follow(t.Context(), domain.Start, func(context.Context, []domain.RecordedEvent) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Follow = %v, want the handler's error", err)
	}
	if calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
}

func testFollowConcurrent(t *testing.T, s commands.EventStore) {
	f := StartFollow(t, s, domain.Start)
	const writers, appends = 6, 10
	var wg sync.WaitGroup
	var appended atomic.Int64
	errs := make(chan error, writers*appends)
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("writer-%d", w)
			version := domain.NoStream
			for i := range appends {
				if i%2 == 0 {
					res, err := s.Append(context.Background(), own, version, newEvents(1+i%3))
					appended.Add(int64(1 + i%3))
					if err != nil {
						errs <- fmt.Errorf("%s: %w", own, err)
						return
					}
					version = res.Version
					continue
				}
				appended.Add(1)
				if _, err := s.Append(context.Background(), "shared", domain.AnyVersion, newEvents(1)); err != nil {
					errs <- fmt.Errorf("shared: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	marker := newEvents(1)
	mustAppend(t, s, "marker", domain.NoStream, marker)
	final := mustReadAll(t, s)
	got := f.WaitFor(t, len(final))
	if got, want := len(final), int(appended.Load())+1; got != want {
		t.Errorf("ReadAll has %d events, want %d", got, want)
	}
	assertIDs(t, "delivered", got, IDs(final))
	assertAscending(t, got)
	for i := range min(len(got), len(final)) {
		if got[i].Position != final[i].Position {
			t.Errorf("event %d delivered at %v, ReadAll has it at %v", i, got[i].Position, final[i].Position)
			break
		}
	}
	seen := map[uuid.UUID]bool{}
	for _, rec := range got {
		if seen[rec.ID] {
			t.Errorf("event %s delivered twice", rec.ID)
		}
		seen[rec.ID] = true
	}
}

func testRoundTrip(t *testing.T, s commands.EventStore) {
	events := []domain.EventData{
		{ID: uuid.New(), Type: "ShowCreated", Data: []byte(`{"title": "Hamlet", "seats": [1, 2], "n": 1.5}`),
			Metadata: []byte(`{"correlation_id":"c-1","user_id":"u-1"}`)},
		{ID: uuid.New(), Type: "ShowPublished", Data: []byte(`{}`)},
	}
	before := time.Now()
	res := mustAppend(t, s, "show-1", domain.NoStream, events)
	after := time.Now()

	stream := mustReadStream(t, s, "show-1", 0)
	all := mustReadAll(t, s)
	f := StartFollow(t, s, domain.Start)
	followed := f.WaitFor(t, 2)
	for _, src := range []struct {
		name string
		recs []domain.RecordedEvent
	}{{"ReadStream", stream}, {"ReadAll", all}, {"Follow", followed}} {
		t.Run(src.name, func(t *testing.T) {
			if len(src.recs) != 2 {
				t.Fatalf("got %d events, want 2", len(src.recs))
			}
			for i, rec := range src.recs {
				e := events[i]
				if rec.ID != e.ID || rec.Type != e.Type || rec.StreamID != "show-1" || rec.Version != int64(i+1) {
					t.Errorf("event %d = {%s %s %s %d}, want {%s %s show-1 %d}",
						i, rec.ID, rec.Type, rec.StreamID, rec.Version, e.ID, e.Type, i+1)
				}
				if !jsonEqual(rec.Data, e.Data) {
					t.Errorf("event %d data = %s, want %s", i, rec.Data, e.Data)
				}
				// The clocks of a remote server and of the test may differ a little.
				if rec.RecordedAt.Before(before.Add(-5*time.Second)) || rec.RecordedAt.After(after.Add(5*time.Second)) {
					t.Errorf("event %d recorded at %v, want between %v and %v", i, rec.RecordedAt, before, after)
				}
				if !rec.RecordedAt.Equal(stream[i].RecordedAt) {
					t.Errorf("event %d recorded at %v, ReadStream says %v", i, rec.RecordedAt, stream[i].RecordedAt)
				}
			}
			if !jsonEqual(src.recs[0].Metadata, events[0].Metadata) {
				t.Errorf("metadata = %s, want %s", src.recs[0].Metadata, events[0].Metadata)
			}
			if md := src.recs[1].Metadata; len(md) > 0 && !jsonEqual(md, []byte(`{}`)) {
				t.Errorf("empty metadata reads back as %s, want nothing or {}", md)
			}
			if got := src.recs[1].Position; got != res.Position {
				t.Errorf("last position = %v, want the appended %v", got, res.Position)
			}
		})
	}
}

// Follower collects what a store's Follow delivers, for the tests of
// stores that check more than the contract.
type Follower struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed

	mu      sync.Mutex
	got     []domain.RecordedEvent
	changed chan struct{}
}

// StartFollow follows s from after until the test ends or Stop is called.
func StartFollow(t *testing.T, s commands.EventStore, after domain.Position) *Follower {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	f := &Follower{cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	go func() {
		defer close(f.done)
		f.err = s.Follow(ctx, after, func(_ context.Context, batch []domain.RecordedEvent) error {
			f.mu.Lock()
			f.got = append(f.got, batch...)
			f.mu.Unlock()
			select {
			case f.changed <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

// Delivered returns a copy of the events delivered so far.
func (f *Follower) Delivered() []domain.RecordedEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]domain.RecordedEvent(nil), f.got...)
}

// WaitFor waits until at least n events were delivered and returns them
// all; it fails the test when Follow returns first or after 10 seconds.
func (f *Follower) WaitFor(t *testing.T, n int) []domain.RecordedEvent {
	t.Helper()
	return f.WaitForWithin(t, n, waitTimeout)
}

// WaitForWithin is WaitFor, failing the test after d.
func (f *Follower) WaitForWithin(t *testing.T, n int, d time.Duration) []domain.RecordedEvent {
	t.Helper()
	timeout := time.After(d)
	for {
		got := f.Delivered()
		if len(got) >= n {
			return got
		}
		select {
		case <-f.changed:
		case <-f.done:
			t.Fatalf("Follow returned %v after delivering %d events, want %d", f.err, len(got), n)
		case <-timeout:
			t.Fatalf("Follow delivered %d events in %v, want %d", len(got), d, n)
		}
	}
}

// Stop cancels Follow and returns its error.
func (f *Follower) Stop() error {
	f.cancel()
	<-f.done
	return f.err
}

func newEvents(n int) []domain.EventData {
	out := make([]domain.EventData, n)
	for i := range out {
		out[i] = domain.EventData{
			ID:       uuid.New(),
			Type:     "TestHappened",
			Data:     fmt.Appendf(nil, `{"n":%d}`, i+1),
			Metadata: []byte(`{"correlation_id":"test"}`),
		}
	}
	return out
}

func mustAppend(t *testing.T, s commands.EventStore, stream string, expected int64, events []domain.EventData) commands.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, expected, events)
	if err != nil {
		t.Fatalf("Append(%s, %d): %v", stream, expected, err)
	}
	return res
}

func mustReadStream(t *testing.T, s commands.EventStore, stream string, from int64) []domain.RecordedEvent {
	t.Helper()
	recs, err := s.ReadStream(t.Context(), stream, from)
	if err != nil {
		t.Fatalf("ReadStream(%s, %d): %v", stream, from, err)
	}
	return recs
}

func mustReadAll(t *testing.T, s commands.EventStore) []domain.RecordedEvent {
	t.Helper()
	recs, err := s.ReadAll(t.Context(), domain.Start, 100_000)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	return recs
}

func assertConflict(t *testing.T, err error, stream string, expected, actual int64) {
	t.Helper()
	if !errors.Is(err, commands.ErrConflict) {
		t.Errorf("Append = %v, want an error matching commands.ErrConflict", err)
		return
	}
	var ce *commands.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("Append = %v, want a *commands.ConflictError", err)
		return
	}
	if ce.Stream != stream || ce.Expected != expected || (ce.Actual != actual && ce.Actual != -1) {
		t.Errorf("conflict = %+v, want {Stream:%s Expected:%d Actual:%d}", *ce, stream, expected, actual)
	}
}

func assertIDs(t *testing.T, what string, got []domain.RecordedEvent, want []uuid.UUID) {
	t.Helper()
	gotIDs := IDs(got)
	if len(gotIDs) != len(want) {
		t.Errorf("%s: got %d events, want %d", what, len(gotIDs), len(want))
		return
	}
	for i := range want {
		if gotIDs[i] != want[i] {
			t.Errorf("%s: event %d is %s, want %s", what, i, gotIDs[i], want[i])
			return
		}
	}
}

func assertAscending(t *testing.T, recs []domain.RecordedEvent) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if !recs[i-1].Position.Less(recs[i].Position) {
			t.Errorf("position %v follows %v, want strictly increasing", recs[i].Position, recs[i-1].Position)
			return
		}
	}
}

// IDs returns the ids of events, in order.
func IDs[E domain.EventData | domain.RecordedEvent](events []E) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		switch e := any(e).(type) {
		case domain.EventData:
			out[i] = e.ID
		case domain.RecordedEvent:
			out[i] = e.ID
		}
	}
	return out
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
