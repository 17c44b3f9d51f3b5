// Package follow is what the event stores share to follow their global
// log: the loop that reconnects, with backoff, when a follower's
// connection or subscription breaks.
package follow

import (
	"context"
	"errors"
	"time"

	"github.com/ticketing/ticketing/commands"
)

const (
	// MinBackoff is the first pause before Reconnect tries again, and the
	// one after an attempt that made progress.
	MinBackoff = 50 * time.Millisecond
	// MaxBackoff is the longest pause: the pause doubles up to it.
	MaxBackoff = 5 * time.Second
)

// HandlerError carries the error of a follower's handler. Reconnect returns
// Err, as it is, at once.
type HandlerError struct{ Err error }

func (e HandlerError) Error() string { return e.Err.Error() }

// Reconnect calls attempt until it fails for good: it returns Err of a
// HandlerError, ctx's error once ctx ends, or a *commands.StoreError
// (operation "follow") for an error transient does not accept. After a
// transient error it calls retrying, when not nil, with the error and the
// pause, then waits for the pause and calls attempt again. The pause starts
// at MinBackoff, doubles after every failure up to MaxBackoff, and is
// MinBackoff again after an attempt that reports progress.
func Reconnect(ctx context.Context, attempt func() (progress bool, err error), transient func(error) bool, retrying func(err error, in time.Duration)) error {
	backoff := MinBackoff
	for {
		progress, err := attempt()
		var he HandlerError
		if errors.As(err, &he) {
			return he.Err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return &commands.StoreError{Op: "follow", Err: err}
		}
		if progress {
			backoff = MinBackoff
		}
		if retrying != nil {
			retrying(err, backoff)
		}
		if !Sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, MaxBackoff)
	}
}

// Sleep waits for d or until ctx ends; it reports whether d passed. The
// loops that retry or poll (following the log, the Kafka relay and
// consumers, the singleton roles) wait with it.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
