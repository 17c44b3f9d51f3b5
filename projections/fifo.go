package projections

// fifo is a map that keeps at most size entries, forgetting the oldest
// first. It is not safe for concurrent use.
type fifo[K comparable, V any] struct {
	size    int
	entries map[K]V
	ring    []K // the keys, oldest first from next
	next    int
}

func newFIFO[K comparable, V any](size int) fifo[K, V] {
	return fifo[K, V]{size: size, entries: make(map[K]V, size), ring: make([]K, 0, size)}
}

// get returns the value at k, if kept.
func (f *fifo[K, V]) get(k K) (V, bool) {
	v, ok := f.entries[k]
	return v, ok
}

// put keeps v at k, forgetting the oldest entry when full.
func (f *fifo[K, V]) put(k K, v V) {
	if _, ok := f.entries[k]; !ok {
		if len(f.ring) < f.size {
			f.ring = append(f.ring, k)
		} else {
			delete(f.entries, f.ring[f.next])
			f.ring[f.next] = k
			f.next = (f.next + 1) % f.size
		}
	}
	f.entries[k] = v
}
