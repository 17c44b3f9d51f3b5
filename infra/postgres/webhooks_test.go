package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/webhooks"
)

// webhookWorld is a webhook store with one organizer's show and an
// endpoint of that organizer, one of another and one of an admin.
type webhookWorld struct {
	s                *postgres.Webhooks
	show             uuid.UUID
	mine, other, all webhooks.Endpoint
	t0               time.Time
}

func newWebhookWorld(t *testing.T) webhookWorld {
	t.Helper()
	ctx := context.Background()
	w := webhookWorld{s: postgres.NewWebhooks(pgtest.NewPool(t)), show: uuid.New(), t0: time.Now().UTC().Truncate(time.Millisecond)}
	org := uuid.New()
	mk := func(owner uuid.UUID, all bool) webhooks.Endpoint {
		e := webhooks.Endpoint{ID: uuid.New(), OwnerID: owner, AllShows: all, URL: "http://x.test/", EventTypes: []string{"order.confirmed"},
			Secret: "whsec_x", Enabled: true, CreatedAt: w.t0.Add(-time.Hour)}
		if err := w.s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	w.mine, w.other, w.all = mk(org, false), mk(uuid.New(), false), mk(uuid.New(), true)
	created := webhooks.Item{Position: domain.PositionAt(1), EventID: uuid.New(), Type: "show.created", ShowID: w.show, OrganizerID: org, RecordedAt: w.t0}
	if _, err := w.s.Fanout(ctx, domain.PositionAt(1), []webhooks.Item{created}, w.t0, w.t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w webhookWorld) confirmed(pos uint64) webhooks.Item {
	return webhooks.Item{Position: domain.PositionAt(pos), EventID: uuid.New(), Type: "order.confirmed", ShowID: w.show,
		RecordedAt: w.t0, Payload: []byte(`{"id":"x"}`)}
}

func TestWebhooks_Fanout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWebhookWorld(t)
	item := w.confirmed(2)
	n, err := w.s.Fanout(ctx, domain.PositionAt(2), []webhooks.Item{item}, w.t0, w.t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("queued %d, %v; want 2 (the organizer's and the admin's endpoints)", n, err)
	}
	// The same batch again, as after a crash before the follower saw the
	// commit, or from a second process: nothing more.
	if n, err := w.s.Fanout(ctx, domain.PositionAt(2), []webhooks.Item{item}, w.t0, w.t0.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("replayed batch queued %d, %v", n, err)
	}
	if cp, err := w.s.FanoutCheckpoint(ctx); err != nil || cp != domain.PositionAt(2) {
		t.Fatalf("checkpoint %v, %v", cp, err)
	}
	for e, want := range map[uuid.UUID]int{w.mine.ID: 1, w.other.ID: 0, w.all.ID: 1} {
		if got, err := w.s.Deliveries(ctx, e, 0, 10); err != nil || len(got) != want {
			t.Errorf("endpoint %s: %d deliveries, %v; want %d", e, len(got), err, want)
		}
	}
	// An endpoint created after an event does not get it.
	late := webhooks.Item{Position: domain.PositionAt(3), EventID: uuid.New(), Type: "order.confirmed", ShowID: w.show,
		RecordedAt: w.t0.Add(-2 * time.Hour), Payload: []byte(`{}`)}
	if n, err := w.s.Fanout(ctx, domain.PositionAt(3), []webhooks.Item{late}, w.t0, w.t0.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("an event older than the endpoints queued %d, %v", n, err)
	}
}

// TestWebhooks_FanoutEncodesSubscribedOnly: an item's payload is built
// only when an enabled endpoint subscribes to its type, and then queued.
func TestWebhooks_FanoutEncodesSubscribedOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWebhookWorld(t) // endpoints of order.confirmed only
	encoded := map[string]int{}
	lazy := func(pos uint64, typ string) webhooks.Item {
		return webhooks.Item{Position: domain.PositionAt(pos), EventID: uuid.New(), Type: typ, RecordedAt: w.t0,
			Encode: func() ([]byte, uuid.UUID, bool) {
				encoded[typ]++
				return []byte(`{"id":"x"}`), w.show, true
			}}
	}
	items := []webhooks.Item{lazy(2, "order.placed"), lazy(3, "order.confirmed")}
	n, err := w.s.Fanout(ctx, domain.PositionAt(3), items, w.t0, w.t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("queued %d, %v; want 2 (the confirmed order to the organizer's and the admin's endpoints)", n, err)
	}
	if encoded["order.placed"] != 0 || encoded["order.confirmed"] != 1 {
		t.Errorf("encoded %v; want order.confirmed once and order.placed never", encoded)
	}
	// Once an endpoint subscribes to order.placed, it is built and queued.
	e := webhooks.Endpoint{ID: uuid.New(), OwnerID: uuid.New(), AllShows: true, URL: "http://x.test/", EventTypes: []string{"order.placed"},
		Secret: "whsec_x", Enabled: true, CreatedAt: w.t0.Add(-time.Hour)}
	if err := w.s.CreateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	if n, err := w.s.Fanout(ctx, domain.PositionAt(4), []webhooks.Item{lazy(4, "order.placed")}, w.t0, w.t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("queued %d, %v; want 1", n, err)
	}
	if encoded["order.placed"] != 1 {
		t.Errorf("order.placed encoded %d times, want 1", encoded["order.placed"])
	}
}

