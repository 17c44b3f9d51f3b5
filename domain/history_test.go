package domain_test

import (
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

func TestEventFilter_Match(t *testing.T) {
	t.Parallel()
	rec := domain.RecordedEvent{Position: domain.PositionAt(5), StreamID: "show-1", Type: "show.created", RecordedAt: t0}
	from := func(p domain.Position) domain.EventFilter {
		var f domain.EventFilter
		f.StartAt(p)
		return f
	}
	cases := []struct {
		name string
		f    domain.EventFilter
		want bool
	}{
		{"zero filter", domain.EventFilter{}, true},
		{"after an earlier position", domain.EventFilter{After: domain.PositionAt(4)}, true},
		{"after its position", domain.EventFilter{After: domain.PositionAt(5)}, false},
		{"starting at its position", from(domain.PositionAt(5)), true},
		{"starting after it", from(domain.PositionAt(6)), false},
		{"starting at a two-part position before it", from(domain.Position{Commit: 5, Prepare: 3}), true},
		{"starting at the start", from(domain.Start), true},
		{"its stream", domain.EventFilter{Stream: "show-1"}, true},
		{"another stream", domain.EventFilter{Stream: "show-2"}, false},
		{"one of its types", domain.EventFilter{Types: []string{"x", "show.created"}}, true},
		{"other types", domain.EventFilter{Types: []string{"x"}}, false},
		{"since its time", domain.EventFilter{Since: t0}, true},
		{"since later", domain.EventFilter{Since: t0.Add(time.Nanosecond)}, false},
		{"until its time", domain.EventFilter{Until: t0}, true},
		{"until earlier", domain.EventFilter{Until: t0.Add(-time.Nanosecond)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.f.Match(rec); got != c.want {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
		})
	}
}
