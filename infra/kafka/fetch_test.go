package kafka_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchedFrom is a fetch request kfake received: the node and the
// partitions it asked for.
type fetchedFrom struct {
	node       int32
	partitions []int32
}

// recordFetches records every fetch request for topic that c receives.
func recordFetches(c *kfake.Cluster, topic string) (got func() []fetchedFrom) {
	var mu sync.Mutex
	var reqs []fetchedFrom
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := fetchedFrom{node: c.CurrentNode()}
		for _, rt := range req.(*kmsg.FetchRequest).Topics {
			if rt.Topic != topic {
				return nil, nil, false
			}
			for _, rp := range rt.Partitions {
				r.partitions = append(r.partitions, rp.Partition)
			}
		}
		slices.Sort(r.partitions)
		mu.Lock()
		reqs = append(reqs, r)
		mu.Unlock()
		return nil, nil, false
	})
	return func() []fetchedFrom {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// A member assigned every partition of a 12-partition topic sends one fetch
// request to each partition leader, holding every partition that broker
// leads, as the Java client does: on one broker one request for all 12,
// where kafka-go's Reader sent one per partition, each answered with a
// message or two. kfake, because only it tells which node got which fetch.
func TestConsumer_OneFetchPerLeader(t *testing.T) {
	t.Parallel()
	for _, brokers := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d brokers", brokers), func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(brokers))
			if err != nil {
				t.Fatalf("kfake: %v", err)
			}
			t.Cleanup(c.Close)
			t.Logf("on kfake, not the real broker: it tells which node got which fetch request")
			p := newPipeline(t, &broker{addrs: c.ListenAddrs()}, 12)
			fetches := recordFetches(c, p.cfg.Topic)
			p.startRelay()
			p.startConsumers() // one member of each projection's group
			s := p.shop
			shows := []uuid.UUID{s.openShow("A"), s.openShow("B"), s.openShow("C")}
			p.waitApplied(s.last, 15*time.Second) // see showsFirst
			sell(s, shows, 24, 2*time.Millisecond)
			p.settled()

			led := map[int32][]int32{} // node → the partitions it leads
			for part := range int32(12) {
				l := c.LeaderFor(p.cfg.Topic, part)
				led[l] = append(led[l], part)
			}
			reqs := fetches()
			if len(reqs) == 0 {
				t.Fatal("no fetch request")
			}
			perNode := map[int32]int{}
			for _, r := range reqs {
				perNode[r.node]++
				if !slices.Equal(r.partitions, led[r.node]) {
					t.Fatalf("a fetch to node %d asked for partitions %v, want all it leads, %v (%d requests)",
						r.node, r.partitions, led[r.node], len(reqs))
				}
			}
			t.Logf("%d fetch requests, by node %v; leaders %v", len(reqs), perNode, led)
			if got := slices.Sorted(maps.Keys(perNode)); len(got) != len(led) {
				t.Errorf("fetches went to nodes %v, want every leader %v", got, slices.Sorted(maps.Keys(led)))
			}
		})
	}
}

// Members join and leave while every fetch waits at the broker (each is
// answered 50 ms late): each rebalance ends a generation with a fetch in
// flight and batches of it on their way to the projections. Nothing is
// lost or applied twice (the read models equal a rebuild), no version is
// missing, and no committed offset moves backwards (a commit of messages
// fetched in the generation before would). kfake, because a real broker
// cannot be made slow on demand.
func TestConsumer_RebalanceMidFetch(t *testing.T) {
	t.Parallel()
	c, b := onKfake(t, "every fetch is answered 50 ms late, so that rebalances come mid-fetch")
	p := newPipeline(t, b, 6)
	var delayed atomic.Int32
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		freq := req.(*kmsg.FetchRequest)
		if len(freq.Topics) == 0 || freq.Topics[0].Topic != p.cfg.Topic {
			return nil, nil, false
		}
		delayed.Add(1)
		c.SleepControl(func() { time.Sleep(50 * time.Millisecond) })
		return nil, nil, false
	})
	p.startRelay()
	s := p.shop
	var applied [3]atomic.Int32
	member := func(i int) (stop func()) {
		return p.startMember(slow{Deliverer: p.runner, n: &applied[i]})
	}
	stops := []func(){member(0)}
	shows := []uuid.UUID{s.openShow("A"), s.openShow("B"), s.openShow("C")}
	p.waitApplied(s.last, 15*time.Second) // see showsFirst
	watched := p.watchOffsets()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Members 0; 0 1; 1; 1 2; 2.
		for _, change := range []int{+1, -0, +2, -1} {
			time.Sleep(500 * time.Millisecond)
			if change > 0 {
				stops = append(stops, member(change))
			} else {
				stops[-change]()
			}
		}
		time.Sleep(300 * time.Millisecond)
	}()
	s.buyUntil(done, shows, 10*time.Millisecond)
	p.settled()
	p.noGaps()
	for _, b := range watched() {
		t.Errorf("a committed offset moved backwards: %s", b)
	}
	t.Logf("%d events, %d fetches delayed; the members applied %d, %d and %d",
		len(s.all()), delayed.Load(), applied[0].Load(), applied[1].Load(), applied[2].Load())
	if applied[0].Load() == 0 || applied[2].Load() == 0 {
		t.Errorf("the first and the last member applied %d and %d events, want some each", applied[0].Load(), applied[2].Load())
	}
}
