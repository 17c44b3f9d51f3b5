package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// busyHistory makes every kind of event in several shows and orders.
func busyHistory(w *world) {
	org, buyer := uuid.New(), uuid.New()
	a := w.publishedShow(org, "A", ga("Floor", 1000, 50), seated("Box", 3000, 3, 3))
	b := w.createShow(org, "B", seated("Stalls", 2000, 4))
	title := "B, renamed"
	w.edit(b, domain.EditShow{Title: &title, Prices: map[string]int64{"Stalls": 2200}})
	w.publish(b)
	for i := range 4 {
		o := w.hold(a, buyer, []domain.ItemRequest{{Section: "Floor", Quantity: i + 1}}, []domain.SeatRef{{Section: "Box", Row: string(rune('A' + i/3)), Seat: i%3 + 1}})
		switch i % 4 {
		case 0:
			tickets := w.pay(o)
			w.checkIn(o, tickets[0].ID, t0.Add(24*time.Hour))
			w.transfer(o, tickets[1].ID, buyer, uuid.New()) // issue 14: door
		case 1:
			w.cancel(o)
		case 2:
			w.expire(a, o)
		}
	}
	tomb, _ := w.holdOnly(b, buyer, nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 1}})
	w.expire(b, tomb)
	w.pay(w.hold(b, uuid.New(), nil, []domain.SeatRef{{Section: "Stalls", Row: "A", Seat: 2}}))
	w.cancelShow(b)
}

