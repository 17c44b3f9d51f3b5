package esdb

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

func events(n int) []domain.EventData {
	out := make([]domain.EventData, n)
	for i := range out {
		out[i] = domain.EventData{ID: uuid.New(), Type: "T", Data: []byte(`{}`)}
	}
	return out
}

func TestRecentIDs_Decide(t *testing.T) {
	t.Parallel()
	r := newRecentIDs(4)
	first, second := events(2), events(2)
	at := commands.AppendResult{Version: 2, Position: domain.PositionAt(200)}
	r.add("show-1", at, first)
	r.add("show-1", commands.AppendResult{Version: 4, Position: domain.PositionAt(400)}, second)
	for _, tc := range []struct {
		name      string
		stream    string
		events    []domain.EventData
		retry     bool
		conflict  bool
		wantRetry commands.AppendResult
	}{
		{"all ids, in order", "show-1", first, true, false, at},
		{"the first part: no position known", "show-1", first[:1], true, false, commands.AppendResult{Version: 1}},
		{"across two appends, in order", "show-1", []domain.EventData{first[1], second[0]}, true, false, commands.AppendResult{Version: 3}},
		{"new ids", "show-1", events(2), false, false, commands.AppendResult{}},
		{"another stream", "show-2", first, false, true, commands.AppendResult{}},
		{"out of order", "show-1", []domain.EventData{first[1], first[0]}, false, true, commands.AppendResult{}},
		{"a new id, then a known one", "show-1", []domain.EventData{events(1)[0], first[0]}, false, true, commands.AppendResult{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, retry, conflict := r.decide(tc.stream, tc.events)
			if retry != tc.retry || conflict != tc.conflict {
				t.Fatalf("decide = retry %v, conflict %v; want %v, %v", retry, conflict, tc.retry, tc.conflict)
			}
			if got != tc.wantRetry {
				t.Errorf("decide = %+v, want %+v", got, tc.wantRetry)
			}
		})
	}
	t.Run("one new id twice", func(t *testing.T) {
		t.Parallel()
		e := events(1)
		if _, retry, conflict := r.decide("show-1", []domain.EventData{e[0], e[0]}); retry || !conflict {
			t.Errorf("decide = retry %v, conflict %v; want a conflict", retry, conflict)
		}
	})
}

func TestRecentIDs_Add(t *testing.T) {
	t.Parallel()
	t.Run("forgets the oldest ids beyond its size", func(t *testing.T) {
		t.Parallel()
		r := newRecentIDs(3)
		a, b := events(2), events(2)
		r.add("s", commands.AppendResult{Version: 2}, a)
		r.add("s", commands.AppendResult{Version: 4}, b)
		if _, retry, _ := r.decide("s", a[:1]); retry {
			t.Errorf("the oldest id is still known")
		}
		if _, retry, _ := r.decide("s", a[1:]); !retry {
			t.Errorf("a recent id is forgotten")
		}
		if _, retry, _ := r.decide("s", b); !retry {
			t.Errorf("the latest ids are forgotten")
		}
	})
	t.Run("remembers nothing when disabled", func(t *testing.T) {
		t.Parallel()
		r := newRecentIDs(-1)
		a := events(1)
		r.add("s", commands.AppendResult{Version: 1}, a)
		if _, retry, conflict := r.decide("s", a); retry || conflict {
			t.Errorf("decide = retry %v, conflict %v; want undecided", retry, conflict)
		}
	})
}
