package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ticketing/ticketing/commands"
)

var _ commands.PasswordHasher = (*Bounded)(nil)

// Bounded is a PasswordHasher that runs at most a fixed number of another
// hasher's hashes at once. argon2id takes 19 MiB per hash at OWASP's
// parameters, so the bound is what keeps the memory of any number of
// concurrent sign-ins and sign-ups bounded. A call beyond the bound waits
// in a short queue; when the queue is full, or the wait runs out, it fails
// with commands.ErrOverloaded at once, without hashing.
type Bounded struct {
	next     commands.PasswordHasher
	slots    *semaphore.Weighted
	wait     time.Duration
	maxQueue int64
	queued   atomic.Int64
}

// NewBounded returns next bounded to n hashes at once, with at most queue
// calls waiting for a slot, each for at most wait.
func NewBounded(next commands.PasswordHasher, n, queue int, wait time.Duration) (*Bounded, error) {
	if next == nil || n <= 0 || queue < 0 || wait < 0 {
		return nil, fmt.Errorf("bounded hasher: want a hasher, n > 0, queue >= 0 and wait >= 0; got n=%d queue=%d wait=%v", n, queue, wait)
	}
	return &Bounded{next: next, slots: semaphore.NewWeighted(int64(n)), wait: wait, maxQueue: int64(queue)}, nil
}

// Hash hashes password in a free slot, or fails with commands.ErrOverloaded.
func (b *Bounded) Hash(password string) (string, error) {
	release, err := b.acquire()
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer release()
	return b.next.Hash(password)
}

// Verify checks password in a free slot, or fails with
// commands.ErrOverloaded.
func (b *Bounded) Verify(password, hash string) (bool, error) {
	release, err := b.acquire()
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer release()
	return b.next.Verify(password, hash)
}

// acquire takes a slot, waiting in the queue if there is room in it.
func (b *Bounded) acquire() (release func(), err error) {
	release = func() { b.slots.Release(1) }
	if b.slots.TryAcquire(1) {
		return release, nil
	}
	if b.queued.Add(1) > b.maxQueue {
		b.queued.Add(-1)
		return nil, commands.ErrOverloaded
	}
	defer b.queued.Add(-1)
	ctx, cancel := context.WithTimeout(context.Background(), b.wait)
	defer cancel()
	if err := b.slots.Acquire(ctx, 1); err != nil {
		return nil, commands.ErrOverloaded
	}
	return release, nil
}
