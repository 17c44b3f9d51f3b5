package kafka_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
)

func sampleEvent() domain.RecordedEvent {
	return domain.RecordedEvent{
		ID:         uuid.MustParse("6f1c2f2e-8b9a-4c1d-9e0f-0a1b2c3d4e5f"),
		StreamID:   "show-0b6f1d2e-3c4a-4b5c-8d9e-0f1a2b3c4d5e",
		Version:    7,
		Position:   domain.PositionAt(12345),
		Type:       "show.seats_held",
		Data:       []byte(`{"show_id":"0b6f1d2e-3c4a-4b5c-8d9e-0f1a2b3c4d5e","quantity":2}`),
		Metadata:   []byte(`{"correlation_id":"req-1","causation_id":"cmd-9","user_id":"u-3"}`),
		RecordedAt: time.Date(2030, 6, 1, 18, 0, 0, 123456789, time.UTC),
	}
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestEncode_Message(t *testing.T) {
	t.Parallel()
	rec := sampleEvent()
	m := tkafka.Encode(rec)
	if got, want := string(m.Key), rec.StreamID; got != want {
		t.Errorf("key = %q, want %q", got, want)
	}
	if got, want := string(m.Value), string(rec.Data); got != want {
		t.Errorf("value = %s, want %s", got, want)
	}
	if !m.Time.Equal(rec.RecordedAt) {
		t.Errorf("time = %v, want %v", m.Time, rec.RecordedAt)
	}
	for key, want := range map[string]string{
		tkafka.HeaderEventID:       rec.ID.String(),
		tkafka.HeaderType:          rec.Type,
		tkafka.HeaderStream:        rec.StreamID,
		tkafka.HeaderVersion:       "7",
		tkafka.HeaderPosition:      "12345",
		tkafka.HeaderRecordedAt:    "2030-06-01T18:00:00.123456789Z",
		tkafka.HeaderCorrelationID: "req-1",
		tkafka.HeaderCausationID:   "cmd-9",
		tkafka.HeaderMetadata:      string(rec.Metadata),
	} {
		if got, ok := header(m, key); !ok || got != want {
			t.Errorf("header %s = %q (present %v), want %q", key, got, ok, want)
		}
	}
}

func TestDecode_RoundTrip(t *testing.T) {
	t.Parallel()
	twoNumbers := sampleEvent()
	twoNumbers.Position = domain.Position{Commit: 900, Prepare: 899}
	noMetadata := sampleEvent()
	noMetadata.Metadata = nil
	noIDs := sampleEvent()
	noIDs.Metadata = []byte(`{}`)
	local := sampleEvent()
	local.RecordedAt = time.Date(2030, 6, 1, 20, 0, 0, 5, time.FixedZone("CEST", 2*3600))
	for name, rec := range map[string]domain.RecordedEvent{
		"full":                      sampleEvent(),
		"position with two numbers": twoNumbers,
		"no metadata":               noMetadata,
		"metadata without ids":      noIDs,
		"time with an offset":       local,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tkafka.Decode(tkafka.Encode(rec))
			if err != nil {
				t.Fatal(err)
			}
			if !got.RecordedAt.Equal(rec.RecordedAt) {
				t.Errorf("recorded at = %v, want %v", got.RecordedAt, rec.RecordedAt)
			}
			got.RecordedAt, rec.RecordedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, rec) {
				t.Errorf("got  %+v\nwant %+v", got, rec)
			}
		})
	}
}

