package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder serves batches of ints: it records each batch by key, and holds
// a batch that holds a request of hold until release is closed.
type recorder struct {
	mu      sync.Mutex
	batches map[string][][]int
	hold    int
	held    chan struct{} // closed when the held batch began
	release chan struct{}
	fail    func(batch []int) error
}

func newRecorder(hold int) *recorder {
	return &recorder{batches: map[string][][]int{}, hold: hold, held: make(chan struct{}), release: make(chan struct{})}
}

func (r *recorder) serve(_ context.Context, key string, batch []int) error {
	if slices.Contains(batch, r.hold) {
		close(r.held)
		<-r.release
	}
	r.mu.Lock()
	r.batches[key] = append(r.batches[key], slices.Clone(batch))
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail(batch)
	}
	return nil
}

func (r *recorder) got(key string) [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches[key])
}

// want checks the batches served for key.
func (r *recorder) want(t *testing.T, key string, want [][]int) {
	t.Helper()
	if got := r.got(key); !equal(got, want) {
		t.Errorf("batches of %q = %v, want %v", key, got, want)
	}
}

// pending counts the requests of key waiting for a batch.
func pending[R any](b *Batcher[string, R], key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if q := b.queues[key]; q != nil {
		return len(q.pending)
	}
	return 0
}

// queued waits until n requests of key wait for a batch.
func queued[R any](t *testing.T, b *Batcher[string, R], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if pending(b, key) == n {
			return
		}
	}
	t.Fatalf("%d requests never queued under %q", n, key)
}

// succeed checks that every answer is nil.
func succeed(t *testing.T, answers ...<-chan error) {
	t.Helper()
	for _, errs := range answers {
		if err := <-errs; err != nil {
			t.Errorf("Do = %v", err)
		}
	}
}

// blocked starts a request of r.hold under key and returns once its batch
// is being served, with the channel its answer comes on.
func blocked(t *testing.T, b *Batcher[string, int], r *recorder, key string) <-chan error {
	t.Helper()
	errs := make(chan error, 1)
	go func() { errs <- b.Do(t.Context(), key, r.hold) }()
	<-r.held
	return errs
}

// enqueue starts Do(ctx, key, req) for each req, each once the one before
// is queued, and returns the channels their answers come on, once all are
// queued.
func enqueue(t *testing.T, ctx context.Context, b *Batcher[string, int], key string, reqs ...int) []<-chan error {
	t.Helper()
	var answers []<-chan error
	for _, req := range reqs {
		n := pending(b, key)
		errs := make(chan error, 1)
		go func() { errs <- b.Do(ctx, key, req) }()
		queued(t, b, key, n+1)
		answers = append(answers, errs)
	}
	return answers
}

func TestBatcher_Do(t *testing.T) {
	t.Run("a request alone is a batch of one", func(t *testing.T) {
		r := newRecorder(-1)
		b := New(10, nil, r.serve)
		if err := b.Do(t.Context(), "a", 7); err != nil {
			t.Fatalf("Do = %v", err)
		}
		r.want(t, "a", [][]int{{7}})
		if len(b.queues) != 0 {
			t.Errorf("%d queues left, want 0", len(b.queues))
		}
	})
	t.Run("requests queued meanwhile are one batch, in order", func(t *testing.T) {
		r := newRecorder(0)
		b := New(10, nil, r.serve)
		first := blocked(t, b, r, "a")
		answers := enqueue(t, t.Context(), b, "a", 1, 2, 3, 4, 5)
		close(r.release)
		succeed(t, append(answers, first)...)
		r.want(t, "a", [][]int{{0}, {1, 2, 3, 4, 5}})
	})
	t.Run("keys are batched apart", func(t *testing.T) {
		r := newRecorder(0)
		b := New(10, nil, r.serve)
		first := blocked(t, b, r, "a")
		if err := b.Do(t.Context(), "b", 1); err != nil {
			t.Fatalf("Do(b) = %v", err)
		}
		close(r.release)
		succeed(t, first)
		r.want(t, "b", [][]int{{1}})
	})
}

