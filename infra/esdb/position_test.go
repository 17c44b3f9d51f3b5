package esdb

import (
	"math"
	"testing"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/ticketing/ticketing/domain"
)

// Servers report the $all position of an event read from a stream
// differently; the commit position is the event's own in every case.
func TestStreamPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   esdbclient.Position
		want domain.Position
	}{
		{"recent server: log position twice", esdbclient.Position{Commit: 900, Prepare: 900}, domain.PositionAt(900)},
		{"older server: prepare of the write's first event", esdbclient.Position{Commit: 900, Prepare: 700}, domain.PositionAt(900)},
		{"commit unknown", esdbclient.Position{Commit: math.MaxUint64, Prepare: 900}, domain.PositionAt(900)},
		{"unknown", esdbclient.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}, domain.Position{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := streamPosition(tc.in); got != tc.want {
				t.Errorf("streamPosition(%+v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