func TestDecode_WithoutMetadataHeader(t *testing.T) {
	t.Parallel()
	m := tkafka.Encode(sampleEvent())
	var kept []kafka.Header
	for _, h := range m.Headers {
		if h.Key != tkafka.HeaderMetadata {
			kept = append(kept, h)
		}
	}
	m.Headers = kept
	got, err := tkafka.Decode(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"correlation_id":"req-1","causation_id":"cmd-9"}`; string(got.Metadata) != want {
		t.Errorf("metadata = %s, want %s", got.Metadata, want)
	}
}

func TestDecode_Errors(t *testing.T) {
	t.Parallel()
	set := func(key, value string) func(*kafka.Message) {
		return func(m *kafka.Message) {
			for i := range m.Headers {
				if m.Headers[i].Key == key {
					m.Headers[i].Value = []byte(value)
				}
			}
		}
	}
	for name, change := range map[string]func(*kafka.Message){
		"no headers":         func(m *kafka.Message) { m.Headers = nil },
		"bad event id":       set(tkafka.HeaderEventID, "nope"),
		"no type":            set(tkafka.HeaderType, ""),
		"no stream":          set(tkafka.HeaderStream, ""),
		"bad version":        set(tkafka.HeaderVersion, "x"),
		"version zero":       set(tkafka.HeaderVersion, "0"),
		"bad position":       set(tkafka.HeaderPosition, "1.x"),
		"bad recorded-at":    set(tkafka.HeaderRecordedAt, "yesterday"),
		"no recorded-at":     set(tkafka.HeaderRecordedAt, ""),
		"no position header": set(tkafka.HeaderPosition, ""),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := tkafka.Encode(sampleEvent())
			m.Topic, m.Partition, m.Offset = "t", 3, 42
			change(&m)
			_, err := tkafka.Decode(m)
			de, ok := errors.AsType[*tkafka.DecodeError](err)
			if !ok {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Topic != "t" || de.Partition != 3 || de.Offset != 42 {
				t.Errorf("error names %s/%d@%d, want t/3@42", de.Topic, de.Partition, de.Offset)
			}
		})
	}
}

func TestKeyBalancer_Balance(t *testing.T) {
	t.Parallel()
	t.Run("matches the Java client's partitioner", func(t *testing.T) {
		t.Parallel()
		// Murmur2 hashes of the Java client (librdkafka's test vectors).
		for key, hash := range map[string]uint32{
			"kafka":             0xd067cf64,
			"giberish123456789": 0x8f552b0c,
			"1234":              0x9fc97b14,
			"234":               0xe7c009ca,
		} {
			for _, n := range []int{1, 3, 12, 100} {
				parts := make([]int, n)
				for i := range parts {
					parts[i] = i
				}
				got := tkafka.KeyBalancer{Partitions: n}.Balance(kafka.Message{Key: []byte(key)}, parts...)
				want := int((hash & 0x7fffffff) % uint32(n))
				if got != want {
					t.Errorf("%q over %d: got %d, want %d", key, n, got, want)
				}
			}
		}
	})
	t.Run("routes over the first Partitions partitions only", func(t *testing.T) {
		t.Parallel()
		all := make([]int, 20)
		for i := range all {
			all[i] = i
		}
		for i := range 200 {
			m := kafka.Message{Key: []byte(uuid.NewSHA1(uuid.Nil, []byte{byte(i)}).String())}
			got := tkafka.KeyBalancer{Partitions: 12}.Balance(m, all...)
			want := tkafka.KeyBalancer{Partitions: 12}.Balance(m, all[:12]...)
			if got != want {
				t.Fatalf("key %s: %d over 20 partitions, %d over 12", m.Key, got, want)
			}
		}
	})
}

func TestNewWriter_Settings(t *testing.T) {
	t.Parallel()
	w := tkafka.NewWriter(tkafka.Config{Brokers: []string{"127.0.0.1:1"}})
	defer w.Close()
	if w.Topic != tkafka.DefaultTopic {
		t.Errorf("topic = %q, want %q", w.Topic, tkafka.DefaultTopic)
	}
	if w.RequiredAcks != kafka.RequireAll || w.Async || w.AllowAutoTopicCreation {
		t.Errorf("acks %v, async %v, auto-create %v; want all, false, false", w.RequiredAcks, w.Async, w.AllowAutoTopicCreation)
	}
	if w.BatchTimeout != time.Millisecond {
		t.Errorf("batch timeout = %v, want 1ms (kafka-go's default, a second, would add a second to every publish)", w.BatchTimeout)
	}
	want := kafka.Balancer(tkafka.KeyBalancer{Partitions: 12})
	if got := w.Balancer; got != want {
		t.Errorf("balancer = %#v, want %#v", got, want)
	}
}

func TestEnsureTopic(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		partitions := func(t *testing.T, topic string) int {
			t.Helper()
			conn, err := kafka.Dial("tcp", b.addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			parts, err := conn.ReadPartitions(topic)
			if err != nil {
				t.Fatal(err)
			}
			return len(parts)
		}
		t.Run("creates the topic, and again is a no-op", func(t *testing.T) {
			t.Parallel()
			cfg := b.topic(t, 6)
			if got := partitions(t, cfg.Topic); got != 6 {
				t.Fatalf("partitions = %d, want 6", got)
			}
			if err := tkafka.EnsureTopic(context.Background(), cfg); err != nil {
				t.Fatalf("second EnsureTopic: %v", err)
			}
			if got := partitions(t, cfg.Topic); got != 6 {
				t.Fatalf("partitions after the second call = %d, want 6", got)
			}
		})
		t.Run("returns once every partition takes writes", func(t *testing.T) {
			t.Parallel()
			// A real broker names a new partition's leader a moment before
			// the leader serves it; kfake never showed that.
			for range 3 {
				cfg := b.topic(t, 8)
				// The relay's writer: it reads the topic's metadata once
				// through its transport, which caches them, then writes.
				w := tkafka.NewWriter(cfg)
				client := &kafka.Client{Addr: w.Addr, Transport: w.Transport}
				if _, err := client.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{cfg.Topic}}); err != nil {
					t.Fatal(err)
				}
				msgs := make([]kafka.Message, 64)
				for i := range msgs {
					msgs[i] = kafka.Message{Key: []byte(uuid.NewString()), Value: []byte("v")}
				}
				err := w.WriteMessages(context.Background(), msgs...)
				w.Close()
				if err != nil {
					t.Fatalf("first write to %s: %.300v", cfg.Topic, err)
				}
			}
		})
		t.Run("fails on a topic with fewer partitions", func(t *testing.T) {
			t.Parallel()
			cfg := b.topic(t, 2)
			cfg.Partitions = 4
			if err := tkafka.EnsureTopic(context.Background(), cfg); err == nil {
				t.Fatal("EnsureTopic accepted a topic of 2 partitions for 4")
			}
		})
		t.Run("fails without brokers", func(t *testing.T) {
			t.Parallel()
			if err := tkafka.EnsureTopic(context.Background(), tkafka.Config{}); err == nil {
				t.Fatal("EnsureTopic without brokers succeeded")
			}
		})
	})
}
