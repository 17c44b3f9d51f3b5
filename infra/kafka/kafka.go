// Package kafka publishes the global event log to Kafka and feeds the
// projections from it, with segmentio/kafka-go.
//
// The relay follows the event store (the store is the outbox) and publishes
// each event to one topic, keyed by its stream id so that one stream's events
// stay in order in one partition; it checkpoints only what Kafka
// acknowledged, so delivery is at least once. One consumer group reads the
// topic for every projection and hands each partition's messages to the
// projection runner, which applies them exactly once in effect by stream
// version.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
)

// Defaults of Config.
const (
	// DefaultTopic is the topic of the global log.
	DefaultTopic = "ticketing.events"
	// DefaultPartitions is the partition count of a topic EnsureTopic creates.
	DefaultPartitions = 12
	// DefaultReplicationFactor is the replication factor of a topic
	// EnsureTopic creates.
	DefaultReplicationFactor = 1
	// DefaultBatchTimeout is how long the writer waits to fill a batch.
	DefaultBatchTimeout = time.Millisecond
	// DefaultRelayLinger is the engine's Relay.Linger. At 1,000 events/s
	// on the 2-core development machine, waiting 2 ms after each write cut
	// the relay's produce requests from 1.5 to 3.4 messages each, and with
	// them the CPU of every process on the way: the broker's JVM by about
	// a third (it is paid by the request, not by the message), and this
	// process and PostgreSQL by a tenth, as the consumer's deliveries grew
	// the same way. Less queueing for the two cores made events visible
	// sooner, p50 and p99, than with no wait (docs/kafka-latency.md,
	// 2026-12-03, session 33); 5 ms raised the p50.
	DefaultRelayLinger = 2 * time.Millisecond
)

// Config says where the global log is published.
type Config struct {
	// Brokers are the bootstrap brokers, as host:port.
	Brokers []string
	// Topic is the topic of the global log; empty means DefaultTopic.
	Topic string
	// Partitions is the partition count of the topic; zero means
	// DefaultPartitions. It decides which partition a stream's events go
	// to: changing it moves streams to other partitions.
	Partitions int
	// ReplicationFactor is used when EnsureTopic creates the topic; zero
	// means DefaultReplicationFactor.
	ReplicationFactor int
	// BatchTimeout is how long the writer's WriteMessages waits for more
	// messages of a partition before it sends them; zero means
	// DefaultBatchTimeout. The relay does not use it: it sends its own
	// produce requests (see Relay.Writer), and waits Relay.Linger between
	// them (see RelayLinger).
	BatchTimeout time.Duration
	// Observe, if set, is given to every Consumer the engine starts (see
	// Consumer.Observe): the benchmarks' hook.
	Observe func(Delivered)
	// ObserveRelay, if set, is the relay's Acked: the benchmarks' hook.
	ObserveRelay func(domain.Position)
	// ProjectionTxs is the projection consumer's SharedTransactions
	// (KAFKA_PROJECTION_TXS); zero means one.
	ProjectionTxs int
	// CommitInterval is the projection consumer's CommitInterval
	// (KAFKA_COMMIT_INTERVAL); zero means DefaultCommitInterval.
	CommitInterval time.Duration
	// RelayLinger is the relay's Linger (KAFKA_RELAY_LINGER); zero means
	// DefaultRelayLinger and a negative value no wait. See RelayWait.
	RelayLinger time.Duration
}

// RelayWait returns the Relay.Linger c asks for.
func (c Config) RelayWait() time.Duration {
	switch {
	case c.RelayLinger == 0:
		return DefaultRelayLinger
	case c.RelayLinger < 0:
		return 0
	}
	return c.RelayLinger
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	return c
}

// brokerTimeout bounds a call to the brokers whose context has no deadline.
const brokerTimeout = 10 * time.Second

// EnsureTopic creates the topic of cfg with cfg.Partitions partitions unless
// it exists. It fails when the topic exists with fewer partitions: the relay
// would have nowhere to send some streams.
func EnsureTopic(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := ensureTopic(ctx, cfg); err != nil {
		return fmt.Errorf("kafka: ensure topic %s: %w", cfg.Topic, err)
	}
	return nil
}

