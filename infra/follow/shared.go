package follow

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// Shared defaults.
const (
	// DefaultSharedEvents is how many of the latest events a Shared keeps
	// when Max is zero.
	DefaultSharedEvents = 16384
	// DefaultSharedBatch is the largest batch a Shared hands a follower
	// when Batch is zero.
	DefaultSharedBatch = 2000
)

// Source is the log a Shared follows: an event store's Follow. Head, when
// the source has it (see Header), is where the tail starts.
type Source interface {
	// Follow calls handle with every event after position after, in log
	// order and in batches, until ctx ends or handle fails; it returns
	// handle's error as it is.
	Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error
}

// Header is a Source that knows the position of its log's last event.
type Header interface {
	Head(ctx context.Context) (domain.Position, error)
}

// DecodedHandler takes a batch of the log with its events decoded: events[i]
// is recs[i] decoded, or errs[i] says why it is not. The events are shared
// with the other followers: a handler must only read them.
type DecodedHandler = func(ctx context.Context, recs []domain.RecordedEvent, events []domain.Event, errs []error) error

// Shared is one in-process tail of a log for several followers (issue 17:
// the projections, the hot views and the webhook fanout each followed the
// log and decoded every event on their own). One goroutine follows the
// Source, from its head, and decodes each batch once; each follower, at its
// own position, is handed the batches after it from memory.
//
// Memory is bounded: Shared keeps the last Max events. A follower is never
// waited for: one that is behind what is kept (it starts from an old
// checkpoint, or it is slow and the kept events moved on) follows the
// Source itself, decoding its events, until it is back within what is kept.
// So a slow or failing follower holds no other back, and every follower
// sees every event after its position once, in log order.
//
// The tail runs while Shared has followers; it starts with the first and
// stops after the last has gone.
type Shared struct {
	Source Source
	// Decode decodes an event of the log.
	Decode func(domain.RecordedEvent) (domain.Event, error)
	// Max is how many events are kept (DefaultSharedEvents when 0); Batch
	// the largest batch handed to a follower (DefaultSharedBatch when 0).
	Max, Batch int
	// Retry is the pause before the tail follows again after its Source
	// failed (MaxBackoff when 0).
	Retry time.Duration

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when the kept events change
	kept      []*sharedBatch
	events    int             // the events in kept
	base      domain.Position // kept holds every event after base
	started   bool            // base is set
	followers int
	gen       int // of the tail running; a stopped tail's adds are dropped
	cancel    context.CancelFunc
	fails     int // failures of the tail, so far
	err       error
}

// sharedBatch is a batch of the log as the tail read it, decoded.
type sharedBatch struct {
	recs   []domain.RecordedEvent
	events []domain.Event
	errs   []error
}

func (b *sharedBatch) last() domain.Position { return b.recs[len(b.recs)-1].Position }

// errCaughtUp stops a follower's own Follow of the Source: it is back
// within the kept events.
var errCaughtUp = errors.New("caught up with the shared tail")

// Head returns the head of the Source, when it has one; see Header.
func (s *Shared) Head(ctx context.Context) (domain.Position, error) {
	if h, ok := s.Source.(Header); ok {
		return h.Head(ctx)
	}
	return domain.Start, nil
}

// Follow calls handle with every event after position after, in log order
// and in batches, until ctx ends (it then returns ctx.Err()) or handle
// fails (it then returns that error, as it is).
func (s *Shared) Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error {
	return s.FollowDecoded(ctx, after, func(ctx context.Context, recs []domain.RecordedEvent, _ []domain.Event, _ []error) error {
		return handle(ctx, recs)
	})
}

// FollowDecoded is Follow, with the events decoded. It also returns, when
// it waits for the tail, the tail's failure to follow the Source (the tail
// follows again after Retry).
func (s *Shared) FollowDecoded(ctx context.Context, after domain.Position, handle DecodedHandler) error {
	s.join(after)
	defer s.leave()
	for {
		b, fails, wait, behind := s.next(after)
		switch {
		case b != nil:
			if err := handle(ctx, b.recs, b.events, b.errs); err != nil {
				return err
			}
			after = b.last()
		case behind:
			if err := s.catchUp(ctx, &after, handle); err != nil {
				return err
			}
		default:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wait:
			}
			if err := s.failed(fails); err != nil {
				return err
			}
		}
	}
}

