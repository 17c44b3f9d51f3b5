package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"
)

// streamLocks is a mutex per stream, kept only while someone holds or
// waits for it. Its lock serializes the writers of one stream inside this
// process, so that they queue instead of conflicting; other processes are
// still kept apart by the expected version.
type streamLocks struct {
	mu    sync.Mutex
	locks map[string]*streamLock
}

type streamLock struct {
	sync.Mutex
	users int
}

func (l *streamLocks) lock(stream string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*streamLock{}
	}
	sl := l.locks[stream]
	if sl == nil {
		sl = &streamLock{}
		l.locks[stream] = sl
	}
	sl.users++
	l.mu.Unlock()
	sl.Lock()
	return func() {
		sl.Unlock()
		l.mu.Lock()
		if sl.users--; sl.users == 0 {
			delete(l.locks, stream)
		}
		l.mu.Unlock()
	}
}

// retry runs attempt until it does not fail with ErrConflict, at most
// maxRetries times, with a short jittered pause between tries.
func retry(ctx context.Context, maxRetries int, attempt func() error) error {
	for i := 0; ; i++ {
		err := attempt()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if i+1 >= maxRetries {
			return fmt.Errorf("%w: %w", ErrTooContended, err)
		}
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(i+1, 10))))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// mustHave panics, naming the constructor, when a dependency is nil.
func mustHave(constructor string, deps ...any) {
	for i, d := range deps {
		nilValue := d == nil
		if !nilValue {
			switch v := reflect.ValueOf(d); v.Kind() {
			case reflect.Pointer, reflect.Func, reflect.Interface, reflect.Map:
				nilValue = v.IsNil()
			}
		}
		if nilValue {
			panic(fmt.Sprintf("commands.%s: dependency %d is nil", constructor, i+1))
		}
	}
}
