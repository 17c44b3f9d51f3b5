package follow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/follow"
)

var (
	errBroken = errors.New("connection broken")
	errFatal  = errors.New("bad configuration")
)

func transient(err error) bool { return errors.Is(err, errBroken) }

func TestReconnect(t *testing.T) {
	t.Parallel()
	t.Run("a handler's error ends it, as it is", func(t *testing.T) {
		t.Parallel()
		errHandler := errors.New("handler failed")
		err := follow.Reconnect(context.Background(), func() (bool, error) {
			return true, follow.HandlerError{Err: errHandler}
		}, transient, nil)
		if err != errHandler {
			t.Errorf("got %v, want the handler's error", err)
		}
	})
	t.Run("an error that is not transient is a store error", func(t *testing.T) {
		t.Parallel()
		err := follow.Reconnect(context.Background(), func() (bool, error) { return false, errFatal }, transient, nil)
		var se *commands.StoreError
		if !errors.As(err, &se) || se.Op != "follow" || !errors.Is(err, errFatal) {
			t.Errorf("got %v, want a follow StoreError wrapping errFatal", err)
		}
	})
	t.Run("the pause doubles and progress resets it", func(t *testing.T) {
		t.Parallel()
		progress := []bool{false, false, true, false}
		var pauses []time.Duration
		n := 0
		err := follow.Reconnect(context.Background(), func() (bool, error) {
			if n == len(progress) {
				return false, errFatal
			}
			n++
			return progress[n-1], errBroken
		}, transient, func(err error, in time.Duration) {
			if !errors.Is(err, errBroken) {
				t.Errorf("retrying got %v", err)
			}
			pauses = append(pauses, in)
		})
		if !errors.Is(err, errFatal) {
			t.Fatalf("got %v, want errFatal", err)
		}
		m := follow.MinBackoff
		want := []time.Duration{m, 2 * m, m, 2 * m}
		if len(pauses) != len(want) {
			t.Fatalf("got pauses %v, want %v", pauses, want)
		}
		for i := range want {
			if pauses[i] != want[i] {
				t.Errorf("got pauses %v, want %v", pauses, want)
				break
			}
		}
	})
	t.Run("an ended context ends it", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		err := follow.Reconnect(ctx, func() (bool, error) { cancel(); return false, errBroken }, transient, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}