func ensureTopic(ctx context.Context, cfg Config) error {
	if len(cfg.Brokers) == 0 {
		return errors.New("no brokers")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, brokerTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	var conn *kafka.Conn
	var err error
	for _, b := range cfg.Brokers {
		if conn, err = kafka.DefaultDialer.DialContext(ctx, "tcp", b); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	controller, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	cc, err := kafka.DefaultDialer.DialContext(ctx, "tcp", net.JoinHostPort(controller.Host, strconv.Itoa(controller.Port)))
	if err != nil {
		return fmt.Errorf("dial controller: %w", err)
	}
	defer cc.Close()
	if err := cc.SetDeadline(deadline); err != nil {
		return err
	}
	// Conn.CreateTopics ignores TOPIC_ALREADY_EXISTS.
	if err := cc.CreateTopics(kafka.TopicConfig{
		Topic:             cfg.Topic,
		NumPartitions:     cfg.Partitions,
		ReplicationFactor: cfg.ReplicationFactor,
	}); err != nil {
		return err
	}
	// The topic exists now, so ReadPartitions (which may ask the broker to
	// create a missing topic) only reads it. A real broker shows it a moment
	// later, and its partitions without a leader a moment after that: until
	// then writes to them fail (NOT_LEADER_OR_FOLLOWER), so wait for every
	// leader.
	for {
		parts, err := cc.ReadPartitions(cfg.Topic)
		switch {
		case err == nil && len(parts) < cfg.Partitions:
			return fmt.Errorf("it has %d partitions, want %d", len(parts), cfg.Partitions)
		case err == nil:
			if err = leaderless(parts); err == nil {
				return awaitLeaders(ctx, cfg)
			}
		case !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leaderless returns an error naming the first partition of parts that has
// no leader yet, nil when each has one.
func leaderless(parts []kafka.Partition) error {
	for _, p := range parts {
		if p.Error != nil || p.Leader.Host == "" {
			return fmt.Errorf("partition %d has no leader yet: %w", p.ID, kafka.LeaderNotAvailable)
		}
	}
	return nil
}

// awaitLeaders returns once every partition's leader serves it: the
// metadata name a leader a moment before the leader takes requests for the
// partition (a write then fails with NOT_LEADER_OR_FOLLOWER). It asks each
// partition's first offset, which only a serving leader answers.
func awaitLeaders(ctx context.Context, cfg Config) error {
	tr := &kafka.Transport{MetadataTTL: 20 * time.Millisecond}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	reqs := make([]kafka.OffsetRequest, cfg.Partitions)
	for p := range reqs {
		reqs[p] = kafka.FirstOffsetOf(p)
	}
	for {
		resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{cfg.Topic: reqs}})
		if err == nil {
			for _, p := range resp.Topics[cfg.Topic] {
				if p.Error != nil {
					err = fmt.Errorf("partition %d: %w", p.Partition, p.Error)
					break
				}
			}
			if err == nil && len(resp.Topics[cfg.Topic]) < cfg.Partitions {
				err = fmt.Errorf("%d of %d partitions answered", len(resp.Topics[cfg.Topic]), cfg.Partitions)
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the partitions' leaders: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// partitionCount asks the brokers, through client's transport and its
// metadata cache, how many partitions topic has, without creating it.
func partitionCount(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, t.Error
			}
			return len(t.Partitions), nil
		}
	}
	return 0, kafka.UnknownTopicOrPartition
}

// writerBatchSize is the most messages the writer sends to one partition in
// one request. The relay never gives it more per partition in one write, so
// that each write is one request per partition: see Relay.
const writerBatchSize = 1000

// writerMetadataTTL is how often the relay's writer reads the cluster's
// metadata. kafka-go reads it only on that timer (6 s by default), not when a
// partition's leader was lost or refused a write as no longer the leader:
// until then the writer keeps writing to the old leader.
const writerMetadataTTL = time.Second

// NewWriter returns the writer the relay publishes with: synchronous, every
// write acknowledged by all in-sync replicas, each message routed by its key
// (the stream id) with KeyBalancer over cfg.Partitions partitions, and no
// topic auto-creation. A failed write is not retried by the writer: the
// relay retries it with its own backoff. The writer has a transport of its
// own, so that its cache of the topic's metadata is not one that another
// writer of the process filled before the topic existed. The caller closes
// the writer.
func NewWriter(cfg Config) *kafka.Writer {
	cfg = cfg.withDefaults()
	return &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Transport:              &kafka.Transport{ClientID: "ticketing-relay", MetadataTTL: writerMetadataTTL},
		Topic:                  cfg.Topic,
		Balancer:               KeyBalancer{Partitions: cfg.Partitions},
		RequiredAcks:           kafka.RequireAll,
		Async:                  false,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              writerBatchSize,
		MaxAttempts:            1,
		AllowAutoTopicCreation: false,
	}
}

// KeyBalancer routes a message by the Murmur2 hash of its key over the first
// Partitions partitions of the topic (all of them when Partitions is zero),
// so that every event of a stream goes to the same partition.
//
// Murmur2, not kafka.Hash (FNV-1a, which only Sarama shares): it is the
// default partitioner of the Java client, Kafka Streams and librdkafka's
// "murmur2", so any other tool that computes a stream's partition from its
// key finds the same one. It is deterministic, which lets the relay compute
// the partition of each message before it writes it and record it.
type KeyBalancer struct {
	// Partitions is how many of the topic's partitions, from the first,
	// the balancer routes over; zero means all of them.
	Partitions int
}

var _ kafka.Balancer = KeyBalancer{}

// Balance returns the partition of msg's key.
func (b KeyBalancer) Balance(msg kafka.Message, partitions ...int) int {
	n := len(partitions)
	if b.Partitions > 0 && b.Partitions < n {
		n = b.Partitions
	}
	return kafka.Murmur2Balancer{Consistent: true}.Balance(msg, partitions[:n]...)
}

// Message headers. Encode writes them all; an absent correlation or causation
// id is an empty value.
const (
	HeaderEventID       = "event-id"
	HeaderType          = "type"
	HeaderStream        = "stream"
	HeaderVersion       = "version"
	HeaderPosition      = "position"
	HeaderRecordedAt    = "recorded-at" // RFC 3339 with nanoseconds
	HeaderCorrelationID = "correlation-id"
	HeaderCausationID   = "causation-id"
	HeaderMetadata      = "metadata" // the event's metadata JSON, as stored
)

// Encode turns a recorded event into a message: key = stream id, value = the
// event's JSON data, timestamp = when it was recorded, and the headers above.
func Encode(rec domain.RecordedEvent) kafka.Message {
	var md domain.Metadata
	_ = json.Unmarshal(rec.Metadata, &md) // metadata the store accepted is JSON; if not, the ids stay empty
	return kafka.Message{
		Key:   []byte(rec.StreamID),
		Value: rec.Data,
		Time:  rec.RecordedAt,
		Headers: []kafka.Header{
			{Key: HeaderEventID, Value: []byte(rec.ID.String())},
			{Key: HeaderType, Value: []byte(rec.Type)},
			{Key: HeaderStream, Value: []byte(rec.StreamID)},
			{Key: HeaderVersion, Value: strconv.AppendInt(nil, rec.Version, 10)},
			{Key: HeaderPosition, Value: []byte(rec.Position.String())},
			{Key: HeaderRecordedAt, Value: []byte(rec.RecordedAt.Format(time.RFC3339Nano))},
			{Key: HeaderCorrelationID, Value: []byte(md.CorrelationID)},
			{Key: HeaderCausationID, Value: []byte(md.CausationID)},
			{Key: HeaderMetadata, Value: rec.Metadata},
		},
	}
}

// DecodeError says that a message is not an event Encode made.
type DecodeError struct {
	Topic     string
	Partition int
	Offset    int64
	Err       error
}

// Error names the message and what is wrong with it.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("kafka: message %s/%d@%d is not an event: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns what is wrong with the message.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode turns a message made by Encode back into the recorded event. A
// message without the metadata header gets metadata rebuilt from its
// correlation and causation ids. It fails with a *DecodeError.
func Decode(m kafka.Message) (domain.RecordedEvent, error) {
	rec, err := decode(m)
	if err != nil {
		return domain.RecordedEvent{}, &DecodeError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Err: err}
	}
	return rec, nil
}

func decode(m kafka.Message) (domain.RecordedEvent, error) {
	h := make(map[string][]byte, len(m.Headers))
	for _, x := range m.Headers {
		h[x.Key] = x.Value
	}
	required := func(key string) (string, error) {
		v, ok := h[key]
		if !ok || len(v) == 0 {
			return "", fmt.Errorf("no %s header", key)
		}
		return string(v), nil
	}
	var rec domain.RecordedEvent
	var err error
	var s string
	if s, err = required(HeaderEventID); err != nil {
		return rec, err
	}
	if rec.ID, err = uuid.Parse(s); err != nil {
		return rec, fmt.Errorf("%s header: %w", HeaderEventID, err)
	}
	if rec.Type, err = required(HeaderType); err != nil {
		return rec, err
	}
	if rec.StreamID, err = required(HeaderStream); err != nil {
		return rec, err
	}
	if s, err = required(HeaderVersion); err != nil {
		return rec, err
	}
	if rec.Version, err = strconv.ParseInt(s, 10, 64); err != nil || rec.Version < 1 {
		return rec, fmt.Errorf("%s header: invalid version %q", HeaderVersion, s)
	}
	if s, err = required(HeaderPosition); err != nil {
		return rec, err
	}
	if rec.Position, err = domain.ParsePosition(s); err != nil {
		return rec, fmt.Errorf("%s header: %w", HeaderPosition, err)
	}
	if s, err = required(HeaderRecordedAt); err != nil {
		return rec, err
	}
	if rec.RecordedAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return rec, fmt.Errorf("%s header: %w", HeaderRecordedAt, err)
	}
	rec.Data = m.Value
	if md, ok := h[HeaderMetadata]; ok {
		if len(md) > 0 {
			rec.Metadata = md
		}
	} else if c, k := h[HeaderCorrelationID], h[HeaderCausationID]; len(c) > 0 || len(k) > 0 {
		rec.Metadata, _ = json.Marshal(domain.Metadata{CorrelationID: string(c), CausationID: string(k)})
	}
	return rec, nil
}
