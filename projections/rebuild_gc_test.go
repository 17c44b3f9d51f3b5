package projections

import (
	"runtime/debug"
	"testing"
)

// The collector's settings under overlapping rebuilds: the first sets
// them, the last restores what it found, and GOGC in the environment wins.
func TestRebuildGC(t *testing.T) {
	t.Setenv("GOGC", "") // t.Setenv: not parallel with other tests
	t.Setenv("GOMEMLIMIT", "")
	prevPct, limit := debug.SetGCPercent(77), debug.SetMemoryLimit(-1) // -1: reads it
	t.Cleanup(func() { debug.SetGCPercent(prevPct) })
	current := func() (int, int64) {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}

	a := RebuildGC()
	b := RebuildGC()
	if p, l := current(); p != rebuildGCPercent || l != rebuildMemoryLimit {
		t.Fatalf("during two rebuilds: GOGC %d, limit %d", p, l)
	}
	a()
	a() // a second call changes nothing
	if p, l := current(); p != rebuildGCPercent || l != rebuildMemoryLimit {
		t.Fatalf("one rebuild left: GOGC %d, limit %d", p, l)
	}
	b()
	if p, l := current(); p != 77 || l != limit {
		t.Fatalf("after both: GOGC %d, limit %d; want 77, %d", p, l, limit)
	}

	t.Setenv("GOGC", "off")
	RebuildGC()
	if p, _ := current(); p != 77 {
		t.Fatalf("with GOGC set: GOGC %d, want 77 untouched", p)
	}
}
