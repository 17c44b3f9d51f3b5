package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/eventstoretest"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// hold is how long a test watches something that must not happen.
const hold = 300 * time.Millisecond

func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.NewStore(t.Context(), pgtest.NewPool(t))
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func TestStore_Contract(t *testing.T) {
	t.Parallel()
	eventstoretest.Run(t, func(t *testing.T) commands.EventStore { return newStore(t) })
}

func TestNewStore(t *testing.T) {
	t.Parallel()
	t.Run("fails without a current schema", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(pgtest.BaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", "no_such_schema")
		u.RawQuery = q.Encode()
		if _, err := postgres.NewStore(t.Context(), pgtest.Connect(t, u.String())); err == nil {
			t.Errorf("NewStore succeeded, want an error")
		}
	})
}

func TestStore_Append(t *testing.T) {
	t.Parallel()
	t.Run("rolled-back append leaves no gap", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		errBoom := errors.New("boom")
		s.SetBeforeCommit(func(_ context.Context, stream string) error {
			if stream == "a" {
				return errBoom
			}
			return nil
		})
		f := eventstoretest.StartFollow(t, s, domain.Start)
		_, err := s.Append(t.Context(), "a", domain.NoStream, newEvents(2))
		var se *commands.StoreError
		if !errors.Is(err, errBoom) || !errors.As(err, &se) {
			t.Errorf("Append = %v, want a *commands.StoreError wrapping the hook's error", err)
		}
		b := newEvents(1)
		res := mustAppend(t, s, "b", domain.NoStream, b)
		if want := domain.PositionAt(1); res.Position != want {
			t.Errorf("next append at %v, want %v", res.Position, want)
		}
		got := f.WaitFor(t, 1)
		assertDelivered(t, got, ids(b))
		if got[0].Position != domain.PositionAt(1) {
			t.Errorf("delivered at %v, want %v", got[0].Position, domain.PositionAt(1))
		}
	})
}

func TestStore_Follow(t *testing.T) {
	t.Parallel()
	t.Run("waits for an uncommitted earlier append", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		inA, release := make(chan struct{}), make(chan struct{})
		releaseA := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseA)
		s.SetBeforeCommit(func(ctx context.Context, stream string) error {
			if stream != "a" {
				return nil
			}
			close(inA)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		seed := newEvents(1)
		mustAppend(t, s, "seed", domain.NoStream, seed)
		f := eventstoretest.StartFollow(t, s, domain.Start)
		f.WaitFor(t, 1)

		a, b := newEvents(1), newEvents(1)
		doneA, doneB := make(chan appendResult, 1), make(chan appendResult, 1)
		go func() { doneA <- appendAsync(s, "a", a) }()
		select {
		case <-inA:
		case r := <-doneA:
			t.Fatalf("append a returned %+v without reaching its commit", r)
		}
		go func() { doneB <- appendAsync(s, "b", b) }()

		time.Sleep(hold)
		assertDelivered(t, f.Delivered(), ids(seed))
		if head, err := s.Head(t.Context()); err != nil || head != domain.PositionAt(1) {
			t.Errorf("Head = %v, %v; want %v", head, err, domain.PositionAt(1))
		}
		select {
		case r := <-doneB:
			t.Fatalf("append b completed (%+v) while append a held earlier positions", r)
		default:
		}

		releaseA()
		ra, rb := receive(t, doneA), receive(t, doneB)
		if ra.err != nil || rb.err != nil {
			t.Fatalf("appends: a: %v, b: %v", ra.err, rb.err)
		}
		if !ra.res.Position.Less(rb.res.Position) {
			t.Errorf("a at %v, b at %v; want a first", ra.res.Position, rb.res.Position)
		}
		marker := newEvents(1)
		mustAppend(t, s, "marker", domain.NoStream, marker)
		got := f.WaitFor(t, 4)
		assertDelivered(t, got, ids(seed, a, b, marker))
		assertAscending(t, got)
	})

	t.Run("wakes on a notification", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		s.SetPollInterval(time.Hour)
		listening := make(chan uint32, 1)
		s.SetOnListen(func(pid uint32) { listening <- pid })
		f := eventstoretest.StartFollow(t, s, domain.Start)
		<-listening
		var want []uuid.UUID
		for i := range 3 {
			events := newEvents(1)
			want = append(want, events[0].ID)
			start := time.Now()
			mustAppend(t, s, "show-1", int64(i), events)
			got := f.WaitForWithin(t, i+1, 2*time.Second)
			t.Logf("append %d delivered %v after its commit", i, time.Since(start))
			assertDelivered(t, got, want)
		}
	})

	t.Run("reconnects when its connection breaks", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		s, err := postgres.NewStore(t.Context(), pool)
		if err != nil {
			t.Fatalf("NewStore: %v", err)
		}
		pids := make(chan uint32, 10)
		s.SetOnListen(func(pid uint32) { pids <- pid })
		f := eventstoretest.StartFollow(t, s, domain.Start)
		first := <-pids
		e1 := newEvents(1)
		mustAppend(t, s, "show-1", domain.NoStream, e1)
		f.WaitFor(t, 1)

		if _, err := pool.Exec(t.Context(), "select pg_terminate_backend($1)", first); err != nil {
			t.Fatalf("terminate the listening backend: %v", err)
		}
		e2 := newEvents(1)
		mustAppend(t, s, "show-1", 1, e2)
		f.WaitFor(t, 2)
		select {
		case second := <-pids:
			if second == first {
				t.Errorf("listens again on backend %d, want a new one", second)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Follow did not listen again")
		}
		marker := newEvents(1)
		mustAppend(t, s, "marker", domain.NoStream, marker)
		got := f.WaitFor(t, 3)
		assertDelivered(t, got, ids(e1, e2, marker))
	})

	t.Run("fails on a broken schema", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		s, err := postgres.NewStore(t.Context(), pool)
		if err != nil {
			t.Fatalf("NewStore: %v", err)
		}
		if _, err := pool.Exec(t.Context(), "drop table events"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err = s.Follow(ctx, domain.Start, func(context.Context, []domain.RecordedEvent) error { return nil })
		var se *commands.StoreError
		if !errors.As(err, &se) {
			t.Errorf("Follow = %v, want a *commands.StoreError", err)
		}
	})
}

