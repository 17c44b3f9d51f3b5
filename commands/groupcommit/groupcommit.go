// Package groupcommit batches concurrent requests (group commit): callers
// queue a request under a key; the first of them leads and serves every
// request of that key queued meanwhile in one batch, then hands the lead to
// the next caller waiting. Under load the batches grow by themselves;
// alone, a request is a batch of one. The callers do all the work: the
// package starts no goroutine.
//
// It imports only the standard library, and sits under commands because
// both of its users are on the command side: the per-show batching of
// holds and settlements in commands (which may import only domain and its
// own packages), and the commit queue of infra/postgres's event store,
// which already imports commands for the ports it implements. So it adds
// no dependency between the rooms of the design.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned for a request made after Close.
var ErrClosed = errors.New("groupcommit: closed")

// errPanicked is the answer of the requests of a batch whose serve
// panicked: the leader's caller gets the panic.
var errPanicked = errors.New("groupcommit: the batch panicked")

// Batcher serves requests of type R in batches, one batch at a time for
// each key of type K. Use New; it must not be copied.
type Batcher[K comparable, R any] struct {
	max    int
	weight func(R) int
	serve  func(context.Context, K, []R) error

	mu     sync.Mutex
	queues map[K]*queue[R] // keys with a leader at work
	closed bool
	busy   sync.WaitGroup // one for each key in queues
}

// queue is the requests of one key waiting for a batch.
type queue[R any] struct {
	pending []*waiter[R]
}

// waiter is one caller's request.
type waiter[R any] struct {
	req    R
	err    error         // the answer, set before done is closed
	done   chan struct{} // closed when the batch with req was served
	lead   chan struct{} // the caller is to lead the next batch
	leader bool          // lead was sent
	taken  bool          // a batch holds req
}

// New returns a batcher whose batches weigh at most max, a request's weight
// being weight(req), or 1 when weight is nil; a request heavier than max
// is a batch of its own. serve serves one batch of one key, in the order
// the requests were queued; its error is the answer of every request of
// the batch (answers of their own go in R). It gets a context that does
// not end with the leader's, with the leader's values: the others wait
// for it.
func New[K comparable, R any](max int, weight func(R) int, serve func(ctx context.Context, key K, batch []R) error) *Batcher[K, R] {
	if max < 1 || serve == nil {
		panic("groupcommit.New: max must be positive and serve set")
	}
	if weight == nil {
		weight = func(R) int { return 1 }
	}
	return &Batcher[K, R]{max: max, weight: weight, serve: serve, queues: map[K]*queue[R]{}}
}

// Do queues req under key and returns once a batch with it was served,
// with serve's answer. When ctx ends while req is still queued, Do takes
// it back and returns ctx's error: req is not served. Once a batch holds
// req, Do waits for that batch. After Close, Do returns ErrClosed.
func (b *Batcher[K, R]) Do(ctx context.Context, key K, req R) error {
	w := &waiter[R]{req: req, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	q, leading := b.queues[key], false
	if q == nil {
		q, leading = &queue[R]{}, true
		b.queues[key] = q
		b.busy.Add(1)
	}
	q.pending = append(q.pending, w)
	b.mu.Unlock()
	if !leading && !b.await(ctx, key, q, w) {
		if w.taken {
			<-w.done
			return w.err
		}
		return ctx.Err()
	}
	if !w.taken {
		b.lead(ctx, key, q)
	}
	<-w.done
	return w.err
}

// await waits until w is to lead (true) or was served or taken back
// (false).
func (b *Batcher[K, R]) await(ctx context.Context, key K, q *queue[R], w *waiter[R]) bool {
	select {
	case <-w.done:
		return false
	case <-w.lead:
		return true
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.taken {
		return false
	}
	for i, p := range q.pending {
		if p == w {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			break
		}
	}
	if w.leader {
		b.handOff(key, q)
	}
	return false
}

// lead serves one batch of q, then hands the lead on.
func (b *Batcher[K, R]) lead(ctx context.Context, key K, q *queue[R]) {
	b.mu.Lock()
	batch := b.take(q)
	b.mu.Unlock()
	reqs := make([]R, len(batch))
	for i, w := range batch {
		reqs[i] = w.req
	}
	err := errPanicked
	defer func() {
		for _, w := range batch {
			w.err = err
			close(w.done)
		}
		b.mu.Lock()
		b.handOff(key, q)
		b.mu.Unlock()
	}()
	err = b.serve(context.WithoutCancel(ctx), key, reqs)
}

// take removes the next batch from q; b.mu is held.
func (b *Batcher[K, R]) take(q *queue[R]) []*waiter[R] {
	n, size := 0, 0
	for n < len(q.pending) {
		w := b.weight(q.pending[n].req)
		if n > 0 && size+w > b.max {
			break
		}
		size += w
		q.pending[n].taken = true
		n++
	}
	batch := q.pending[:n:n]
	q.pending = q.pending[n:]
	return batch
}

// handOff gives the lead of q to its first waiter or, when none waits,
// retires q; b.mu is held.
func (b *Batcher[K, R]) handOff(key K, q *queue[R]) {
	if len(q.pending) == 0 {
		delete(b.queues, key)
		b.busy.Done()
		return
	}
	next := q.pending[0]
	next.leader = true
	next.lead <- struct{}{}
}

// Close refuses requests from now on and returns once every request
// queued before was served. It may be called more than once.
func (b *Batcher[K, R]) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.busy.Wait()
}
