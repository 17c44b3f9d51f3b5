package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/projections"
)

// arrivals is a Deliverer that takes every event as done at once and
// records when each position came.
type arrivals struct {
	mu sync.Mutex
	at map[uint64]time.Time
}

func (a *arrivals) Deliver(_ context.Context, _ string, deliveries []projections.Delivery) ([]int, error) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	done := make([]int, len(deliveries))
	for i, d := range deliveries {
		for _, e := range d.Events {
			a.at[e.Position.Commit] = now
		}
		done[i] = len(d.Events)
	}
	return done, nil
}

// BenchmarkConsumer_Fetch measures the consumer's half alone, on the real
// broker: messages written at 1,000/s in writes of 10 over a 12-partition
// topic (kafka-go's Writer, acks=1), delivered to a Deliverer that does
// nothing. acked-p50/p99 is from a write's acknowledgement to the delivery
// of its messages; no PostgreSQL, no transactions. -benchtime is ignored.
func BenchmarkConsumer_Fetch(b *testing.B) {
	const partitions, perWrite, every, warmup, measured = 12, 10, 10 * time.Millisecond, 2 * time.Second, 4 * time.Second
	brokers := kafkatest.Brokers(b)
	cfg := tkafka.Config{Brokers: brokers, Topic: "ticketing.bench.fetch." + uuid.NewString()[:8], Partitions: partitions}
	if err := tkafka.EnsureTopic(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	got := &arrivals{at: map[uint64]time.Time{}}
	c := &tkafka.Consumer{Brokers: brokers, Topic: cfg.Topic, Projection: "shows", Group: "ticketing.bench.fetch." + cfg.Topic, Deliverer: got,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 250 * time.Millisecond, RebalanceTimeout: 3 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cfg.Topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond,
		BatchSize: perWrite, RequiredAcks: kafka.RequireOne}
	defer w.Close()
	acked := map[uint64]time.Time{}
	var pos uint64
	start := time.Now()
	for i := 0; time.Since(start) < warmup+measured; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		msgs := make([]kafka.Message, perWrite)
		for j := range msgs {
			pos++
			msgs[j] = tkafka.Encode(domain.RecordedEvent{ID: uuid.New(), StreamID: fmt.Sprintf("s-%d", pos%97), Version: int64(pos),
				Position: domain.Position{Commit: pos, Prepare: pos}, Type: "bench", Data: []byte(`{}`), Metadata: []byte(`{}`), RecordedAt: time.Now()})
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
		if time.Since(start) > warmup {
			for p := pos - perWrite + 1; p <= pos; p++ {
				acked[p] = time.Now()
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	var lat []time.Duration
	for {
		got.mu.Lock()
		lat = lat[:0]
		for p, at := range acked {
			if d, ok := got.at[p]; ok {
				lat = append(lat, d.Sub(at))
			}
		}
		got.mu.Unlock()
		if len(lat) == len(acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(lat) == 0 {
		b.Fatal("no message delivered")
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[min(int(f*float64(len(lat))), len(lat)-1)]) / 1e6 }
	b.ReportMetric(q(0.50), "acked-p50-ms")
	b.ReportMetric(q(0.99), "acked-p99-ms")
	b.ReportMetric(float64(len(acked)-len(lat)), "not-seen")
	b.Logf("%d messages acked in the measured %v, %d delivered: acked → delivered %s",
		len(acked), measured, len(lat), percentiles(lat))
}
