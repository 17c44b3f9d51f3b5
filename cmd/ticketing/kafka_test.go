package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// withKafka routes the engine's events through the real Kafka broker of the
// run (KAFKA_BROKERS; make test starts one), on a topic of its own.
func withKafka(t testing.TB, partitions int) func(*Config) {
	t.Helper()
	addrs := kafkatest.Brokers(t)
	topic := "ticketing.e2e." + uuid.NewString()[:8]
	// KAFKA_PROJECTION_TXS of the test process, if set: how make
	// bench-latency compares one shared transaction with one per projection.
	txs, _ := strconv.Atoi(os.Getenv("KAFKA_PROJECTION_TXS"))
	// And its KAFKA_RELAY_LINGER: how make bench-latency compares waits.
	var linger Config
	if v := os.Getenv("KAFKA_RELAY_LINGER"); v != "" {
		if err := setRelayLinger(&linger, v); err != nil {
			t.Fatalf("KAFKA_RELAY_LINGER: %v", err)
		}
	}
	return func(c *Config) {
		c.Kafka = &kafka.Config{Brokers: addrs, Topic: topic, Partitions: partitions, ProjectionTxs: txs}
		if linger.Kafka != nil {
			c.Kafka.RelayLinger = linger.Kafka.RelayLinger
		}
	}
}

// End to end through Kafka: HTTP write → event store → relay → Kafka →
// projector → read API, with read-your-writes on the way.
func TestServe_ThroughKafka(t *testing.T) {
	t.Parallel()
	testThroughKafka(t, withKafka(t, 4))
}

func testThroughKafka(t *testing.T, kafkaConfig func(*Config)) {
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, kafkaConfig)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, pos := s.publishedShow(org, 10)
	v := s.read("/v1/shows/"+show, "", pos)
	if v.str("status") != "on_sale" {
		t.Fatalf("show through Kafka: %s", v.raw)
	}
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 3}}}))
	paid := s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	o := s.read("/v1/orders/"+held.str("id"), buyer, paid.str("position"))
	if o.str("status") != "confirmed" {
		t.Fatalf("order through Kafka: %s", o.raw)
	}
	if f := section(t, s.read("/v1/shows/"+show, "", paid.str("position")), "floor"); num(f["sold"]) != 3 || num(f["available"]) != 7 {
		t.Fatalf("floor through Kafka: %v", f)
	}
	// The projections were fed by Kafka, not by the in-process feed.
	var inProcess, partitions int
	ctx := context.Background()
	if err := s.e.pool.QueryRow(ctx, `select (select count(*) from projection_checkpoints), (select count(*) from projection_partitions)`).Scan(&inProcess, &partitions); err != nil {
		t.Fatal(err)
	}
	if inProcess != 0 || partitions == 0 {
		t.Fatalf("in-process checkpoints %d, Kafka partitions %d", inProcess, partitions)
	}
	r, err := report(ctx, s.e.store, s.e.queries)
	if err != nil {
		t.Fatal(err)
	}
	if r.Relay == nil || r.Projections[0].Mode != "kafka" {
		t.Fatalf("report: %+v", r)
	}
	s.audit()
}