func TestBatcher_limits(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		weight  func(int) int
		queue   []int
		batches [][]int
	}{
		{"by count", 2, nil, []int{1, 2, 3, 4, 5}, [][]int{{1, 2}, {3, 4}, {5}}},
		{"by weight", 10, func(n int) int { return n }, []int{4, 4, 4, 20, 1, 9}, [][]int{{4, 4}, {4}, {20}, {1, 9}}},
		{"a heavy request alone", 3, func(n int) int { return n }, []int{5, 5}, [][]int{{5}, {5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(0)
			b := New(tt.max, tt.weight, r.serve)
			first := blocked(t, b, r, "a")
			answers := enqueue(t, t.Context(), b, "a", tt.queue...)
			close(r.release)
			succeed(t, append(answers, first)...)
			r.want(t, "a", append([][]int{{0}}, tt.batches...))
		})
	}
}

func TestBatcher_errors(t *testing.T) {
	t.Run("serve's error is its batch's answer only", func(t *testing.T) {
		r := newRecorder(0)
		bad := errors.New("bad batch")
		r.fail = func(batch []int) error {
			if slices.Contains(batch, 1) {
				return bad
			}
			return nil
		}
		b := New(2, nil, r.serve)
		first := blocked(t, b, r, "a")
		answers := enqueue(t, t.Context(), b, "a", 1, 2, 3, 4)
		close(r.release)
		want := []error{bad, bad, nil, nil}
		for i, errs := range answers {
			if err := <-errs; !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
				t.Errorf("Do(%d) = %v, want %v", i+1, err, want[i])
			}
		}
		succeed(t, first)
	})
	t.Run("a panic in serve answers the batch and frees the key", func(t *testing.T) {
		r := newRecorder(0)
		b := New(10, nil, func(ctx context.Context, key string, batch []int) error {
			if batch[0] == 9 {
				panic("boom")
			}
			return r.serve(ctx, key, batch)
		})
		first := blocked(t, b, r, "a")
		panicked := make(chan any, 1)
		go func() {
			defer func() { panicked <- recover() }()
			_ = b.Do(t.Context(), "a", 9) // leads the next batch
		}()
		queued(t, b, "a", 1)
		follower := enqueue(t, t.Context(), b, "a", 1)[0]
		close(r.release)
		<-first
		if p := <-panicked; p != "boom" {
			t.Errorf("the leader's caller got %v, want the panic", p)
		}
		if err := <-follower; !errors.Is(err, errPanicked) {
			t.Errorf("the follower's Do = %v, want errPanicked", err)
		}
		if err := b.Do(t.Context(), "a", 2); err != nil {
			t.Errorf("Do after the panic = %v", err)
		}
	})
}

func TestBatcher_context(t *testing.T) {
	t.Run("a waiting caller that gives up is not served", func(t *testing.T) {
		r := newRecorder(0)
		b := New(10, nil, r.serve)
		first := blocked(t, b, r, "a")
		ctx, cancel := context.WithCancel(t.Context())
		gone := enqueue(t, ctx, b, "a", 1)[0]
		stays := enqueue(t, t.Context(), b, "a", 2)[0]
		cancel()
		if err := <-gone; !errors.Is(err, context.Canceled) {
			t.Errorf("Do of the caller that gave up = %v, want context.Canceled", err)
		}
		queued(t, b, "a", 1)
		close(r.release)
		succeed(t, stays, first)
		r.want(t, "a", [][]int{{0}, {2}})
	})
	t.Run("the next leader giving up hands the lead on", func(t *testing.T) {
		// The cancellation races the hand-off: the caller either led and
		// was served, or gave up and was not; the one behind it is always
		// served and nobody hangs.
		for i := range 200 {
			r := newRecorder(0)
			b := New(10, nil, r.serve)
			first := blocked(t, b, r, "a")
			ctx, cancel := context.WithCancel(t.Context())
			racer := enqueue(t, ctx, b, "a", 1)[0]
			r.release2(cancel, i%2 == 0)
			err := <-racer
			if err := <-first; err != nil {
				t.Fatalf("Do(0) = %v", err)
			}
			if err := b.Do(t.Context(), "a", 2); err != nil {
				t.Fatalf("Do(2) = %v", err)
			}
			served := slices.ContainsFunc(r.got("a"), func(batch []int) bool { return slices.Contains(batch, 1) })
			if (err == nil) != served || (err != nil && !errors.Is(err, context.Canceled)) {
				t.Fatalf("run %d: Do(1) = %v, served %v", i, err, served)
			}
		}
	})
	t.Run("serve's context outlives the leader's and keeps its values", func(t *testing.T) {
		type key struct{}
		var gotErr error
		var gotValue any
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
		b := New(10, nil, func(ctx context.Context, _ string, _ []int) error {
			cancel()
			gotErr, gotValue = ctx.Err(), ctx.Value(key{})
			return nil
		})
		if err := b.Do(ctx, "a", 1); err != nil {
			t.Fatalf("Do = %v", err)
		}
		if gotErr != nil || gotValue != "v" {
			t.Errorf("serve's context: err %v, value %v; want nil, v", gotErr, gotValue)
		}
	})
}