func TestStore_Head(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	got, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if got != domain.Start {
		t.Errorf("Head of an empty log = %v, want %v", got, domain.Start)
	}
	mustAppend(t, s, "show-1", domain.NoStream, newEvents(2))
	res := mustAppend(t, s, "show-2", domain.NoStream, newEvents(3))
	got, err = s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if want := domain.PositionAt(5); got != want || res.Position != want {
		t.Errorf("Head = %v, last append at %v, want %v", got, res.Position, want)
	}
}

type appendResult struct {
	res commands.AppendResult
	err error
}

func appendAsync(s *postgres.Store, stream string, events []domain.EventData) appendResult {
	res, err := s.Append(context.Background(), stream, domain.NoStream, events)
	return appendResult{res, err}
}

func receive(t *testing.T, ch <-chan appendResult) appendResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("append did not return")
		return appendResult{}
	}
}

func newEvents(n int) []domain.EventData {
	out := make([]domain.EventData, n)
	for i := range out {
		out[i] = domain.EventData{ID: uuid.New(), Type: "TestHappened", Data: []byte(`{"n":1}`)}
	}
	return out
}

func mustAppend(t *testing.T, s *postgres.Store, stream string, expected int64, events []domain.EventData) commands.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, expected, events)
	if err != nil {
		t.Fatalf("Append(%s, %d): %v", stream, expected, err)
	}
	return res
}

func ids(batches ...[]domain.EventData) []uuid.UUID {
	var out []uuid.UUID
	for _, b := range batches {
		for _, e := range b {
			out = append(out, e.ID)
		}
	}
	return out
}

func assertDelivered(t *testing.T, got []domain.RecordedEvent, want []uuid.UUID) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("delivered %d events, want %d", len(got), len(want))
		return
	}
	for i := range want {
		if got[i].ID != want[i] {
			t.Errorf("event %d is %s, want %s", i, got[i].ID, want[i])
		}
	}
}

func assertAscending(t *testing.T, got []domain.RecordedEvent) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Less(got[i].Position) {
			t.Errorf("position %v follows %v, want strictly increasing", got[i].Position, got[i-1].Position)
		}
	}
}

