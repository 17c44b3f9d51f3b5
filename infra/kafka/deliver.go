package kafka

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticketing/ticketing/projections"
)

// ManyDeliverer is a Deliverer that also applies the same events to
// several projections at once. *projections.Runner satisfies it: with
// PostgreSQL read models, in one transaction for all of them.
type ManyDeliverer interface {
	Deliverer
	// DeliverMany is Deliver of deliveries to each of the projections
	// names; done[k] and errs[k] are names[k]'s.
	DeliverMany(ctx context.Context, names []string, deliveries []projections.Delivery) (done [][]int, errs []error)
}

var _ ManyDeliverer = (*projections.Runner)(nil)

// shared delivers the batches of a consumer that feeds several projections
// to all those that are ready for them in one call of DeliverMany (one
// transaction): every fetched batch costs one transaction, one COMMIT,
// instead of one per projection. A projection that is not done with a
// batch (a missing event, a failed statement, a message it cannot decode)
// leaves the shared path: what is left of the batch, and the batches that
// follow, go to a goroutine of its own that delivers them as a consumer of
// one projection does, with its backoff, while the others go on together.
// Once it is done with all that it was given, the next batch finds it ready
// and it is delivered to with the others again. The batches waiting for a
// projection on its own hold the others back, as in the path of one
// projection each, once deliveryQueue of them wait.
type shared struct {
	c        *Consumer
	gens     *generations
	maxBatch int
	names    []string
	many     ManyDeliverer
	done     *doneTracker
	alone    []*alone // by index in names
	wg       sync.WaitGroup
}

// alone is the queue of a projection delivered to on its own.
type alone struct {
	q chan aloneBatch
	// pending counts the batches given to q that are not done: while it is
	// not zero, the projection's next batches go to q, in order. Only the
	// shared goroutine adds to it.
	pending atomic.Int64
}

// aloneBatch is a batch for a projection on its own, and the stalls of
// the shared delivery it left, if it is what that delivery left.
type aloneBatch struct {
	batch   []fetched
	stalled []stall
}

// startShared starts, for each group of the projections fed, the
// goroutine that delivers the batches given to deliveries to the group's
// projections together, and a goroutine per projection for when it is
// delivered to on its own. The projections are split among
// SharedTransactions groups (at least one), each with a queue of its own,
// as each projection has on the path of one projection each: a group that
// is slower than another does not hold it back until deliveryQueue batches
// wait for it. They stop when the queues are closed.
func (c *Consumer) startShared(ctx context.Context, gens *generations, maxBatch int, many ManyDeliverer, done *doneTracker, d *deliveries) {
	names := c.names()
	groups := min(max(c.SharedTransactions, 1), len(names))
	for g := range groups {
		s := &shared{c: c, gens: gens, maxBatch: maxBatch, many: many, done: done}
		for i := g; i < len(names); i += groups {
			s.names = append(s.names, names[i])
		}
		for _, name := range s.names {
			a := &alone{q: make(chan aloneBatch, deliveryQueue)}
			s.alone = append(s.alone, a)
			s.wg.Go(func() { s.runAlone(ctx, name, a) })
		}
		in := make(chan []fetched, deliveryQueue)
		d.queues = append(d.queues, in)
		d.wg.Go(func() {
			defer func() {
				for _, a := range s.alone {
					close(a.q)
				}
				s.wg.Wait()
			}()
			for batch := range in {
				batch = gather(batch, in, maxBatch, same)
				if ctx.Err() == nil {
					s.deliver(ctx, batch)
				}
			}
		})
	}
}

// gather appends to batch the messages of the batches waiting on q, up to
// maxBatch messages. The batches are every projection's: it copies.
func gather[T any](batch []fetched, q <-chan T, maxBatch int, msgs func(T) []fetched) []fetched {
	for len(batch) < maxBatch {
		select {
		case next, ok := <-q:
			if !ok {
				return batch
			}
			batch = append(slices.Clip(batch), msgs(next)...)
		default:
			return batch
		}
	}
	return batch
}

// same is a batch as it is, for gather.
func same(b []fetched) []fetched { return b }

// deliver delivers batch to the projections that are ready, together, and
// queues it for the others.
func (s *shared) deliver(ctx context.Context, batch []fetched) {
	var ready []int
	for k, a := range s.alone {
		if a.pending.Load() == 0 {
			ready = append(ready, k)
			continue
		}
		a.pending.Add(1)
		select {
		case a.q <- aloneBatch{batch: batch}:
		case <-ctx.Done():
			a.pending.Add(-1)
			return
		}
	}
	switch len(ready) {
	case 0:
		return
	case 1: // on the path of one projection: nothing to share
		a := s.alone[ready[0]]
		a.pending.Add(1)
		a.q <- aloneBatch{batch: batch} // a.q is empty: pending was 0
		return
	}
	order, byPartition := byPartitions(batch)
	deliveries := deliveriesOf(order, byPartition)
	s.deliverTogether(ctx, ready, order, byPartition, deliveries)
}

// deliverTogether delivers deliveries, the messages of byPartition, to the
// projections at the indexes ready in one call, and hands what one is not
// done with to its goroutine alone.
func (s *shared) deliverTogether(ctx context.Context, ready []int, order []int, byPartition map[int][]fetched, deliveries []projections.Delivery) {
	names := subsetNames(s.names, ready)
	start := time.Now()
	done, errs := s.many.DeliverMany(ctx, names, deliveries)
	end := time.Now()
	for i, k := range ready {
		var err error
		var dn []int
		if i < len(done) && len(done[i]) == len(deliveries) {
			dn = done[i]
		} else {
			dn = make([]int, len(deliveries))
		}
		if i < len(errs) {
			err = errs[i]
		}
		mine := make(map[int][]fetched, len(byPartition))
		for p, msgs := range byPartition {
			mine[p] = msgs
		}
		s.c.observe(s.names[k], order, mine, dn, start, end)
		stalls := s.c.settle(s.gens, s.names[k], order, mine, deliveries, dn, err, s.done.report)
		if len(stalls) == 0 || ctx.Err() != nil {
			continue
		}
		var rest []fetched
		for _, p := range order {
			rest = append(rest, mine[p]...)
		}
		a := s.alone[k]
		a.pending.Add(1)
		a.q <- aloneBatch{batch: rest, stalled: stalls} // a.q is empty: pending was 0
	}
}

// runAlone delivers to the projection name the batches queued on a, with
// those waiting behind each, up to maxBatch messages, until a.q is closed.
func (s *shared) runAlone(ctx context.Context, name string, a *alone) {
	for b := range a.q {
		n := int64(1)
		batch := b.batch
		if len(b.stalled) == 0 { // a stalled rest is retried as it is
			batch = gather(batch, a.q, s.maxBatch, func(next aloneBatch) []fetched { n++; return next.batch })
		}
		if ctx.Err() == nil {
			s.c.deliverAll(ctx, s.gens, name, batch, s.done.report, b.stalled...)
		}
		a.pending.Add(-n)
	}
}

// subsetNames returns the names at the indexes at.
func subsetNames(names []string, at []int) []string {
	out := make([]string, len(at))
	for i, k := range at {
		out[i] = names[k]
	}
	return out
}
