package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
)

func newRelay(t *testing.T, cfg tkafka.Config, feed tkafka.Feed, cps tkafka.RelayCheckpoints, logs *syncBuffer) *tkafka.Relay {
	t.Helper()
	w := tkafka.NewWriter(cfg)
	t.Cleanup(func() { w.Close() })
	return &tkafka.Relay{Feed: feed, Checkpoints: cps, Writer: w, Topic: cfg.Topic, Partitions: cfg.Partitions, Log: newLog(logs)}
}

// partitionOf is where the Java client would put a stream's events.
func partitionOf(stream string, partitions int) int {
	all := make([]int, partitions)
	for i := range all {
		all[i] = i
	}
	return kafka.Murmur2Balancer{Consistent: true}.Balance(kafka.Message{Key: []byte(stream)}, all...)
}

// checkTopic checks that the topic holds every event of want, each in its
// stream's partition, keyed by its stream, with the event in its headers and
// value; that a consumer skipping redelivered versions never finds a
// stream's version missing; and, when once is set, that each event is there
// once. It returns how many messages the topic holds.
func checkTopic(t *testing.T, cfg tkafka.Config, want []domain.RecordedEvent, once bool) int {
	t.Helper()
	byID := map[string]domain.RecordedEvent{}
	for _, rec := range want {
		byID[rec.ID.String()] = rec
	}
	seen := map[string]int{}
	total := 0
	for p, msgs := range readTopic(t, cfg) {
		applied := map[string]int64{}
		for _, m := range msgs {
			total++
			got, err := tkafka.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			rec, ok := byID[got.ID.String()]
			if !ok {
				t.Fatalf("partition %d offset %d: event %s was not appended", p, m.Offset, got.ID)
			}
			seen[got.ID.String()]++
			if string(m.Key) != rec.StreamID {
				t.Errorf("event %s: key %q, want %q", rec.ID, m.Key, rec.StreamID)
			}
			if want := partitionOf(rec.StreamID, cfg.Partitions); p != want {
				t.Errorf("event %s of %s: partition %d, want %d", rec.ID, rec.StreamID, p, want)
			}
			if got.Type != rec.Type || got.StreamID != rec.StreamID || got.Version != rec.Version || got.Position != rec.Position ||
				!bytes.Equal(got.Data, rec.Data) || !bytes.Equal(got.Metadata, rec.Metadata) || !got.RecordedAt.Equal(rec.RecordedAt) {
				t.Errorf("event %s: got %+v, want %+v", rec.ID, got, rec)
			}
			var md domain.Metadata
			_ = json.Unmarshal(rec.Metadata, &md)
			if h, _ := header(m, tkafka.HeaderCorrelationID); h != md.CorrelationID || h == "" {
				t.Errorf("event %s: correlation-id header %q, want %q", rec.ID, h, md.CorrelationID)
			}
			if h, _ := header(m, tkafka.HeaderCausationID); h != md.CausationID || h == "" {
				t.Errorf("event %s: causation-id header %q, want %q", rec.ID, h, md.CausationID)
			}
			if v := applied[rec.StreamID]; rec.Version > v+1 {
				t.Fatalf("partition %d offset %d: %s version %d after version %d", p, m.Offset, rec.StreamID, rec.Version, v)
			} else if rec.Version == v+1 {
				applied[rec.StreamID] = rec.Version
			}
		}
	}
	for _, rec := range want {
		switch n := seen[rec.ID.String()]; {
		case n == 0:
			t.Errorf("event %s (%s@%d, position %s) is missing", rec.ID, rec.StreamID, rec.Version, rec.Position)
		case n > 1 && once:
			t.Errorf("event %s published %d times", rec.ID, n)
		}
	}
	return total
}

// lastByPartition returns the position of the last event of each partition.
func lastByPartition(recs []domain.RecordedEvent, partitions int) map[int]domain.Position {
	out := map[int]domain.Position{}
	for _, rec := range recs {
		out[partitionOf(rec.StreamID, partitions)] = rec.Position
	}
	return out
}

