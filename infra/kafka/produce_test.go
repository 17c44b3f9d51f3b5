package kafka_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ticketing/ticketing/domain"
)

// The relay sends one produce request per partition leader for a batch,
// holding every partition that leader leads, not one per partition as
// kafka-go's Writer does: on one broker that is one request for the whole
// batch. With three brokers it is one to each leader, each holding only the
// partitions that broker leads (a request to the wrong leader would be
// refused). kfake, because only it tells which node got which request.
func TestRelay_OneProduceRequestPerLeader(t *testing.T) {
	t.Parallel()
	for _, brokers := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d brokers", brokers), func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(brokers))
			if err != nil {
				t.Fatalf("kfake: %v", err)
			}
			t.Cleanup(c.Close)
			t.Logf("on kfake, not the real broker: it tells which node got which produce request")
			cfg := (&broker{addrs: c.ListenAddrs()}).topic(t, 12)
			var mu sync.Mutex
			var requests []producedTo
			c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				r := producedTo{node: c.CurrentNode(), partitions: map[int32]bool{}}
				for _, rt := range req.(*kmsg.ProduceRequest).Topics {
					for _, rp := range rt.Partitions {
						r.partitions[rp.Partition] = true
					}
				}
				mu.Lock()
				requests = append(requests, r)
				mu.Unlock()
				return nil, nil, false
			})
			// Every event is in the store before the relay starts: its
			// first read of the log is one batch.
			s := newShop(t)
			touched := map[int32]bool{}
			for i := 0; len(touched) < 8; i++ {
				show := s.openShow(fmt.Sprintf("S%d", i))
				touched[int32(partitionOf(domain.ShowStream(show), cfg.Partitions))] = true
			}
			cps := newMemCheckpoints()
			logs := &syncBuffer{}
			relay := newRelay(t, cfg, s.store, cps, logs)
			run(t, relay.Run)
			eventually(t, 10*time.Second, func() string { return "the relay to publish the shop\n" + logs.String() }, func() bool {
				pos, _ := cps.get(cfg.Topic)
				return pos == s.last
			})
			checkTopic(t, cfg, s.all(), true)
			mu.Lock()
			defer mu.Unlock()
			leaders := map[int32]bool{}
			for p := range touched {
				leaders[c.LeaderFor(cfg.Topic, p)] = true
			}
			if len(requests) != len(leaders) {
				t.Fatalf("%d produce requests for one batch over %d partitions led by %d brokers, want %d: %+v",
					len(requests), len(touched), len(leaders), len(leaders), requests)
			}
			got := map[int32]bool{}
			for _, r := range requests {
				for p := range r.partitions {
					got[p] = true
					if l := c.LeaderFor(cfg.Topic, p); l != r.node {
						t.Errorf("partition %d sent to node %d, its leader is %d", p, r.node, l)
					}
				}
			}
			if len(got) != len(touched) {
				t.Errorf("the requests held partitions %v, want %v", got, touched)
			}
			if st := relay.Stats(); st.Requests.Load() != int64(len(leaders)) || st.Messages.Load() != int64(len(s.all())) {
				t.Errorf("relay stats: %d requests of %d messages, want %d of %d",
					st.Requests.Load(), st.Messages.Load(), len(leaders), len(s.all()))
			}
		})
	}
}

// producedTo is a produce request kfake received: the node and the
// partitions.
type producedTo struct {
	node       int32
	partitions map[int32]bool
}
