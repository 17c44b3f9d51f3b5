package commands

import (
	"context"
	"sync"

	"github.com/google/uuid"
)

// batcher gathers the requests of each show, so that one caller, the
// leader, serves every request that queued while the batch before it was
// being served, in one append (group commit); it then hands the lead to the
// next caller waiting. Under load the batches grow by themselves; alone, a
// request is a batch of one.
type batcher[R any] struct {
	mu     sync.Mutex
	queues map[uuid.UUID]*batchQueue[R]
}

type batchQueue[R any] struct {
	mu      sync.Mutex
	pending []*batched[R]
	leading bool
}

type batched[R any] struct {
	req  R
	done chan struct{} // closed when the batch with req was served
	lead chan struct{} // the caller is to lead the next batch
}

// do queues req for show and returns once serve has served a batch with
// it. serve gets at most max requests at a time, and a context that does
// not end with the leader's: the others are waiting for it.
func (b *batcher[R]) do(ctx context.Context, show uuid.UUID, req R, max int, serve func(context.Context, uuid.UUID, []R)) {
	q := b.queue(show)
	r := &batched[R]{req: req, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q.mu.Lock()
	q.pending = append(q.pending, r)
	leading := !q.leading
	q.leading = true
	q.mu.Unlock()
	if !leading {
		select {
		case <-r.done:
			return
		case <-r.lead:
		}
	}
	b.lead(ctx, show, q, max, serve)
	<-r.done
}

func (b *batcher[R]) queue(show uuid.UUID) *batchQueue[R] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.queues == nil {
		b.queues = map[uuid.UUID]*batchQueue[R]{}
	}
	q := b.queues[show]
	if q == nil {
		q = &batchQueue[R]{}
		b.queues[show] = q
	}
	return q
}

// lead serves one batch of a show's queue, then hands the lead to the next
// waiting request, if any.
func (b *batcher[R]) lead(ctx context.Context, show uuid.UUID, q *batchQueue[R], max int, serve func(context.Context, uuid.UUID, []R)) {
	q.mu.Lock()
	n := min(len(q.pending), max)
	batch := q.pending[:n:n]
	q.pending = q.pending[n:]
	q.mu.Unlock()

	reqs := make([]R, n)
	for i, r := range batch {
		reqs[i] = r.req
	}
	serve(context.WithoutCancel(ctx), show, reqs)
	for _, r := range batch {
		close(r.done)
	}

	q.mu.Lock()
	if len(q.pending) == 0 {
		q.leading = false
		// An idle queue leaves the map; a request that already holds it
		// simply leads it again (the show's lock keeps two leaders apart).
		b.mu.Lock()
		if b.queues[show] == q {
			delete(b.queues, show)
		}
		b.mu.Unlock()
	} else {
		q.pending[0].lead <- struct{}{}
	}
	q.mu.Unlock()
}