// refuseProduce makes the cluster answer every produce request to topic
// with NOT_ENOUGH_REPLICAS while refusing is set, and counts the refusals.
func refuseProduce(c *kfake.Cluster, topic string, refusing *atomic.Bool, refused *atomic.Int32) {
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		preq := req.(*kmsg.ProduceRequest)
		if !refusing.Load() || len(preq.Topics) == 0 || preq.Topics[0].Topic != topic {
			return nil, nil, false
		}
		refused.Add(1)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

func TestRelay_Run(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {

		t.Run("publishes each event once, keyed, in its stream's order", func(t *testing.T) {
			t.Parallel()
			cfg := b.topic(t, 4)
			s := newShop(t)
			shows := []uuid.UUID{s.openShow("A"), s.openShow("B"), s.openShow("C")}
			for i := range 12 {
				s.buy(shows[i%3], 1+i%3, i%4 != 0)
			}
			cps := newMemCheckpoints()
			logs := &syncBuffer{}
			relay := newRelay(t, cfg, s.store, cps, logs)
			run(t, relay.Run)
			eventually(t, 10*time.Second, func() string { return "the relay's checkpoint to reach " + s.last.String() + "\n" + logs.String() }, func() bool {
				pos, _ := cps.get(cfg.Topic)
				return pos == s.last
			})
			all := s.all()
			checkTopic(t, cfg, all, true)
			_, parts := cps.get(cfg.Topic)
			if want := lastByPartition(all, cfg.Partitions); !reflect.DeepEqual(parts, want) {
				t.Errorf("partition checkpoints = %v, want %v", parts, want)
			}
			if got := relay.Position(); got != s.last {
				t.Errorf("Position() = %v, want %v", got, s.last)
			}
			if st := relay.Status(); st.State != tkafka.RelayLive || st.Failures != 0 {
				t.Errorf("status = %+v, want live without failures", st)
			}

			// Publish latency: one event at a time, from the append to the
			// checkpoint, which is saved right after Kafka acknowledged.
			saved := make(chan domain.Position, 1000)
			cps.mu.Lock()
			cps.onSave = func(p domain.Position) { saved <- p }
			cps.mu.Unlock()
			var lat []time.Duration
			for i := range 200 {
				_, pos := s.newShow(fmt.Sprintf("L%d", i))
				start := time.Now()
				for p := range saved {
					if !p.Less(pos) {
						break
					}
				}
				lat = append(lat, time.Since(start))
			}
			t.Logf("relay publish latency, append to acknowledged and checkpointed: %s", percentiles(lat))
			checkTopic(t, cfg, s.all(), true)
		})

		t.Run("lingers after a write, so that what came meanwhile goes in one request, and not when idle", func(t *testing.T) {
			t.Parallel()
			const wait = 1500 * time.Millisecond
			cfg := b.topic(t, 4)
			s := newShop(t)
			relay := newRelay(t, cfg, s.store, newMemCheckpoints(), &syncBuffer{})
			relay.Linger = wait
			acks := make(chan domain.Position, 10)
			relay.Acked = func(p domain.Position) { acks <- p }
			stop := run(t, relay.Run)
			eventually(t, 10*time.Second, func() string { return "the relay to be live" }, func() bool { return relay.Status().State == tkafka.RelayLive })

			// Idle: the first event is published at once, not after the wait.
			start := time.Now()
			_, first := s.newShow("first")
			if got := <-acks; got != first {
				t.Fatalf("first write acknowledged %v, want %v", got, first)
			}
			if took := time.Since(start); took >= wait {
				t.Errorf("an idle relay took %v to publish an event; it must not wait its linger (%v)", took, wait)
			}
			// While it lingers, three more are committed: one write for all.
			for i := range 3 {
				s.newShow(fmt.Sprintf("later %d", i))
			}
			select {
			case got := <-acks:
				if got != s.last {
					t.Errorf("second write acknowledged %v, want the last event %v in it", got, s.last)
				}
				if took := time.Since(start); took < wait {
					t.Errorf("second write %v after the first; the relay must wait %v", took, wait)
				}
			case <-time.After(wait + 10*time.Second):
				t.Fatal("the events committed while the relay lingered were not published")
			}
			checkTopic(t, cfg, s.all(), true)

			// Stopping ends the wait.
			s.newShow("last")
			<-acks
			stopped := time.Now()
			stop()
			if took := time.Since(stopped); took >= wait {
				t.Errorf("Run returned %v after it was stopped, lingering; want at once", took)
			}
		})

		t.Run("publishes from its checkpoint after it was stopped between publishing and checkpointing", func(t *testing.T) {
			t.Parallel()
			cfg := b.topic(t, 4)
			s := newShop(t)
			show := s.openShow("A")
			for i := range 6 {
				s.buy(show, 1, i%2 == 0)
			}
			cps := newMemCheckpoints()
			logs := &syncBuffer{}
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			// The first relay dies after Kafka acknowledged its first batch and
			// before it saved its checkpoint.
			var published atomic.Bool
			cps.before = func(domain.Position) error {
				published.Store(true)
				kill()
				return errors.New("killed")
			}
			first := newRelay(t, cfg, s.store, cps, logs)
			if err := first.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if !published.Load() {
				t.Fatal("the first relay did not publish")
			}
			if pos, _ := cps.get(cfg.Topic); pos != domain.Start {
				t.Fatalf("checkpoint = %v after the kill, want the start", pos)
			}
			published1 := 0
			for _, msgs := range readTopic(t, cfg) {
				published1 += len(msgs)
			}
			// Appends committed while no relay runs.
			for range 4 {
				s.buy(show, 1, true)
			}
			cps.mu.Lock()
			cps.before = nil
			cps.mu.Unlock()
			second := newRelay(t, cfg, s.store, cps, logs)
			run(t, second.Run)
			eventually(t, 10*time.Second, func() string { return "the second relay to catch up\n" + logs.String() }, func() bool {
				pos, _ := cps.get(cfg.Topic)
				return pos == s.last
			})
			all := s.all()
			total := checkTopic(t, cfg, all, false)
			if got, want := total, len(all)+published1; got != want {
				t.Errorf("topic holds %d messages, want %d: %d published twice and %d once", got, want, published1, len(all)-published1)
			}
		})

		t.Run("refuses a writer that is not NewWriter's", func(t *testing.T) {
			t.Parallel()
			cfg := tkafka.Config{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Partitions: 4}
			for name, change := range map[string]func(*tkafka.Relay){
				"round robin":             func(r *tkafka.Relay) { r.Writer.Balancer = &kafka.RoundRobin{} },
				"balancer over all":       func(r *tkafka.Relay) { r.Writer.Balancer = tkafka.KeyBalancer{} },
				"other partition count":   func(r *tkafka.Relay) { r.Partitions = 6 },
				"asynchronous":            func(r *tkafka.Relay) { r.Writer.Async = true },
				"one ack":                 func(r *tkafka.Relay) { r.Writer.RequiredAcks = kafka.RequireOne },
				"other topic":             func(r *tkafka.Relay) { r.Topic = "u" },
				"no checkpoints":          func(r *tkafka.Relay) { r.Checkpoints = nil },
				"no partitions":           func(r *tkafka.Relay) { r.Partitions, r.Writer.Balancer = 0, tkafka.KeyBalancer{} },
				"no topic anywhere":       func(r *tkafka.Relay) { r.Topic, r.Writer.Topic = "", "" },
				"no feed":                 func(r *tkafka.Relay) { r.Feed = nil },
				"pointer to 2 partitions": func(r *tkafka.Relay) { r.Writer.Balancer = &tkafka.KeyBalancer{Partitions: 2} },
			} {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					r := newRelay(t, cfg, newShop(t).store, newMemCheckpoints(), &syncBuffer{})
					change(r)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := r.Run(ctx); err == nil || ctx.Err() != nil {
						t.Fatalf("Run = %v, want an error at once", err)
					}
				})
			}
		})

		t.Run("fails on a topic with fewer partitions than it routes over", func(t *testing.T) {
			t.Parallel()
			cfg := b.topic(t, 2)
			cfg.Partitions = 4
			r := newRelay(t, cfg, newShop(t).store, newMemCheckpoints(), &syncBuffer{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := r.Run(ctx)
			if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "2 partitions") {
				t.Fatalf("Run = %v, want an error at once about the 2 partitions", err)
			}
		})
	})
}

