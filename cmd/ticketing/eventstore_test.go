package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/esdb"
	"github.com/ticketing/ticketing/infra/esdb/esdbtest"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// openStoreFrom opens the event store of the configuration getenv holds.
func openStoreFrom(ctx context.Context, pool *pgxpool.Pool, getenv func(string) string) (eventStore, error) {
	c, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, pool, c.Store, quiet)
}

func TestOpenStore(t *testing.T) {
	t.Parallel()
	t.Run("postgres by default", func(t *testing.T) {
		t.Parallel()
		s, err := openStoreFrom(t.Context(), pgtest.NewPool(t), env{}.get)
		if err != nil {
			t.Fatalf("openStore: %v", err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Errorf("openStore = %T, want *postgres.Store", s)
		}
	})
	t.Run("esdb at ESDB_URL", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		s, err := openStoreFrom(t.Context(), nil, env{"EVENTSTORE": "esdb", "ESDB_URL": srv.URL()}.get)
		if err != nil {
			t.Fatalf("openStore: %v", err)
		}
		if _, ok := s.(*esdb.Store); !ok {
			t.Fatalf("openStore = %T, want *esdb.Store", s)
		}
		res, err := s.Append(t.Context(), "show-1", domain.NoStream, []domain.EventData{{ID: uuid.New(), Type: "T", Data: []byte(`{}`)}})
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		head, err := s.Head(t.Context())
		if err != nil {
			t.Fatalf("Head: %v", err)
		}
		if head != res.Position || res.Version != 1 {
			t.Errorf("Head = %v after an append at %+v, want that position", head, res)
		}
	})
	t.Run("esdb with ESDB_NAMESPACE", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		open := func(ns string) eventStore {
			s, err := openStoreFrom(t.Context(), nil, env{"EVENTSTORE": "esdb", "ESDB_URL": srv.URL(), "ESDB_NAMESPACE": ns}.get)
			if err != nil {
				t.Fatalf("openStore: %v", err)
			}
			return s
		}
		a, b := open("a-"), open("b-")
		if _, err := a.Append(t.Context(), "show-1", domain.NoStream, []domain.EventData{{ID: uuid.New(), Type: "T", Data: []byte(`{}`)}}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if recs, err := b.ReadAll(t.Context(), domain.Start, 10); err != nil || len(recs) != 0 {
			t.Errorf("ReadAll of another namespace = %d events, %v; want none", len(recs), err)
		}
	})
	for _, tc := range []struct {
		name string
		env  env
		want string
	}{
		{"esdb without ESDB_URL", env{"EVENTSTORE": "esdb"}, "ESDB_URL"},
		{"esdb that does not answer", env{"EVENTSTORE": "esdb", "ESDB_URL": "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1"}, "ESDB_URL"},
		{"unknown store", env{"EVENTSTORE": "mongo"}, "EVENTSTORE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := openStoreFrom(t.Context(), nil, tc.env.get)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("openStore = %v, %v; want an error about %s", s, err, tc.want)
			}
		})
	}
}

// The whole engine on EventStoreDB (the in-process test server): HTTP write
// → EventStoreDB → projectors, in-process or through the relay and Kafka →
// read API with X-Min-Position; and a replay from EventStoreDB.
func TestServe_OnEventStoreDB(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	onESDB := func(c *Config) { c.Store = storeConfig{Kind: "esdb", URL: srv.URL()} }
	t.Run("in-process projectors and a replay", func(t *testing.T) {
		db := pgtest.SchemaURL(t)
		s := startServer(t, db, time.Minute, onESDB)
		if _, ok := s.e.store.(*esdb.Store); !ok {
			t.Fatalf("engine store = %T, want *esdb.Store", s.e.store)
		}
		org, buyer := s.token("organizer"), s.token("buyer")
		show, _ := s.publishedShow(org, 10)
		held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 3}}}))
		paid := s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
		if o := s.read("/v1/orders/"+held.str("id"), buyer, paid.str("position")); o.str("status") != "confirmed" {
			t.Fatalf("order on EventStoreDB: %s", o.raw)
		}
		if f := section(t, s.read("/v1/shows/"+show, "", paid.str("position")), "floor"); num(f["sold"]) != 3 || num(f["available"]) != 7 {
			t.Fatalf("floor on EventStoreDB: %v", f)
		}
		r, err := report(context.Background(), s.e.store, s.e.queries)
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		if pos, _ := domain.ParsePosition(paid.str("position")); r.Head != pos {
			t.Errorf("head = %v, want the last append's %v", r.Head, pos)
		}
		settle(t, s.e)
		var out strings.Builder
		reports, err := replay(context.Background(), replayPool(t, db), replayOptions{All: true, ExpectIdentical: true, Batch: 2, Store: storeConfig{Kind: "esdb", URL: srv.URL()}}, &out, quiet)
		if err != nil {
			printReplay(&out, reports)
			t.Fatalf("replay from EventStoreDB: %v\n%s", err, out.String())
		}
		for _, r := range reports {
			if !r.Swap.Swapped {
				t.Errorf("%s not swapped", r.Projection)
			}
		}
	})
	t.Run("through the relay and Kafka", func(t *testing.T) {
		testThroughKafka(t, func(c *Config) { withKafka(t, 4)(c); onESDB(c) })
	})
}