// release2 releases the held batch and cancels, in either order.
func (r *recorder) release2(cancel context.CancelFunc, cancelFirst bool) {
	if cancelFirst {
		go cancel()
		close(r.release)
		return
	}
	close(r.release)
	cancel()
}

// Many callers on a few keys, some giving up: every request is served at
// most once and exactly once unless its caller gave up, batches of a key
// never overlap, no batch is over the limit, and no goroutine is left.
func TestBatcher_handOffUnderLoad(t *testing.T) {
	const callers, each, max = 64, 100, 8
	before := runtime.NumGoroutine()
	var served [callers * each]atomic.Int32
	var inKey [3]atomic.Int32
	var overlaps, oversized, batches atomic.Int32
	b := New(max, nil, func(_ context.Context, key int, batch []int) error {
		if inKey[key].Add(1) != 1 {
			overlaps.Add(1)
		}
		if len(batch) > max {
			oversized.Add(1)
		}
		batches.Add(1)
		for _, req := range batch {
			served[req].Add(1)
		}
		runtime.Gosched()
		inKey[key].Add(-1)
		return nil
	})
	var gaveUp [callers * each]atomic.Bool
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				req := c*each + i
				ctx, cancel := context.WithCancel(context.Background())
				if rand.IntN(10) == 0 {
					go cancel()
				}
				switch err := b.Do(ctx, req%3, req); {
				case errors.Is(err, context.Canceled):
					gaveUp[req].Store(true)
				case err != nil:
					t.Errorf("Do(%d) = %v", req, err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	for req := range served {
		if n, want := served[req].Load(), int32(1); gaveUp[req].Load() && n != 0 || !gaveUp[req].Load() && n != want {
			t.Errorf("request %d served %d times (gave up: %v)", req, n, gaveUp[req].Load())
		}
	}
	if overlaps.Load() != 0 || oversized.Load() != 0 {
		t.Errorf("%d overlapping batches, %d over the limit; want none", overlaps.Load(), oversized.Load())
	}
	t.Logf("%d requests in %d batches", callers*each, batches.Load())
	b.Close()
	if len(b.queues) != 0 {
		t.Errorf("%d queues left, want 0", len(b.queues))
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, %d before", n, before)
	}
}

func TestBatcher_Close(t *testing.T) {
	t.Run("waits for what was queued, then refuses", func(t *testing.T) {
		r := newRecorder(0)
		b := New(10, nil, r.serve)
		first := blocked(t, b, r, "a")
		queuedBefore := enqueue(t, t.Context(), b, "a", 1)[0]
		closed := make(chan struct{})
		go func() { b.Close(); close(closed) }()
		for b.isOpen() {
			time.Sleep(time.Millisecond)
		}
		if err := b.Do(t.Context(), "b", 2); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close = %v, want ErrClosed", err)
		}
		select {
		case <-closed:
			t.Fatal("Close returned while a batch was being served")
		default:
		}
		close(r.release)
		<-closed
		succeed(t, queuedBefore, first)
		r.want(t, "a", [][]int{{0}, {1}})
	})
	t.Run("twice, and idle, without a panic", func(t *testing.T) {
		b := New(1, nil, func(context.Context, string, []int) error { return nil })
		b.Close()
		b.Close()
		if err := b.Do(t.Context(), "a", 1); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close = %v, want ErrClosed", err)
		}
	})
}

func TestNew_refusesBadArguments(t *testing.T) {
	for name, f := range map[string]func(){
		"no serve": func() { New[string, int](1, nil, nil) },
		"max 0":    func() { New(0, nil, func(context.Context, string, []int) error { return nil }) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			f()
		})
	}
}

func (b *Batcher[K, R]) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed
}

func equal(a, b [][]int) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// BenchmarkBatcher_Do measures the hand-off alone: callers on all CPUs,
// one key, a serve that does nothing.
func BenchmarkBatcher_Do(b *testing.B) {
	var batches atomic.Int64
	bt := New(2048, nil, func(context.Context, int, []int) error { batches.Add(1); return nil })
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bt.Do(context.Background(), 0, 1); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(batches.Load()), "reqs/batch")
}