// A real broker cannot be made to refuse writes on demand and then take them
// again: this test stays on kfake.
func TestRelay_RunWhileKafkaRefusesWrites(t *testing.T) {
	t.Parallel()
	c, b := onKfake(t, "the broker refuses every produce request for a while (NOT_ENOUGH_REPLICAS)")
	cfg := b.topic(t, 4)
	var refusing atomic.Bool
	var refused atomic.Int32
	refuseProduce(c, cfg.Topic, &refusing, &refused)
	s := newShop(t)
	show := s.openShow("A")
	s.buy(show, 2, true)
	cps := newMemCheckpoints()
	var savedWhileRefused atomic.Int32
	cps.before = func(domain.Position) error {
		if refusing.Load() {
			savedWhileRefused.Add(1)
		}
		return nil
	}
	logs := &syncBuffer{}
	relay := newRelay(t, cfg, s.store, cps, logs)
	run(t, relay.Run)
	eventually(t, 10*time.Second, func() string { return "the first events to be published\n" + logs.String() }, func() bool {
		pos, _ := cps.get(cfg.Topic)
		return pos == s.last
	})
	acked := s.last

	refusing.Store(true)
	// The store keeps accepting appends while Kafka refuses them.
	show2 := s.openShow("B")
	for i := range 5 {
		s.buy(show2, 1, i%2 == 0)
		s.buy(show, 1, true)
	}
	eventually(t, 10*time.Second, func() string { return "three failed writes" }, func() bool { return relay.Status().Failures >= 3 })
	if refused.Load() < 3 {
		t.Fatalf("%d produce requests refused, want 3 or more", refused.Load())
	}
	if pos, _ := cps.get(cfg.Topic); pos != acked {
		t.Fatalf("checkpoint moved to %v while Kafka refused every write; want %v", pos, acked)
	}
	if st := relay.Status(); st.State != tkafka.RelayStalled || st.Failures < 3 || st.Position != acked ||
		!strings.Contains(st.LastError, "Not Enough Replicas") {
		t.Errorf("status while refused = %+v, want stalled at %v with 3 or more failures, the broker's error kept", st, acked)
	}
	refusing.Store(false)

	eventually(t, 15*time.Second, func() string { return "the relay to catch up after Kafka came back\n" + logs.String() }, func() bool {
		pos, _ := cps.get(cfg.Topic)
		return pos == s.last
	})
	if n := savedWhileRefused.Load(); n > 0 {
		t.Errorf("%d checkpoints saved while Kafka refused every write", n)
	}
	checkTopic(t, cfg, s.all(), false)
	if !strings.Contains(logs.String(), "relay: publish failed") {
		t.Errorf("no failed publish logged:\n%s", logs)
	}
	if st := relay.Status(); st.State != tkafka.RelayLive || st.Failures != 0 || st.LastError == "" {
		t.Errorf("status after recovery = %+v, want live, no failures, the last error kept", st)
	}
}

