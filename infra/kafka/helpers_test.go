package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/internal/testlog"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
)

// broker is a Kafka broker tests run against: the real one of the run, or
// an in-process kfake cluster for the few tests that inject faults.
type broker struct {
	addrs []string
}

// onBroker runs test against the real broker (KAFKA_BROKERS; make test
// starts one). Each test makes topics and groups of its own.
func onBroker(t *testing.T, test func(t *testing.T, b *broker)) {
	t.Helper()
	test(t, &broker{addrs: kafkatest.Brokers(t)})
}

// onKfake starts a fresh kfake cluster for a test that injects a fault a
// real broker cannot be made to on demand; why names the fault and is
// logged, so that the run says which tests did not use the real broker.
func onKfake(t *testing.T, why string) (*kfake.Cluster, *broker) {
	t.Helper()
	return onKfakeOf(t, 1, why)
}

// onKfakeOf is onKfake with a cluster of n brokers.
func onKfakeOf(t *testing.T, n int, why string) (*kfake.Cluster, *broker) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(n))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	t.Logf("on kfake, not the real broker: %s", why)
	return c, &broker{addrs: c.ListenAddrs()}
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// topic creates a topic of its own for the test and returns its config.
func (b *broker) topic(t *testing.T, partitions int) tkafka.Config {
	t.Helper()
	name := "ticketing.test." + unsafeTopicChars.ReplaceAllString(t.Name(), "_") + "." + uuid.NewString()[:8]
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	cfg := tkafka.Config{Brokers: b.addrs, Topic: name, Partitions: partitions}
	if err := tkafka.EnsureTopic(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// endOffsets returns the offset after the last message of each partition.
func endOffsets(t *testing.T, cfg tkafka.Config) []int64 {
	t.Helper()
	out := make([]int64, cfg.Partitions)
	for p := range out {
		conn, err := kafka.DialLeader(context.Background(), "tcp", cfg.Brokers[0], cfg.Topic, p)
		if err != nil {
			t.Fatal(err)
		}
		out[p], err = conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readTopic returns every message of the topic, by partition.
func readTopic(t *testing.T, cfg tkafka.Config) [][]kafka.Message {
	t.Helper()
	ends := endOffsets(t, cfg)
	out := make([][]kafka.Message, cfg.Partitions)
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, Partition: p, MaxWait: 50 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: read %d of %d messages: %v", p, len(out[p]), end, err)
			}
			out[p] = append(out[p], m)
			if m.Offset >= end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// memCheckpoints is an in-memory RelayCheckpoints. before, when set, runs
// before each save and may fail it; onSave runs after each save.
type memCheckpoints struct {
	mu     sync.Mutex
	pos    map[string]domain.Position
	parts  map[string]map[int]domain.Position
	saves  []domain.Position
	before func(pos domain.Position) error
	onSave func(pos domain.Position)
}

var _ tkafka.RelayCheckpoints = (*memCheckpoints)(nil)

func newMemCheckpoints() *memCheckpoints {
	return &memCheckpoints{pos: map[string]domain.Position{}, parts: map[string]map[int]domain.Position{}}
}

func (m *memCheckpoints) Load(ctx context.Context, name string) (domain.Position, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos[name], nil
}

func (m *memCheckpoints) Save(ctx context.Context, name string, pos domain.Position, partitions map[int]domain.Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.before != nil {
		if err := m.before(pos); err != nil {
			return err
		}
	}
	m.saves = append(m.saves, pos)
	if m.pos[name].Less(pos) {
		m.pos[name] = pos
	}
	if m.parts[name] == nil {
		m.parts[name] = map[int]domain.Position{}
	}
	for p, at := range partitions {
		if m.parts[name][p].Less(at) {
			m.parts[name][p] = at
		}
	}
	if m.onSave != nil {
		m.onSave(pos)
	}
	return nil
}

func (m *memCheckpoints) get(name string) (domain.Position, map[int]domain.Position) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := map[int]domain.Position{}
	for p, at := range m.parts[name] {
		parts[p] = at
	}
	return m.pos[name], parts
}

// syncBuffer collects logs written from several goroutines.
type syncBuffer = testlog.Buffer

func newLog(buf *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// eventually polls cond every few milliseconds until it holds, for up to d.
func eventually(t *testing.T, d time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run runs fn in a goroutine until the returned stop is called or the test
// ends; stop waits for fn and reports its error.
func run(t *testing.T, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// percentiles returns the 50th, 99th and 100th percentiles of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(int(q*float64(len(s))), len(s)-1)] }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), at(0.50).Round(10*time.Microsecond), at(0.99).Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond))
}
