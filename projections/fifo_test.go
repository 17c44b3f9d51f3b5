package projections

import "testing"

func TestFIFO_Put(t *testing.T) {
	t.Parallel()
	f := newFIFO[int, string](3)
	for i, v := range []string{"a", "b", "c", "d"} {
		f.put(i, v)
	}
	f.put(3, "D") // kept already: replaced, nothing forgotten
	if _, ok := f.get(0); ok {
		t.Error("the oldest entry is still kept")
	}
	for k, want := range map[int]string{1: "b", 2: "c", 3: "D"} {
		if got, ok := f.get(k); !ok || got != want {
			t.Errorf("get(%d) = %q, %v; want %q", k, got, ok, want)
		}
	}
	if len(f.entries) != 3 {
		t.Errorf("%d entries kept, want 3", len(f.entries))
	}
}