func TestRunner_Run(t *testing.T) {
	t.Parallel()

	t.Run("replaying the log into empty read models gives the live read models", func(t *testing.T) {
		t.Parallel()
		live := newWorld(t).start()
		busyHistory(live)
		live.sync()
		busyHistory(live)
		live.sync()

		replay := newWorldOn(t, live.store, live.registry)
		replay.runner.MaxBatch = 3
		replay.last = live.last
		replay.start().sync()
		got, want := dump(t, replay), dump(t, live)
		for _, table := range readModelTables {
			if len(want[table]) == 0 {
				t.Errorf("%s: no rows: the history does not cover it", table)
			}
			if !reflect.DeepEqual(got[table], want[table]) {
				t.Errorf("%s: replay differs\ngot  %v\nwant %v", table, got[table], want[table])
			}
		}
	})

	t.Run("two processes running the same projections apply each event once", func(t *testing.T) {
		t.Parallel()
		// Batches of 3 and of 5 events straddle each other's checkpoints.
		live := newWorld(t)
		busyHistory(live)
		busyHistory(live)
		live.runner.MaxBatch = 3
		second := &projections.Runner{Feed: live.store, Store: live.models, Registry: live.registry, Projectors: projections.All(), MaxBatch: 5}
		c, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- second.Run(c) }()
		t.Cleanup(func() { cancel(); <-done })
		live.start()
		busyHistory(live)
		live.sync()

		replay := newWorldOn(t, live.store, live.registry)
		replay.last = live.last
		replay.start().sync()
		got, want := dump(t, live), dump(t, replay)
		for _, table := range readModelTables {
			if !reflect.DeepEqual(got[table], want[table]) {
				t.Errorf("%s: two runners differ from one\ngot  %v\nwant %v", table, got[table], want[table])
			}
		}
	})

	t.Run("the same over the PostgreSQL event store", func(t *testing.T) {
		t.Parallel()
		store, err := postgres.NewStore(ctx, pgtest.NewPool(t))
		if err != nil {
			t.Fatal(err)
		}
		registry := domain.NewRegistry()
		domain.RegisterEvents(registry)
		live := newWorldOn(t, store, registry).start()
		busyHistory(live)
		live.sync()

		replay := newWorldOn(t, store, registry)
		replay.last = live.last
		replay.start().sync()
		got, want := dump(t, replay), dump(t, live)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("replay differs\ngot  %v\nwant %v", got, want)
		}
	})

	t.Run("a failing event stalls its projection, which retries from its checkpoint and skips nothing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		show := w.publishedShow(uuid.New(), "Flaky", ga("Floor", 1000, 10))
		order := w.hold(show, uuid.New(), []domain.ItemRequest{{Section: "Floor", Quantity: 3}}, nil)
		recs, err := w.store.ReadStream(ctx, domain.OrderStream(order), 1)
		if err != nil {
			t.Fatal(err)
		}
		bad := recs[0] // OrderPlaced, after ShowCreated, ShowPublished and SeatsHeld in the same batch
		flaky := &failing{Projector: projections.Sales{}, event: bad.ID}
		flaky.on.Store(true)
		w.runner.Projectors = []projections.Projector{projections.Shows{}, projections.Orders{}, flaky, projections.Holds{}, projections.Analytics{},
			projections.Refunds{}, projections.Waitlist{}}
		w.start()

		eventually(t, "a stall with retries", func() bool {
			st := status(w.runner, projections.NameSales)
			return st.State == projections.StateStalled && st.Failures >= 2
		})
		st := status(w.runner, projections.NameSales)
		if !strings.Contains(st.LastError, errFlaky.Error()) || !strings.Contains(st.LastError, bad.StreamID) {
			t.Errorf("last error: got %q, want the error and the stream", st.LastError)
		}
		if st.Position != domain.Start {
			t.Errorf("position: got %v, want the start", st.Position)
		}
		if cp, _ := w.models.Checkpoint(ctx, projections.NameSales); cp != domain.Start {
			t.Errorf("checkpoint: got %v, want the start", cp)
		}
		if _, err := w.q.Sales(ctx, show); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("sales before the failing event: got %v, want nothing applied", err)
		}
		for _, want := range []string{"projection stalled", "stream=" + bad.StreamID, "version=1", errFlaky.Error()} {
			if !strings.Contains(w.logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, w.logs.String())
			}
		}
		// The other projections go on past the stalled one's event (on a
		// loaded machine they may still be on their way there).
		eventually(t, "the other projections to be live at the end of the log", func() bool {
			st := status(w.runner, projections.NameShows)
			return st.State == projections.StateLive && st.Position == w.last
		})
		if ok, _ := w.q.WaitForPosition(ctx, w.last, 0); ok {
			t.Error("position reached while a projection is behind")
		}

		flaky.on.Store(false)
		w.sync()
		got, err := w.q.Sales(ctx, show)
		if err != nil {
			t.Fatal(err)
		}
		if got.Held != 3 {
			t.Errorf("held: got %d, want 3 (each event exactly once)", got.Held)
		}
		if st := status(w.runner, projections.NameSales); st.State != projections.StateLive || st.Failures != 0 || st.Position != w.last {
			t.Errorf("after recovery: got %+v, want live at %v", st, w.last)
		}
	})

	t.Run("an undecodable event parks its stream, which is never skipped", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		first := w.createShow(uuid.New(), "Before", ga("Floor", 1000, 10))
		w.sync()
		data, _ := json.Marshal(map[string]any{"show_id": 42})
		if _, err := w.store.Append(ctx, "show-broken", domain.NoStream, []domain.EventData{{ID: uuid.New(), Type: "show.created", Data: data}}); err != nil {
			t.Fatal(err)
		}
		after := w.createShow(uuid.New(), "After", ga("Floor", 1000, 10))
		w.sync()
		if _, err := w.q.Show(ctx, first); err != nil {
			t.Errorf("show before the bad event: %v", err)
		}
		if _, err := w.q.Show(ctx, after); err != nil {
			t.Errorf("show after the bad event: got %v, want it applied", err)
		}
		st := status(w.runner, projections.NameShows)
		if st.State != projections.StateLive || len(st.Parked) != 1 || st.Parked[0].Stream != "show-broken" || !strings.Contains(st.Parked[0].Error, "decode") {
			t.Errorf("status: got %+v, want live with show-broken parked on its decoding", st)
		}
	})

	t.Run("status before and after starting", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		for _, st := range w.runner.Status() {
			if st.State != projections.StateStarting {
				t.Errorf("%s: got %q, want %q", st.Name, st.State, projections.StateStarting)
			}
		}
		w.createShow(uuid.New(), "Status", ga("Floor", 1000, 10))
		w.start().sync()
		// The checkpoint commits before the runner records it in memory.
		eventually(t, "every status live at the last position", func() bool {
			for _, st := range w.runner.Status() {
				if st.State != projections.StateLive || st.Position != w.last {
					return false
				}
			}
			return true
		})
		var names []string
		for _, st := range w.runner.Status() {
			names = append(names, st.Name)
			if st.State != projections.StateLive || st.Position != w.last {
				t.Errorf("%s: got %+v, want live at %v", st.Name, st, w.last)
			}
		}
		if want := []string{"shows", "orders", "sales", "holds", "analytics", "refunds", "waitlist"}; !reflect.DeepEqual(names, want) {
			t.Errorf("names: got %v, want %v", names, want)
		}
		b, err := json.Marshal(status(w.runner, projections.NameShows))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), `{"name":"shows","position":"`+w.last.String()+`","state":"live","failures":0}`; got != want {
			t.Errorf("json: got %s, want %s", got, want)
		}
	})

	t.Run("misconfigured", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		for name, r := range map[string]*projections.Runner{
			"no feed":      {Store: w.models, Registry: w.registry},
			"no store":     {Feed: w.store, Registry: w.registry},
			"no registry":  {Feed: w.store, Store: w.models},
			"a name twice": {Feed: w.store, Store: w.models, Registry: w.registry, Projectors: []projections.Projector{projections.Shows{}, projections.Shows{}}},
		} {
			if err := r.Run(context.Background()); err == nil {
				t.Errorf("%s: got nil, want an error", name)
			}
		}
	})
}

func status(r *projections.Runner, name string) projections.ProjectionStatus {
	for _, s := range r.Status() {
		if s.Name == name {
			return s
		}
	}
	return projections.ProjectionStatus{}
}

var errFlaky = errors.New("flaky projector")

// failing is a real projector that fails on one event while on is set.
type failing struct {
	projections.Projector
	event uuid.UUID
	on    atomic.Bool
}

func (f *failing) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, e domain.Event) error {
	if f.on.Load() && rec.ID == f.event {
		return errFlaky
	}
	return f.Projector.Apply(ctx, db, rec, e)
}