// next returns the kept events after position after, up to Batch; or,
// when there are none, the number of failures and a channel closed when
// that changes; behind reports that after is before the kept events.
func (s *Shared) next(after domain.Position) (b *sharedBatch, fails int, wait <-chan struct{}, behind bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil, s.fails, s.changed, false
	}
	if after.Less(s.base) {
		return nil, 0, nil, true
	}
	// The batches are in log order: the first that ends after after.
	i := sort.Search(len(s.kept), func(i int) bool { return after.Less(s.kept[i].last()) })
	if i == len(s.kept) {
		return nil, s.fails, s.changed, false
	}
	first := s.kept[i]
	j := sort.Search(len(first.recs), func(j int) bool { return after.Less(first.recs[j].Position) })
	limit := s.batch()
	if n := len(first.recs) - j; i == len(s.kept)-1 || n >= limit {
		k := j + min(n, limit)
		// Capped: a follower's append does not write into the kept batch.
		return &sharedBatch{recs: first.recs[j:k:k], events: first.events[j:k:k], errs: first.errs[j:k:k]}, 0, nil, false
	}
	// Several batches: one of them, up to Batch events.
	b = &sharedBatch{recs: slices.Clone(first.recs[j:]), events: slices.Clone(first.events[j:]), errs: slices.Clone(first.errs[j:])}
	for _, k := range s.kept[i+1:] {
		n := min(len(k.recs), limit-len(b.recs))
		b.recs, b.events, b.errs = append(b.recs, k.recs[:n]...), append(b.events, k.events[:n]...), append(b.errs, k.errs[:n]...)
		if len(b.recs) == limit {
			break
		}
	}
	return b, 0, nil, false
}

// catchUp follows the Source on its own from after, decoding, until after
// is within the kept events.
func (s *Shared) catchUp(ctx context.Context, after *domain.Position, handle DecodedHandler) error {
	var handlerErr error
	err := s.Source.Follow(ctx, *after, func(ctx context.Context, recs []domain.RecordedEvent) error {
		if len(recs) == 0 {
			return nil
		}
		b := s.decode(recs)
		if err := handle(ctx, b.recs, b.events, b.errs); err != nil {
			handlerErr = err
			return err
		}
		*after = b.last()
		if s.covers(*after) {
			return errCaughtUp
		}
		return nil
	})
	switch {
	case handlerErr != nil:
		return handlerErr
	case errors.Is(err, errCaughtUp):
		return nil
	case err == nil:
		return errors.New("follow: the log's feed ended")
	}
	return err
}

// covers reports whether the kept events reach back to after.
func (s *Shared) covers(after domain.Position) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !after.Less(s.base)
}

// failed returns the tail's last failure, if it failed since fails.
func (s *Shared) failed(fails int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != fails {
		return s.err
	}
	return nil
}

func (s *Shared) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return DefaultSharedBatch
}

func (s *Shared) max() int {
	if s.Max > 0 {
		return s.Max
	}
	return DefaultSharedEvents
}

// decode decodes recs.
func (s *Shared) decode(recs []domain.RecordedEvent) *sharedBatch {
	b := &sharedBatch{recs: recs, events: make([]domain.Event, len(recs)), errs: make([]error, len(recs))}
	for i, rec := range recs {
		b.events[i], b.errs[i] = s.Decode(rec)
	}
	return b
}

// join counts a follower in, and starts the tail for the first; after is
// where the tail starts when the Source has no head.
func (s *Shared) join(after domain.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	s.followers++
	if s.followers > 1 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.gen++
	s.cancel = cancel
	go s.tail(ctx, s.gen, after)
}

// leave counts a follower out, and stops the tail after the last. The kept
// events are dropped: the next tail starts from the head again.
func (s *Shared) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.followers--
	if s.followers > 0 {
		return
	}
	s.cancel()
	s.gen++
	s.kept, s.events, s.started = nil, 0, false
	s.signal()
}

// tail follows the Source from its head (or from after) until ctx ends,
// keeping what it reads. It follows again, from where it got, after a
// failure.
func (s *Shared) tail(ctx context.Context, gen int, after domain.Position) {
	retry := s.Retry
	if retry <= 0 {
		retry = MaxBackoff
	}
	from := after
	for {
		head, err := s.Head(ctx)
		if err == nil {
			if _, ok := s.Source.(Header); ok {
				from = head
			}
			break
		}
		if !s.fail(gen, err) || !Sleep(ctx, retry) {
			return
		}
	}
	if !s.start(gen, from) {
		return
	}
	for {
		err := s.Source.Follow(ctx, from, func(ctx context.Context, recs []domain.RecordedEvent) error {
			if len(recs) == 0 {
				return nil
			}
			if !s.add(gen, s.decode(recs)) {
				return ctx.Err()
			}
			from = recs[len(recs)-1].Position
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("follow: the log's feed ended")
		}
		if !s.fail(gen, err) || !Sleep(ctx, retry) {
			return
		}
	}
}

// start sets where the kept events start, for tail gen.
func (s *Shared) start(gen int, base domain.Position) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return false
	}
	s.base, s.started = base, true
	s.signal()
	return true
}

// add keeps b, dropping the oldest batches beyond Max events, for tail gen.
func (s *Shared) add(gen int, b *sharedBatch) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return false
	}
	s.kept = append(s.kept, b)
	s.events += len(b.recs)
	drop := 0
	for s.events > s.max() && drop < len(s.kept)-1 {
		s.events -= len(s.kept[drop].recs)
		s.base = s.kept[drop].last()
		drop++
	}
	clear(s.kept[:drop]) // let them go
	s.kept = s.kept[drop:]
	s.signal()
	return true
}

// fail records a failure of tail gen and wakes the followers that wait.
func (s *Shared) fail(gen int, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return false
	}
	s.fails++
	s.err = err
	s.signal()
	return true
}

// signal wakes the followers waiting for a change; s.mu is held.
func (s *Shared) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}
