// Package kafkatest finds a real Kafka broker for tests: the one
// KAFKA_BROKERS names (make test starts Apache Kafka's own broker from its
// jars and sets it, see tools/kafka/broker) or, where a Docker engine answers,
// one it starts with ory/dockertest (Apache Kafka in KRaft mode). Only tests
// that inject faults a real broker cannot use franz-go's kfake instead.
package kafkatest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ory/dockertest/v3"
	"github.com/segmentio/kafka-go"

	tkafka "github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/internal/dockerrun"
	"github.com/ticketing/ticketing/projections"
)

// Image is the broker image started where a Docker engine answers: the
// version tools/kafka/pom.xml pins.
const Image = "apache/kafka:4.4.0"

var (
	once    sync.Once
	brokers []string
	why     string
)

// Brokers returns the addresses of a real broker, or skips the test with one
// line saying why there is none; under CI (CI set) it fails instead, since
// the test command starts one there. A broker started here lives until the
// test process exits (tests share it; each uses topics and groups of its own).
func Brokers(t testing.TB) []string {
	t.Helper()
	once.Do(find)
	if brokers == nil {
		if os.Getenv("CI") != "" {
			t.Fatal(why + " (CI is set: make test starts a broker and sets KAFKA_BROKERS)")
		}
		t.Skip(why)
	}
	return brokers
}

func find() {
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		brokers = strings.Split(env, ",")
		return
	}
	var addr string
	addr, why = dockerrun.Start("no real Kafka broker: KAFKA_BROKERS is unset and no Docker engine answers; make test, or tools/kafka/broker run go test ..., starts one",
		"no real Kafka broker: starting "+Image+" in Docker failed: ", start)
	if addr != "" {
		brokers = []string{addr}
	}
}

// start runs a single-node KRaft broker whose advertised listener is the
// host port Docker maps, and waits until it answers.
func start(pool *dockertest.Pool) (string, error) {
	return dockerrun.Run(pool, "broker", "9092/tcp", func(addr string) *dockertest.RunOptions {
		return &dockertest.RunOptions{
			Repository: "apache/kafka", Tag: strings.TrimPrefix(Image, "apache/kafka:"),
			Env: []string{
				"KAFKA_NODE_ID=1",
				"KAFKA_PROCESS_ROLES=broker,controller",
				"KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093",
				"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://" + addr,
				"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
				"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
				"KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:9093",
				"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=8",
				"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
				"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
				"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
				"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
				"KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
			},
		}
	}, func(ctx context.Context, addr string) error {
		conn, err := kafka.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Brokers()
		return err
	})
}

// Committed returns the offsets group committed on cfg's topic, one per
// partition, -1 for none.
func Committed(t testing.TB, cfg tkafka.Config, group string) []int64 {
	t.Helper()
	parts := make([]int, cfg.Partitions)
	for i := range parts {
		parts[i] = i
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	resp, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{cfg.Topic: parts}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, cfg.Partitions)
	for _, p := range resp.Topics[cfg.Topic] {
		if p.Error != nil {
			t.Fatal(p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// KilledAfterApply applies a projection's first delivery and then kills
// its consumer before the consumer commits the offsets: it cancels the
// consumer's context (Kill) and reports nothing done, as a process that
// died right after its read-model transaction committed would have. Fired
// is set when it did.
type KilledAfterApply struct {
	tkafka.Deliverer
	Kill  context.CancelFunc
	Fired *atomic.Bool
}

// Deliver applies deliveries, then kills the consumer.
func (d KilledAfterApply) Deliver(ctx context.Context, projection string, deliveries []projections.Delivery) ([]int, error) {
	if _, err := d.Deliverer.Deliver(ctx, projection, deliveries); err != nil {
		return make([]int, len(deliveries)), err
	}
	d.Fired.Store(true)
	d.Kill()
	return make([]int, len(deliveries)), errors.New("killed after the read-model write, before the offset commit")
}
