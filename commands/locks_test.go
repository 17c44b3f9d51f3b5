package commands

import (
	"sync"
	"testing"
)

func TestStreamLocks(t *testing.T) {
	t.Parallel()
	var l streamLocks
	var wg sync.WaitGroup
	counter, inside := 0, 0
	for range 50 {
		wg.Go(func() {
			unlock := l.lock("show-1")
			inside++
			if inside != 1 {
				t.Errorf("%d writers inside at once", inside)
			}
			counter++
			inside--
			unlock()
		})
	}
	wg.Wait()
	if counter != 50 {
		t.Fatalf("counter = %d", counter)
	}
	l.lock("show-2")()
	if n := len(l.locks); n != 0 {
		t.Fatalf("%d locks kept after use, want none", n)
	}
}
