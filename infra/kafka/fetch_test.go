package kafka_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/projections"
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
			c, b := onKfakeOf(t, brokers, "it tells which node got which fetch request")
			p := newPipeline(t, b, 12)
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
	delayed := delayFetches(c, p.cfg.Topic, 50*time.Millisecond)
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

// delayFetches has every fetch of topic that c receives answered d late,
// and counts them.
func delayFetches(c *kfake.Cluster, topic string, d time.Duration) *atomic.Int32 {
	var delayed atomic.Int32
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		freq := req.(*kmsg.FetchRequest)
		if len(freq.Topics) == 0 || freq.Topics[0].Topic != topic {
			return nil, nil, false
		}
		delayed.Add(1)
		c.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false
	})
	return &delayed
}

// writeTo writes the message of rec to partition of cfg's topic.
func writeTo(cfg tkafka.Config, partition int, rec domain.RecordedEvent) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", cfg.Brokers[0], cfg.Topic, partition)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.WriteMessages(tkafka.Encode(rec))
	return err
}

// partitionsSeen is a Deliverer that takes every event as done and
// records the partitions they came from.
type partitionsSeen struct {
	mu   sync.Mutex
	seen map[int]int
}

func (d *partitionsSeen) Deliver(_ context.Context, _ string, deliveries []projections.Delivery) ([]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := make([]int, len(deliveries))
	for i, dl := range deliveries {
		d.seen[dl.Partition] += len(dl.Events)
		done[i] = len(dl.Events)
	}
	return done, nil
}

func (d *partitionsSeen) of(partition int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[partition]
}

// Partitions added to the topic while a consumer runs are assigned in the
// next generation (the group's partition watcher starts it) and fetched
// from their first message.
func TestBroker_PartitionsAddedLater(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		cfg := b.topic(t, 2)
		s := newShop(t)
		s.openShow("A")
		events := s.all()
		seen := &partitionsSeen{seen: map[int]int{}}
		logs := &syncBuffer{}
		c := &tkafka.Consumer{Brokers: cfg.Brokers, Topic: cfg.Topic, Projection: "shows", Group: "ticketing.test.added." + cfg.Topic,
			Deliverer: seen, Log: newLog(logs),
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 250 * time.Millisecond, RebalanceTimeout: 3 * time.Second}
		run(t, c.Run)
		write := func(partition int, rec domain.RecordedEvent) error { return writeTo(cfg, partition, rec) }
		if err := write(0, events[0]); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, func() string { return "the message of partition 0\n" + logs.String() }, func() bool { return seen.of(0) == 1 })

		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
		resp, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
			Topics: []kafka.TopicPartitionsConfig{{Name: cfg.Topic, Count: 4}}})
		if err == nil {
			err = resp.Errors[cfg.Topic]
		}
		if err != nil {
			t.Fatalf("add partitions: %v", err)
		}
		// The new partition's leader may take a moment to be named.
		eventually(t, 10*time.Second, func() string { return "a write to partition 3" }, func() bool { return write(3, events[1]) == nil })
		eventually(t, 30*time.Second, func() string { return "the message of the added partition 3\n" + logs.String() }, func() bool { return seen.of(3) == 1 })
		if n := seen.of(0); n != 1 {
			t.Errorf("partition 0's message delivered %d times, want once (its offset was committed)", n)
		}
	})
}

// A consumer that stops commits what it delivered and then leaves its
// group at once: the group is empty when Run returns, not a session
// timeout later, and the offset of the last message delivered is
// committed (the commit goes out while the member still belongs).
func TestBroker_CloseLeavesTheGroup(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		cfg := b.topic(t, 2)
		s := newShop(t)
		s.openShow("A")
		seen := &partitionsSeen{seen: map[int]int{}}
		logs := &syncBuffer{}
		group := "ticketing.test.close." + cfg.Topic
		c := &tkafka.Consumer{Brokers: cfg.Brokers, Topic: cfg.Topic, Projection: "shows", Group: group,
			Deliverer: seen, Log: newLog(logs),
			SessionTimeout: 30 * time.Second, HeartbeatInterval: 250 * time.Millisecond, RebalanceTimeout: 3 * time.Second}
		stop := run(t, c.Run)
		if err := writeTo(cfg, 0, s.all()[0]); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, func() string { return "the message delivered\n" + logs.String() }, func() bool { return seen.of(0) == 1 })
		start := time.Now()
		stop()
		took := time.Since(start)
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
		resp, err := client.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(resp.Groups) != 1 {
			t.Fatalf("describe the group: %+v, %v", resp, err)
		}
		if g := resp.Groups[0]; len(g.Members) != 0 {
			t.Errorf("after Run returned (in %v) the group is %s with %d members, want none", took, g.GroupState, len(g.Members))
		}
		offsets, err := offsetsOf(context.Background(), client, cfg, group)
		if err != nil {
			t.Fatal(err)
		}
		if offsets[0] != 1 {
			t.Errorf("committed offset of partition 0 = %d, want 1\n%s", offsets[0], logs)
		}
		t.Logf("Run returned %v after its context ended", took.Round(time.Millisecond))
	})
}