// A real broker refuses one partition's writes while that partition's
// leader moves, and cannot be made to on demand: this test stays on kfake.
func TestRelay_RunRetriesOnlyTheRefusedPartitions(t *testing.T) {
	t.Parallel()
	c, b := onKfake(t, "the broker refuses partition 0's share of the first two produce requests to it (NOT_LEADER_OR_FOLLOWER)")
	cfg := b.topic(t, 4)
	// A fault per partition: the request's other partitions are stored.
	refusals := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: cfg.Topic, Partitions: []int32{0},
		Err: kerr.NotLeaderForPartition, Count: 2})
	defer refusals.Remove()
	s := newShop(t)
	onZero, elsewhere := 0, 0
	for i := 0; onZero < 2 || elsewhere < 2; i++ {
		show := s.openShow(fmt.Sprintf("S%d", i))
		s.buy(show, 1, true)
		if partitionOf(domain.ShowStream(show), cfg.Partitions) == 0 {
			onZero++
		} else {
			elsewhere++
		}
	}
	cps := newMemCheckpoints()
	logs := &syncBuffer{}
	relay := newRelay(t, cfg, s.store, cps, logs)
	run(t, relay.Run)
	eventually(t, 10*time.Second, func() string { return "the relay's checkpoint to reach " + s.last.String() + "\n" + logs.String() }, func() bool {
		pos, _ := cps.get(cfg.Topic)
		return pos == s.last
	})
	if n := refusals.Hits(); n != 2 {
		t.Fatalf("%d produce requests to partition 0 refused, want 2", n)
	}
	if !strings.Contains(logs.String(), "relay: publish failed") {
		t.Errorf("no failed publish logged:\n%s", logs)
	}
	// Once: the partitions that took their share the first time got
	// nothing again.
	checkTopic(t, cfg, s.all(), true)
}