// Followers of one Store share what they read: several following while
// appends go on, starting at different times and so partly from what the
// others read, each get the whole log once, in order.
func TestStore_FollowersShareReads(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var want []uuid.UUID
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 4 {
		wg.Go(func() {
			for range 50 {
				events := newEvents(1 + w%3)
				mustAppend(t, s, "stream-"+uuid.NewString(), domain.NoStream, events)
				mu.Lock()
				for _, e := range events {
					want = append(want, e.ID)
				}
				mu.Unlock()
			}
		})
	}
	var followers []*eventstoretest.Follower
	for range 3 {
		followers = append(followers, eventstoretest.StartFollow(t, s, domain.Start))
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	all, err := s.ReadAll(t.Context(), domain.Start, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("log has %d events, want %d", len(all), len(want))
	}
	for i, f := range followers {
		got := f.WaitFor(t, len(all))
		time.Sleep(50 * time.Millisecond)
		got = f.Delivered()
		if len(got) != len(all) {
			t.Fatalf("follower %d: %d events, want %d", i, len(got), len(all))
		}
		for j := range all {
			if got[j].ID != all[j].ID || got[j].Position != all[j].Position || string(got[j].Data) != string(all[j].Data) {
				t.Fatalf("follower %d: event %d is %s at %s, want %s at %s", i, j, got[j].ID, got[j].Position, all[j].ID, all[j].Position)
			}
		}
	}
}

// The events an append keeps in memory for the followers of its store are
// the rows the log holds, to the byte and the microsecond, and only those
// (a store that appends nothing keeps nothing); a follower of an appending
// store and one of another store on the same log, while three stores
// append, are handed the same events, in one dense order, recorded at times
// that never go back.
func TestStore_AppendedEventsServedFromMemory(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	stores := make([]*postgres.Store, 3) // a and b are followed, c is not
	for i := range stores {
		s, err := postgres.NewStore(t.Context(), pool)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	fa, fb := eventstoretest.StartFollow(t, stores[0], domain.Start), eventstoretest.StartFollow(t, stores[1], domain.Start)
	const writers, appends = 6, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	total, byC := 0, map[uuid.UUID]bool{}
	for w := range writers {
		s, n := stores[w%3], 1+w%2
		total += appends * n
		wg.Go(func() {
			for i := range appends {
				events := newEvents(n)
				events[0].Metadata = []byte(` {"writer": ` + string(rune('0'+w)) + `} `) // kept as written
				if _, err := s.Append(t.Context(), uuid.NewString(), domain.NoStream, events); err != nil {
					t.Errorf("writer %d, append %d: %v", w, i, err)
				}
				if s == stores[2] {
					mu.Lock()
					for _, e := range events {
						byC[e.ID] = true
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	stored, err := stores[0].ReadAll(t.Context(), domain.Start, total+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != total {
		t.Fatalf("the log holds %d events, want %d", len(stored), total)
	}
	kept := 0
	for i, e := range stored {
		if e.Position != domain.PositionAt(uint64(i+1)) {
			t.Fatalf("event %d at %v: the log is not dense", i, e.Position)
		}
		if i > 0 && e.RecordedAt.Before(stored[i-1].RecordedAt) {
			t.Errorf("event at %v recorded at %v, before the one before it (%v)", e.Position, e.RecordedAt, stored[i-1].RecordedAt)
		}
		m := stores[2].Recent(domain.PositionAt(uint64(i)), 1)
		switch {
		case len(m) == 1 && !byC[e.ID]:
			t.Errorf("store c keeps the event at %v, which another store appended", e.Position)
		case len(m) == 1:
			kept++
			if !reflect.DeepEqual(m[0], e) {
				t.Errorf("kept in memory:\n%+v\nthe log holds:\n%+v", m[0], e)
			}
		}
	}
	if kept != len(byC) {
		t.Errorf("store c keeps %d of the %d events it appended", kept, len(byC))
	}
	for name, f := range map[string]*eventstoretest.Follower{"the appending store's": fa, "another store's": fb} {
		if got := f.WaitFor(t, total); !reflect.DeepEqual(got, stored) {
			t.Errorf("%s follower was handed events other than the log's", name)
		}
	}
}
