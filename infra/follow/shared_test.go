package follow_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
	"github.com/ticketing/ticketing/infra/memory"
)

// seen is an event as the shared feed decoded it: its id.
type seen struct{ id uuid.UUID }

func (seen) EventType() string { return "test.seen" }

// sharedOver returns a Shared over a memory store and the count of its
// decodes.
func sharedOver(store *memory.Store, max, batch int) (*follow.Shared, *atomic.Int64) {
	var decodes atomic.Int64
	return &follow.Shared{Source: store, Max: max, Batch: batch, Retry: 10 * time.Millisecond,
		Decode: func(rec domain.RecordedEvent) (domain.Event, error) {
			decodes.Add(1)
			return seen{rec.ID}, nil
		}}, &decodes
}

func appendEvents(t *testing.T, store *memory.Store, n int) {
	t.Helper()
	for i := range n {
		e := domain.EventData{ID: uuid.New(), Type: "test.seen", Data: []byte(`{}`)}
		if _, err := store.Append(context.Background(), fmt.Sprintf("s-%d", i%3), domain.AnyVersion, []domain.EventData{e}); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder checks that a follower sees the log after its start once, in
// order, each event decoded as itself.
type recorder struct {
	mu   sync.Mutex
	next uint64 // the position it wants next
	err  error
}

func (r *recorder) take(recs []domain.RecordedEvent, events []domain.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range recs {
		if rec.Position != domain.PositionAt(r.next) && r.err == nil {
			r.err = fmt.Errorf("got position %s, want %d", rec.Position, r.next)
		}
		if e, ok := events[i].(seen); (!ok || e.id != rec.ID) && r.err == nil {
			r.err = fmt.Errorf("position %s: decoded as %v, want its own id", rec.Position, events[i])
		}
		r.next = rec.Position.Commit + 1
	}
}

func (r *recorder) at() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// TestShared_SlowFollower runs a fast follower, a slow one that falls out
// of the kept events (8) again and again, and one that fails now and then
// and follows again from its position: each sees every event once, in
// order, while events are appended.
func TestShared_SlowFollower(t *testing.T) {
	t.Parallel()
	store := memory.NewStore()
	appendEvents(t, store, 5) // before the tail starts: caught up from the store
	shared, _ := sharedOver(store, 8, 5)
	const total = 305
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fast, slow, failing := &recorder{next: 1}, &recorder{next: 1}, &recorder{next: 1}
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = shared.FollowDecoded(ctx, domain.Start, func(_ context.Context, recs []domain.RecordedEvent, events []domain.Event, _ []error) error {
			fast.take(recs, events)
			return nil
		})
	})
	wg.Go(func() {
		_ = shared.FollowDecoded(ctx, domain.Start, func(_ context.Context, recs []domain.RecordedEvent, events []domain.Event, _ []error) error {
			time.Sleep(2 * time.Millisecond)
			slow.take(recs, events)
			return nil
		})
	})
	errOnce := errors.New("handler failed")
	wg.Go(func() {
		calls := 0
		for ctx.Err() == nil {
			err := shared.FollowDecoded(ctx, domain.PositionAt(failing.at()-1), func(_ context.Context, recs []domain.RecordedEvent, events []domain.Event, _ []error) error {
				if calls++; calls%7 == 0 {
					return errOnce
				}
				failing.take(recs, events)
				return nil
			})
			if err != nil && !errors.Is(err, errOnce) && ctx.Err() == nil {
				t.Errorf("follow: %v", err)
				return
			}
		}
	})
	for range (total - 5) / 10 {
		appendEvents(t, store, 10)
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range []*recorder{fast, slow, failing} {
		for r.at() <= total && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	for name, r := range map[string]*recorder{"fast": fast, "slow": slow, "failing": failing} {
		if r.err != nil {
			t.Errorf("%s follower: %v", name, r.err)
		}
		if got := r.at() - 1; got != total {
			t.Errorf("%s follower saw up to position %d, want %d", name, got, total)
		}
	}
}

// TestShared_DecodesOnce has two followers at the head: each event is
// decoded once for both.
func TestShared_DecodesOnce(t *testing.T) {
	t.Parallel()
	store := memory.NewStore()
	appendEvents(t, store, 3)
	shared, decodes := sharedOver(store, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head, _ := store.Head(ctx)
	a, b := &recorder{next: head.Commit + 1}, &recorder{next: head.Commit + 1}
	var wg sync.WaitGroup
	for _, r := range []*recorder{a, b} {
		wg.Go(func() {
			_ = shared.FollowDecoded(ctx, head, func(_ context.Context, recs []domain.RecordedEvent, events []domain.Event, _ []error) error {
				r.take(recs, events)
				return nil
			})
		})
	}
	// Nothing is appended before the tail starts: both follow it.
	const n = 50
	wait := func(upTo uint64) {
		deadline := time.Now().Add(10 * time.Second)
		for (a.at() <= upTo || b.at() <= upTo) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !follow.Started(shared) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	appendEvents(t, store, n)
	wait(head.Commit + n)
	cancel()
	wg.Wait()
	for _, r := range []*recorder{a, b} {
		if r.err != nil {
			t.Error(r.err)
		}
		if got := r.at() - 1 - head.Commit; got != n {
			t.Errorf("a follower saw %d events, want %d", got, n)
		}
	}
	if got := decodes.Load(); got != n {
		t.Errorf("%d decodes of %d events followed twice, want %d", got, n, n)
	}
}
