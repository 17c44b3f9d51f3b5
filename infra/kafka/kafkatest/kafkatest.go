// Package kafkatest finds a real Kafka broker for tests: the one
// KAFKA_BROKERS names (make test starts Apache Kafka's own broker from its
// jars and sets it, see tools/kafka/broker) or, where a Docker engine answers,
// one it starts with ory/dockertest (Apache Kafka in KRaft mode). Only tests
// that inject faults a real broker cannot use franz-go's kfake instead.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
	"github.com/segmentio/kafka-go"
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
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	if err != nil {
		why = "no real Kafka broker: KAFKA_BROKERS is unset and no Docker engine answers; make test, or tools/kafka/broker run go test ..., starts one"
		return
	}
	addrs, err := start(pool)
	if err != nil {
		why = "no real Kafka broker: starting " + Image + " in Docker failed: " + err.Error()
		return
	}
	brokers = addrs
}

// start runs a single-node KRaft broker whose advertised listener is the
// host port Docker maps, and waits until it answers.
func start(pool *dockertest.Pool) ([]string, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
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
		ExposedPorts: []string{"9092/tcp"},
		PortBindings: map[dc.Port][]dc.PortBinding{"9092/tcp": {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(port)}}},
	}, func(hc *dc.HostConfig) { hc.AutoRemove = true })
	if err != nil {
		return nil, err
	}
	_ = res.Expire(600) // a crashed test run leaves nothing behind for long
	pool.MaxWait = 2 * time.Minute
	err = pool.Retry(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := kafka.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Brokers()
		return err
	})
	if err != nil {
		_ = pool.Purge(res)
		return nil, fmt.Errorf("broker did not answer: %w", err)
	}
	return []string{addr}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
