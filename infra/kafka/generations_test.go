package kafka

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// Messages are fresh, to be delivered again after a failure, only while
// the generation they were fetched in is the one fetching: once it ended
// (a rebalance), the partitions still assigned restart from the committed
// offsets, and the messages of the old one are dropped.
func TestGenerations_Fresh(t *testing.T) {
	t.Parallel()
	g := &generations{}
	if got := g.now(); got != (member{}) {
		t.Fatalf("before joining: %+v, want none", got)
	}
	g7 := member{id: "m-1", gen: 7}
	g.start(g7)
	if got := g.now(); got != g7 {
		t.Fatalf("started: %+v, want %+v", got, g7)
	}
	old := fetched{msg: kafka.Message{Offset: 1}, gen: g.now()}
	g.end(g7)
	if got := g.fresh([]fetched{old}); len(got) != 0 {
		t.Fatalf("fresh after the generation ended = %+v, want none", got)
	}
	g8 := member{id: "m-1", gen: 8}
	g.start(g8)
	g.end(g7) // late: generation 8 goes on
	cur := fetched{msg: kafka.Message{Offset: 2}, gen: g.now()}
	if got := g.fresh([]fetched{old, cur}); len(got) != 1 || got[0].msg.Offset != 2 {
		t.Fatalf("fresh = %+v, want only the message of generation 8", got)
	}
}
