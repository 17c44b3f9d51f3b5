package kafka

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// commitRecorder is commitLoop's commit function in the tests: it records
// each call and the messages it was given.
type commitRecorder struct {
	mu    sync.Mutex
	calls [][]doneOffset
	at    []time.Time
}

func (r *commitRecorder) commit(msgs []doneOffset) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, append([]doneOffset(nil), msgs...))
	r.at = append(r.at, time.Now())
	return nil
}

func (r *commitRecorder) snapshot() ([][]doneOffset, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]doneOffset(nil), r.calls...), append([]time.Time(nil), r.at...)
}

func doneAt(partition int, offset int64) []doneOffset {
	return []doneOffset{{partition: partition, offset: offset, gen: member{id: "m", gen: 1}}}
}

// The offsets done within one interval go in one commit, not one commit a
// batch, and nothing is left out: after a quiet interval the first batch
// is committed at once, and those that come within the next interval
// together, an interval later, as the highest offset of each partition.
func TestCommitLoop_OncePerInterval(t *testing.T) {
	t.Parallel()
	const interval = 300 * time.Millisecond
	commits, ended := make(chan []doneOffset, 64), make(chan struct{}, 1)
	var r commitRecorder
	loop := make(chan struct{})
	c := &Consumer{Projection: "p"}
	go func() { defer close(loop); c.commitLoop(commits, ended, interval, r.commit) }()
	for i := range 50 {
		commits <- doneAt(i%3, int64(i))
		if i == 0 {
			waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) == 1 })
		}
	}
	waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) >= 2 })
	time.Sleep(interval / 2) // and no third within the next interval
	calls, at := r.snapshot()
	if len(calls) != 2 || len(calls[0]) != 1 {
		t.Fatalf("after one interval: commits of %v offsets, want 1, then the others in one", lens(calls))
	}
	// Offsets 1..49 went to partitions i%3: the highest of each.
	want := []doneOffset{doneAt(0, 48)[0], doneAt(1, 49)[0], doneAt(2, 47)[0]}
	if !slices.Equal(calls[1], want) {
		t.Fatalf("second commit %v, want each partition's highest offset, %v", calls[1], want)
	}
	if gap := at[1].Sub(at[0]); gap < interval-20*time.Millisecond {
		t.Errorf("second commit %v after the first, want at least the interval, %v", gap, interval)
	}
	commits <- doneAt(0, 50)
	close(commits)
	<-loop
	calls, _ = r.snapshot()
	if len(calls) != 3 || len(calls[2]) != 1 || calls[2][0].offset != 50 {
		t.Fatalf("after close: commits of %v batches, want a third one of offset 50", lens(calls))
	}
}

// What is pending is committed at once when its generation stops fetching
// and when the consumer closes, not an interval later.
func TestCommitLoop_FlushesAtGenerationEndAndClose(t *testing.T) {
	t.Parallel()
	commits, ended := make(chan []doneOffset, 64), make(chan struct{}, 1)
	var r commitRecorder
	loop := make(chan struct{})
	c := &Consumer{Projection: "p"}
	go func() { defer close(loop); c.commitLoop(commits, ended, time.Hour, r.commit) }()
	commits <- doneAt(1, 6) // committed at once: the first in an interval
	waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) == 1 })
	commits <- doneAt(1, 7)
	time.Sleep(50 * time.Millisecond) // the loop has it pending, for an hour
	g := &generations{ended: ended}
	g.start(member{id: "m", gen: 1})
	g.end(member{id: "m", gen: 1})
	waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) == 2 })
	commits <- doneAt(1, 8)
	close(commits)
	<-loop
	calls, _ := r.snapshot()
	if len(calls) != 3 || calls[1][0].offset != 7 || calls[2][0].offset != 8 {
		t.Fatalf("commits %v, want offset 7 at the generation's end and 8 at close", lens(calls))
	}
}

// A zero interval commits each batch as it comes (the consumer's negative
// CommitInterval).
func TestCommitLoop_ZeroIntervalCommitsAtOnce(t *testing.T) {
	t.Parallel()
	commits, ended := make(chan []doneOffset, 64), make(chan struct{}, 1)
	var r commitRecorder
	c := &Consumer{Projection: "p"}
	go c.commitLoop(commits, ended, 0, r.commit)
	defer close(commits)
	for i := range 3 {
		commits <- doneAt(0, int64(i))
		waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) == i+1 })
	}
	if got := (&Consumer{CommitInterval: -1}).commitInterval(); got != 0 {
		t.Errorf("CommitInterval -1: interval %v, want 0", got)
	}
	if got := (&Consumer{}).commitInterval(); got != DefaultCommitInterval {
		t.Errorf("CommitInterval 0: interval %v, want %v", got, DefaultCommitInterval)
	}
}

func lens(calls [][]doneOffset) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = len(c)
	}
	return out
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}

// What comes together is kept per partition and generation: the highest
// offset of each, the older generation's too (its commit is refused by the
// coordinator, not dropped here).
func TestCommitLoop_HighestOffsetPerGeneration(t *testing.T) {
	t.Parallel()
	commits, ended := make(chan []doneOffset, 64), make(chan struct{}, 1)
	var r commitRecorder
	loop := make(chan struct{})
	c := &Consumer{Projection: "p"}
	go func() { defer close(loop); c.commitLoop(commits, ended, time.Hour, r.commit) }()
	old, cur := member{id: "m", gen: 1}, member{id: "m", gen: 2}
	commits <- []doneOffset{{gen: cur, partition: 0, offset: 1}} // at once: the first in an interval
	waitFor(t, func() bool { calls, _ := r.snapshot(); return len(calls) == 1 })
	commits <- []doneOffset{{gen: old, partition: 0, offset: 5}, {gen: cur, partition: 0, offset: 3}, {gen: old, partition: 0, offset: 4}}
	commits <- []doneOffset{{gen: cur, partition: 1, offset: 9}, {gen: cur, partition: 0, offset: 2}}
	close(commits)
	<-loop
	calls, _ := r.snapshot()
	want := []doneOffset{{gen: old, partition: 0, offset: 5}, {gen: cur, partition: 0, offset: 3}, {gen: cur, partition: 1, offset: 9}}
	if len(calls) != 2 || !slices.Equal(calls[1], want) {
		t.Fatalf("commits %v, want the first, then %v", calls, want)
	}
}
