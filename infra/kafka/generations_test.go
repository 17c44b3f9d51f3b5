package kafka

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// The consumer follows its group's generations through kafka-go's info log:
// these are the lines kafka-go v0.4 writes (consumergroup.go joinGroup,
// reader.go subscribe). Should they change, the consumer would commit
// nothing, which the broker tests' waitCommitted would show; this test says
// why.
func TestGenerations_Observe(t *testing.T) {
	t.Parallel()
	g := &generations{}
	if got := g.now(); got != (member{}) {
		t.Fatalf("before joining: %+v, want none", got)
	}
	g.observe("joined group %s as member %s in generation %d", "grp", "m-1", int32(7))
	if got := g.now(); got != (member{}) {
		t.Fatalf("joined, not subscribed: %+v, want none yet", got)
	}
	g.observe("subscribed to topics and partitions: %+v", map[string]int64{})
	if got, want := g.now(), (member{id: "m-1", gen: 7}); got != want {
		t.Fatalf("subscribed: %+v, want %+v", got, want)
	}
	old := fetched{msg: kafka.Message{Offset: 1}, gen: g.now()}
	g.observe("joined group %s as member %s in generation %d", "grp", "m-1", int32(8))
	g.observe("started heartbeat for group, %v [%v]", "grp", 0)
	g.observe("subscribed to topics and partitions: %+v", map[string]int64{})
	cur := fetched{msg: kafka.Message{Offset: 2}, gen: g.now()}
	if got := g.fresh([]fetched{old, cur}); len(got) != 1 || got[0].msg.Offset != 2 {
		t.Fatalf("fresh = %+v, want only the message of generation 8", got)
	}
}
