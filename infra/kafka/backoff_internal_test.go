package kafka

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
)

// A write to a lost leader (connection refused) is retried at least every
// second, however long it fails: a lost broker's partitions get new leaders
// within seconds, and the relay must publish to them then. Before, the
// relay waited up to 5 s between two writes.
func TestRelay_PublishRetriesAtLeastEverySecond(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lost := ln.Addr().String()
	ln.Close() // nothing listens there any more: a broker SIGKILLed
	w := NewWriter(Config{Brokers: []string{lost}, Topic: "ticketing.lost", Partitions: 1})
	defer w.Close()
	var logs bytes.Buffer
	r := &Relay{Writer: w, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := domain.RecordedEvent{ID: uuid.New(), StreamID: "show-1", Version: 1, Type: "T", Data: []byte(`{}`), RecordedAt: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.publish(ctx, "lost", "ticketing.lost", []kafka.Message{Encode(rec)}, []int{0}, []domain.RecordedEvent{rec}); err == nil {
		t.Fatal("publish to a lost broker succeeded")
	}
	waits := regexp.MustCompile(`retry_in=(\S+)`).FindAllStringSubmatch(logs.String(), -1)
	if len(waits) < 6 {
		t.Fatalf("%d attempts in 5 s, want 6 or more:\n%s", len(waits), logs.String())
	}
	for _, m := range waits {
		if d, err := time.ParseDuration(m[1]); err != nil || d > time.Second {
			t.Errorf("the relay waits %s before it writes again, want at most 1s", m[1])
		}
	}
}

// The relay's writer rereads where the partitions' leaders are every second:
// kafka-go does not reread it when a leader is lost.
func TestNewWriter_RereadsMetadataEverySecond(t *testing.T) {
	t.Parallel()
	tr, ok := NewWriter(Config{Brokers: []string{"127.0.0.1:9092"}}).Transport.(*kafka.Transport)
	if !ok || tr.MetadataTTL <= 0 || tr.MetadataTTL > time.Second {
		t.Fatalf("writer transport %+v, want metadata reread every second at most", tr)
	}
}
