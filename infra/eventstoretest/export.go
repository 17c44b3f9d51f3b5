package eventstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Exporter is an event store that also exports filtered history.
type Exporter interface {
	commands.EventStore
	// Export calls fn with every event that f selects, in log order, until
	// fn fails (it then returns fn's error as it is) or f.Limit events were
	// passed.
	Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error
}

// RunExport runs the contract of Export against stores made by newStore,
// which must return an empty store for each call: every filter selects
// exactly the events domain.EventFilter.Match selects from ReadAll, in log
// order, with their data and metadata as stored.
func RunExport(t *testing.T, newStore func(t *testing.T) Exporter) {
	t.Helper()
	t.Run("filters select what Match selects", func(t *testing.T) {
		t.Parallel()
		exportFilters(t, newStore(t))
	})
	t.Run("an error of fn stops the export and is returned", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		exportHistory(t, s)
		stop := errors.New("stop")
		calls := 0
		err := s.Export(t.Context(), domain.EventFilter{}, func(domain.RecordedEvent) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Export = %v after %d calls, want the error of fn after 1", err, calls)
		}
	})
	t.Run("a cancelled context fails", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		exportHistory(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Export(ctx, domain.EventFilter{}, func(domain.RecordedEvent) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Export = %v, want context.Canceled", err)
		}
	})
}

// exportFilters checks that each filter exports, from exportHistory's log,
// what domain.EventFilter.Match selects from it.
func exportFilters(t *testing.T, s Exporter) {
	all := exportHistory(t, s)
	at := func(i int) time.Time { return all[i].RecordedAt }
	cases := []struct {
		name string
		f    domain.EventFilter
		want int // events selected, so that no case is vacuous
	}{
		{"everything", domain.EventFilter{}, 9},
		{"after a position", domain.EventFilter{After: all[3].Position}, 5},
		{"after the last position", domain.EventFilter{After: all[8].Position}, 0},
		{"one stream", domain.EventFilter{Stream: "show-1"}, 4},
		{"a stream that does not exist", domain.EventFilter{Stream: "show-9"}, 0},
		{"one type", domain.EventFilter{Types: []string{"test.a"}}, 4},
		{"two types", domain.EventFilter{Types: []string{"test.a", "test.c"}}, 6},
		{"since", domain.EventFilter{Since: at(3)}, 6},
		{"until", domain.EventFilter{Until: at(5)}, 6},
		{"since and until", domain.EventFilter{Since: at(3), Until: at(5)}, 3},
		{"stream, type and after", domain.EventFilter{Stream: "show-1", Types: []string{"test.a"}, After: all[0].Position}, 2},
		{"limit", domain.EventFilter{Limit: 2}, 2},
		{"limit within a stream", domain.EventFilter{Stream: "order-1", Limit: 1}, 1},
		{"limit past the end", domain.EventFilter{Types: []string{"test.c"}, Limit: 10}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []domain.RecordedEvent
			for _, e := range all {
				if c.f.Match(e) && (c.f.Limit <= 0 || len(want) < c.f.Limit) {
					want = append(want, e)
				}
			}
			if len(want) != c.want {
				t.Fatalf("the oracle selects %d events, the case expects %d: recorded times tie?", len(want), c.want)
			}
			checkExport(t, s, c.name, c.f, want)
		})
	}
}

// checkExport checks that s exports exactly want for f, as stored.
func checkExport(t *testing.T, s Exporter, name string, f domain.EventFilter, want []domain.RecordedEvent) {
	t.Helper()
	var got []domain.RecordedEvent
	if err := s.Export(t.Context(), f, func(e domain.RecordedEvent) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	assertIDs(t, name, got, IDs(want))
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.Position != w.Position || g.StreamID != w.StreamID || g.Version != w.Version || g.Type != w.Type ||
			!bytes.Equal(g.Data, w.Data) || !bytes.Equal(g.Metadata, w.Metadata) || !g.RecordedAt.Equal(w.RecordedAt) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

// exportHistory appends nine events in three appends a few milliseconds
// apart, so that their recorded times differ, and returns the log:
//
//	1 show-1 test.a   4 show-1 test.b   7 show-2 test.c
//	2 show-1 test.a   5 order-1 test.c  8 order-1 test.b
//	3 order-1 test.a  6 show-1 test.a   9 show-2 test.b
func exportHistory(t *testing.T, s commands.EventStore) []domain.RecordedEvent {
	t.Helper()
	ev := func(typ string, n int) domain.EventData {
		return domain.EventData{ID: uuid.New(), Type: typ, Data: fmt.Appendf(nil, `{"n":%d}`, n), Metadata: []byte(`{"user_id":"u"}`)}
	}
	appends := []struct {
		stream string
		events []domain.EventData
	}{
		{"show-1", []domain.EventData{ev("test.a", 1), ev("test.a", 2)}},
		{"order-1", []domain.EventData{ev("test.a", 3)}},
		{"show-1", []domain.EventData{ev("test.b", 4)}},
		{"order-1", []domain.EventData{ev("test.c", 5)}},
		{"show-1", []domain.EventData{ev("test.a", 6)}},
		{"show-2", []domain.EventData{ev("test.c", 7)}},
		{"order-1", []domain.EventData{ev("test.b", 8)}},
		{"show-2", []domain.EventData{ev("test.b", 9)}},
	}
	for i, a := range appends {
		if i == 2 || i == 5 {
			time.Sleep(5 * time.Millisecond)
		}
		mustAppend(t, s, a.stream, domain.AnyVersion, a.events)
	}
	all := mustReadAll(t, s)
	if len(all) != 9 {
		t.Fatalf("ReadAll returned %d events, want 9", len(all))
	}
	return all
}
