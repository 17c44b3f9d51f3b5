package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// countingLog is a log in memory that counts its reads and checks, on each,
// how many pages the SharedLog in front of it keeps.
type countingLog struct {
	events []domain.RecordedEvent
	reads  atomic.Int64
	shared *SharedLog
	peak   atomic.Int64
}

func (l *countingLog) ReadAll(_ context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	l.reads.Add(1)
	if l.shared != nil {
		l.shared.mu.Lock()
		if n := int64(len(l.shared.pages)); n > l.peak.Load() {
			l.peak.Store(n)
		}
		l.shared.mu.Unlock()
	}
	var out []domain.RecordedEvent
	for _, e := range l.events {
		if after.Less(e.Position) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// sharedLogEvents is a log of n events, every third one not decodable.
func sharedLogEvents(n int) []domain.RecordedEvent {
	events := make([]domain.RecordedEvent, n)
	for i := range events {
		show := uuid.New()
		data := fmt.Sprintf(`{"show_id":%q}`, show)
		if i%3 == 2 {
			data = `{"show_id":`
		}
		events[i] = domain.RecordedEvent{ID: uuid.New(), StreamID: "show-" + show.String(), Version: 1,
			Position: domain.PositionAt(uint64(i + 1)), Type: "show.published", Data: []byte(data), Metadata: []byte(`{}`)}
	}
	return events
}

// readThrough reads the whole log after from through r, in pages of limit,
// at a random pace, checking that each page comes decoded as the registry
// decodes it.
func readThrough(t *testing.T, r *SharedReader, registry *domain.Registry, after domain.Position, limit int) []domain.RecordedEvent {
	defer r.Close()
	var got []domain.RecordedEvent
	for {
		page, err := r.ReadAll(context.Background(), after, limit)
		if err != nil {
			t.Error(err)
			return got
		}
		if len(page) > 0 {
			sub := page[len(page)/3:]
			dec, errs, ok := r.decoded(sub)
			if !ok {
				t.Errorf("page after %s: not decoded", after)
				return got
			}
			for i, rec := range sub {
				want, wantErr := registry.DecodeRecorded(rec)
				if !reflect.DeepEqual(dec[i], want) || (errs[i] == nil) != (wantErr == nil) {
					t.Errorf("event %s: decoded %v, %v; want %v, %v", rec.Position, dec[i], errs[i], want, wantErr)
				}
			}
		}
		got = append(got, page...)
		if rand.IntN(3) == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		}
		if len(page) < limit {
			return got
		}
		after = page[len(page)-1].Position
	}
}

func TestSharedLog_ReadsAndDecodesOnceForAllReaders(t *testing.T) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	log := &countingLog{events: sharedLogEvents(1000)}
	shared := NewSharedLog(log, registry, 3)
	log.shared = shared
	const readers, limit = 6, 50
	results := make([][]domain.RecordedEvent, readers)
	var wg sync.WaitGroup
	for i, r := range shared.Readers(readers) {
		wg.Go(func() { results[i] = readThrough(t, r, registry, domain.Position{}, limit) })
	}
	wg.Wait()
	for i, got := range results {
		if !reflect.DeepEqual(got, log.events) {
			t.Errorf("reader %d got %d events, want the log's %d in order", i, len(got), len(log.events))
		}
	}
	// 20 full pages and the empty one at the end; an empty page is dropped
	// at once, so each reader may read it itself.
	if n := log.reads.Load(); n > 21+readers {
		t.Errorf("the log was read %d times for %d readers of 21 pages: pages were not shared", n, readers)
	}
	if p := log.peak.Load(); p > 3+1 {
		t.Errorf("up to %d pages kept, bound 3 (+1 for the reader furthest behind)", p)
	}
}

func TestSharedLog_ReadersThatDoNotLineUpAreNotStuck(t *testing.T) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	log := &countingLog{events: sharedLogEvents(600)}
	shared := NewSharedLog(log, registry, 1)
	starts := []int{0, 137, 0, 401, 599}
	results := make([][]domain.RecordedEvent, len(starts))
	var wg sync.WaitGroup
	for i, from := range starts {
		r := shared.Reader()
		after := domain.Position{}
		if from > 0 {
			after = log.events[from-1].Position
		}
		wg.Go(func() { results[i] = readThrough(t, r, registry, after, 40) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("readers stuck")
	}
	for i, from := range starts {
		if !reflect.DeepEqual(results[i], log.events[from:]) {
			t.Errorf("reader from %d got %d events, want %d", from, len(results[i]), len(log.events)-from)
		}
	}
}

func TestSharedLog_AReaderThatLeavesFreesItsPages(t *testing.T) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	log := &countingLog{events: sharedLogEvents(100)}
	shared := NewSharedLog(log, registry, 2)
	slow, fast := shared.Reader(), shared.Reader()
	if _, err := slow.ReadAll(context.Background(), domain.Position{}, 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// fast reads two pages beyond slow, then must wait for slow: the cap.
	after := domain.Position{}
	var err error
	for range 4 {
		var page []domain.RecordedEvent
		if page, err = fast.ReadAll(ctx, after, 10); err != nil {
			break
		}
		after = page[len(page)-1].Position
	}
	if err == nil {
		t.Fatal("a reader ran more than the cap ahead of the one behind it")
	}
	slow.Close()
	if _, err := fast.ReadAll(context.Background(), after, 10); err != nil {
		t.Fatalf("after the slow reader left: %v", err)
	}
	fast.Close()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if len(shared.pages) != 0 {
		t.Errorf("%d pages kept after every reader closed", len(shared.pages))
	}
}

func TestSharedLog_LoadsThePageAhead(t *testing.T) {
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	log := &countingLog{events: sharedLogEvents(100)}
	shared := NewSharedLog(log, registry, 3)
	r := shared.Reader()
	defer r.Close()
	page, err := r.ReadAll(context.Background(), domain.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// The next page is read and decoded before anyone asks for it.
	next := page[len(page)-1].Position
	deadline := time.Now().Add(5 * time.Second)
	for {
		shared.mu.Lock()
		p := shared.find(next, 10)
		shared.mu.Unlock()
		if p != nil {
			<-p.ready
			if len(p.events) != 10 || len(p.dec) != 10 {
				t.Fatalf("the page ahead has %d events, %d decoded; want 10", len(p.events), len(p.dec))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the page after the one read was not loaded ahead")
		}
		time.Sleep(time.Millisecond)
	}
	reads := log.reads.Load()
	if _, err := r.ReadAll(context.Background(), next, 10); err != nil {
		t.Fatal(err)
	}
	// Reading it loads the one after it, ahead, and nothing else.
	if n := log.reads.Load(); n > reads+1 {
		t.Errorf("reading the page loaded ahead read the log %d more times, want at most 1 (the next page ahead)", n-reads)
	}
}
