package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// startRoles runs an engine process of the command name with the roles r
// on the database at dbURL, as startServer does; stop stops it, as a
// killed process stops: at once, dropping the requests in flight.
func startRoles(t *testing.T, name, dbURL string, r roles, options ...func(*Config)) *server {
	t.Helper()
	return startRolesTTL(t, name, dbURL, time.Minute, r, options...)
}

// startRolesTTL is startRoles with holds that last holdTTL.
func startRolesTTL(t *testing.T, name, dbURL string, holdTTL time.Duration, r roles, options ...func(*Config)) *server {
	t.Helper()
	c, err := LoadConfig(testEnv(dbURL, holdTTL).get)
	if err != nil {
		t.Fatal(err)
	}
	c.ShutdownTimeout = 50 * time.Millisecond
	for _, o := range options {
		o(&c)
	}
	m := NewMain(name, c, r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, url: m.URL(), opsURL: m.OpsURL(), db: dbURL, e: m.engine}
	s.stop = func() {
		if err := m.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stop the %s process: %v", name, err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

// The relay process killed between the store's commit and its publication,
// on the real broker: the writes the API answered while it was dead (and
// those it was publishing when it died) reach the read models once the next
// relay runs, each once in effect, and the log passes the audit.
func TestKafkaFaults_RelayKilledBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	kc := withKafka(t, 4)
	db := pgtest.SchemaURL(t)
	w := startRoles(t, "serve", db, roles{Write: true, Read: true, Expirer: true, Projectors: true}, kc)
	relay := startRoles(t, "relay", db, roles{Relay: true}, kc)
	org := w.token("organizer")
	show, pos := w.publishedShow(org, 1000)
	w.read("/v1/shows/"+show, "", pos)

	checkpoint := func() domain.Position {
		t.Helper()
		p, err := postgres.NewRelayCheckpoints(w.e.pool).Load(context.Background(), w.e.kafka.Topic)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var orders []string
	var last string
	sold, unpublished := 0, false
	for i := range 36 {
		switch i {
		case 12:
			relay.stop() // between two writes, or in the middle of a publication
		case 24:
			head, err := w.e.store.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			unpublished = checkpoint().Less(head)
			relay = startRoles(t, "relay", db, roles{Relay: true}, kc)
		}
		buyer := w.token("buyer")
		qty := 1 + i%3
		held := w.must(201, w.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": qty}}}))
		paid := w.must(200, w.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
		orders, last, sold = append(orders, held.str("id")), paid.str("position"), sold+qty
	}
	if !unpublished {
		t.Errorf("the relay's checkpoint %v was at the head when it restarted: nothing was left unpublished", checkpoint())
	}
	admin := w.token("admin")
	for _, id := range orders {
		if o := w.read("/v1/orders/"+id, admin, last); o.str("status") != "confirmed" {
			t.Errorf("order %s: %s", id, o.raw)
		}
	}
	if f := section(t, w.read("/v1/shows/"+show, "", last), "floor"); num(f["sold"]) != sold || num(f["available"]) != 1000-sold {
		t.Errorf("floor = %v, want %d sold", f, sold)
	}
	w.audit()
}

// Every projector killed between its read-model write and its offset
// commit, on the real broker: the projector process started next gets the
// same messages again from Kafka and applies none of them twice. The killed
// projectors are the engine's own consumers (kafka.Consumer, fed into the
// engine's runner, in the projections' groups) with the kill wrapped around
// the runner.
func TestKafkaFaults_ProjectorKilledBetweenWriteAndCommit(t *testing.T) {
	t.Parallel()
	kc := withKafka(t, 4)
	db := pgtest.SchemaURL(t)
	w := startRoles(t, "serve", db, roles{Write: true, Read: true, Expirer: true, Relay: true}, kc)
	org := w.token("organizer")
	show, _ := w.publishedShow(org, 1000)
	sold := 0
	buy := func(n int) (orders []string, last string) {
		for i := range n {
			buyer := w.token("buyer")
			qty := 1 + i%3
			held := w.must(201, w.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": qty}}}))
			paid := w.must(200, w.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
			orders, last, sold = append(orders, held.str("id")), paid.str("position"), sold+qty
		}
		return orders, last
	}
	orders, _ := buy(8)
	head, err := w.e.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for w.e.relay.Position().Less(head) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cfg := *w.e.kafka
	var wg sync.WaitGroup
	for _, p := range w.e.runner.Projectors {
		wg.Go(func() {
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			var fired atomic.Bool
			c := &kafka.Consumer{Brokers: cfg.Brokers, Topic: cfg.Topic, Projection: p.Name(),
				Deliverer: kafkatest.KilledAfterApply{Deliverer: w.e.runner, Kill: kill, Fired: &fired}}
			if err := c.Run(ctx); err != nil || !fired.Load() {
				t.Errorf("%s: Run = %v, killed %v", p.Name(), err, fired.Load())
			}
		})
	}
	wg.Wait()
	for _, p := range w.e.runner.Projectors {
		for i, off := range kafkatest.Committed(t, cfg, kafka.GroupID(p.Name())) {
			if off != -1 {
				t.Fatalf("%s: partition %d committed %d; the kill came before any commit", p.Name(), i, off)
			}
		}
	}

	startRoles(t, "project", db, roles{Projectors: true}, kc)
	more, last := buy(6)
	admin := w.token("admin")
	for _, id := range append(orders, more...) {
		if o := w.read("/v1/orders/"+id, admin, last); o.str("status") != "confirmed" {
			t.Errorf("order %s: %s", id, o.raw)
		}
	}
	if f := section(t, w.read("/v1/shows/"+show, "", last), "floor"); num(f["sold"]) != sold || num(f["available"]) != 1000-sold {
		t.Errorf("floor = %v, want %d sold: an event applied twice or missed", f, sold)
	}
	if s := w.read("/v1/shows/"+show+"/sales", org, last); num(s.body["units_sold"]) != sold {
		t.Errorf("sales = %s, want %d sold", s.raw, sold)
	}
	w.audit()
}