func TestWebhooks_FanoutConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWebhookWorld(t)
	items := []webhooks.Item{w.confirmed(2), w.confirmed(3), w.confirmed(4)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			n, err := w.s.Fanout(ctx, domain.PositionAt(4), items, w.t0, w.t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 6 {
		t.Fatalf("four fanouts of one batch queued %d, want 6 once", total)
	}
}

func TestWebhooks_ClaimAndRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWebhookWorld(t)
	var items []webhooks.Item
	for i := range 5 {
		items = append(items, w.confirmed(uint64(2+i)))
	}
	if _, err := w.s.Fanout(ctx, domain.PositionAt(6), items, w.t0, w.t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	now := w.t0.Add(time.Second)
	// At most 2 per endpoint; the admin's endpoint skipped.
	c, err := w.s.Claim(ctx, now, 10, 2, []uuid.UUID{w.all.ID}, time.Minute)
	if err != nil || len(c) != 2 || c[0].Endpoint.ID != w.mine.ID || c[0].Endpoint.Secret != "whsec_x" {
		t.Fatalf("claimed %d, %v", len(c), err)
	}
	// Leased: a second claim does not take them again.
	again, err := w.s.Claim(ctx, now, 10, 5, []uuid.UUID{w.all.ID}, time.Minute)
	if err != nil || len(again) != 3 {
		t.Fatalf("second claim: %d, %v; want the other 3", len(again), err)
	}
	for _, x := range again {
		if x.Delivery.ID == c[0].Delivery.ID || x.Delivery.ID == c[1].Delivery.ID {
			t.Fatal("a leased delivery was claimed twice")
		}
	}
	// One succeeds, one fails for good: the endpoint is disabled.
	a := webhooks.Attempt{DeliveryID: c[0].Delivery.ID, Attempt: 1, At: now, Status: 200, Latency: 12 * time.Millisecond}
	if err := w.s.Record(ctx, c[0], a, true, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	b := webhooks.Attempt{DeliveryID: c[1].Delivery.ID, Attempt: 1, At: now, Status: 500, Error: "the receiver answered 500"}
	if err := w.s.Record(ctx, c[1], b, false, time.Time{}, "gave up"); err != nil {
		t.Fatal(err)
	}
	d, attempts, err := w.s.Delivery(ctx, c[0].Delivery.ID, 10)
	if err != nil || d.State != webhooks.StateSucceeded || d.LastLatency != 12*time.Millisecond || len(attempts) != 1 || d.DeliveredAt.IsZero() {
		t.Fatalf("succeeded delivery: %+v %+v %v", d, attempts, err)
	}
	e, err := w.s.Endpoint(ctx, w.mine.ID)
	if err != nil || e.Enabled || e.DisabledReason != "gave up" {
		t.Fatalf("endpoint after a failed delivery: %+v %v", e, err)
	}
	// A disabled endpoint's deliveries are not claimed, even once due.
	if c, err := w.s.Claim(ctx, now.Add(time.Hour), 10, 5, []uuid.UUID{w.all.ID}, time.Minute); err != nil || len(c) != 0 {
		t.Fatalf("claimed %d of a disabled endpoint, %v", len(c), err)
	}
	// A lost claim records the attempt only.
	if err := w.s.Redeliver(ctx, again[0].Delivery.ID, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	lost := webhooks.Attempt{DeliveryID: again[0].Delivery.ID, Attempt: 1, At: now, Status: 200}
	if err := w.s.Record(ctx, again[0], lost, true, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := w.s.Delivery(ctx, again[0].Delivery.ID, 10); d.State != webhooks.StatePending {
		t.Fatalf("a lost claim changed the delivery: %+v", d)
	}
}
