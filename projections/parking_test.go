package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/projections/projectionstest"
)

// poisonShow appends, bypassing the domain's validation, a show whose title
// PostgreSQL text cannot hold (a NUL), and publishes it: two events of one
// stream, the first a poison event for the shows projection.
func (w *world) poisonShow(organizer uuid.UUID) uuid.UUID {
	w.t.Helper()
	id := uuid.New()
	w.save(domain.ShowStream(id), domain.NoStream, []domain.Event{
		domain.ShowCreated{ShowID: id, OrganizerID: organizer, Title: "Nul\x00Title", Venue: "Paradiso",
			StartsAt: t0.Add(30 * 24 * time.Hour), Sections: []domain.SectionSpec{ga("Floor", 1000, 10)}, CreatedAt: t0},
		domain.ShowPublished{ShowID: id, At: t0.Add(time.Minute)},
	})
	return id
}

func parked(t *testing.T, w *world, name string) []projections.ParkedStream {
	t.Helper()
	all, err := w.q.ParkedStreams(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestRunner_Park(t *testing.T) {
	t.Parallel()

	t.Run("a poison event parks its stream; the batch's other streams are applied", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		org := uuid.New()
		// One batch: a good show, the poison one, another good show.
		before := w.publishedShow(org, "Before", ga("Floor", 1000, 10))
		bad := w.poisonShow(org)
		after := w.publishedShow(org, "After", ga("Floor", 1000, 10))
		w.start().sync()

		for _, id := range []uuid.UUID{before, after} {
			if s, err := w.q.Show(ctx, id); err != nil || s.Status != "on_sale" {
				t.Errorf("show of another stream: got %+v, %v; want it on sale", s, err)
			}
		}
		if _, err := w.q.Show(ctx, bad); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("the poisoned show: got %v, want not applied", err)
		}
		got := parked(t, w, projections.NameShows)
		if len(got) != 1 {
			t.Fatalf("parked: got %+v, want the poisoned stream", got)
		}
		p := got[0]
		if p.Stream != domain.ShowStream(bad) || p.Version != 1 || p.Type != "show.created" || p.Waiting != 2 || !strings.Contains(p.Error, "0x00") {
			t.Errorf("parked: got %+v, want %s at version 1, show.created, 2 waiting, the NUL error", p, domain.ShowStream(bad))
		}
		// The other projections store no title: they applied it.
		for _, name := range []string{projections.NameOrders, projections.NameSales, projections.NameHolds, projections.NameAnalytics} {
			if got := parked(t, w, name); len(got) != 0 {
				t.Errorf("%s parked %+v", name, got)
			}
		}
		st := status(w.runner, projections.NameShows)
		if st.State != projections.StateLive || st.Position != w.last || len(st.Parked) != 1 || st.Parked[0].Stream != domain.ShowStream(bad) {
			t.Errorf("status: got %+v, want live at %v with the stream parked", st, w.last)
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"parked":[{"projection":"shows","stream":"`+domain.ShowStream(bad)+`","version":1,"type":"show.created"`) ||
			!strings.Contains(string(b), `"position":"`+p.Position.String()+`"`) {
			t.Errorf("status json: %s", b)
		}
		for _, want := range []string{"projection parked a stream", "stream=" + domain.ShowStream(bad), "version=1"} {
			if !strings.Contains(w.logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, w.logs.String())
			}
		}

		// Later events of the stream wait behind it, in order.
		title := "Renamed"
		w.edit(bad, domain.EditShow{Title: &title})
		w.publishedShow(org, "Later", ga("Floor", 1000, 10))
		w.sync()
		if got := parked(t, w, projections.NameShows); len(got) != 1 || got[0].Waiting != 3 {
			t.Errorf("parked after one more event: got %+v, want 3 waiting", got)
		}
		if _, err := w.q.Show(ctx, bad); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("an event applied out of order: got %v", err)
		}
	})

	t.Run("several poison events in one batch: each parks its stream, the rest is applied", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		org := uuid.New()
		var good, bad []uuid.UUID
		for i := range 12 {
			if i%4 == 1 {
				bad = append(bad, w.poisonShow(org))
				continue
			}
			good = append(good, w.publishedShow(org, fmt.Sprintf("Good %d", i), ga("Floor", 1000, 10)))
		}
		w.start().sync()
		for _, id := range good {
			if s, err := w.q.Show(ctx, id); err != nil || s.Status != "on_sale" {
				t.Errorf("show of another stream: got %+v, %v; want it on sale", s, err)
			}
		}
		got := parked(t, w, projections.NameShows)
		streams := map[string]bool{}
		for _, p := range got {
			streams[p.Stream] = p.Version == 1 && p.Waiting == 2
		}
		for _, id := range bad {
			if !streams[domain.ShowStream(id)] {
				t.Errorf("%s: not parked at version 1 with 2 waiting: %+v", domain.ShowStream(id), got)
			}
		}
		if len(got) != len(bad) {
			t.Errorf("parked %d streams, want %d", len(got), len(bad))
		}
	})

	t.Run("a retry with the same projector keeps the stream parked", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		bad := w.poisonShow(uuid.New())
		w.start().sync()
		res, err := projections.Retry(ctx, w.models, w.registry, projections.Shows{}, domain.ShowStream(bad))
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 0 || res.Parked == nil || res.Parked.Version != 1 || !strings.Contains(res.Parked.Error, "0x00") {
			t.Errorf("retry: got %+v, want nothing applied and parked at version 1", res)
		}
		if got := parked(t, w, projections.NameShows); len(got) != 1 || got[0].Waiting != 2 {
			t.Errorf("parked: got %+v, want the stream with 2 waiting", got)
		}
	})

	t.Run("a retry with a fixed projector applies the waiting events in order and resumes the stream", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		org := uuid.New()
		bad := w.poisonShow(org)
		w.start().sync()
		title := "Renamed"
		w.edit(bad, domain.EditShow{Title: &title})
		w.sync()

		res, err := projections.Retry(ctx, w.models, w.registry, projectionstest.FixedShows{}, domain.ShowStream(bad))
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != 3 || res.Parked != nil {
			t.Errorf("retry: got %+v, want 3 applied and nothing parked", res)
		}
		s, err := w.q.Show(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		if s.Title != "Renamed" || s.Status != "on_sale" {
			t.Errorf("show: got %q %s, want Renamed on sale (every event, in order)", s.Title, s.Status)
		}
		if got := parked(t, w, projections.NameShows); len(got) != 0 {
			t.Errorf("parked after the retry: %+v", got)
		}
		// The stream's next events are applied as they come.
		w.cancelShow(bad)
		w.sync()
		if s, err := w.q.Show(ctx, bad); err != nil || s.Status != "cancelled" {
			t.Errorf("after the retry: got %+v, %v; want the next event applied", s, err)
		}
		eventually(t, "the status without the parked stream", func() bool { return len(status(w.runner, projections.NameShows).Parked) == 0 })
		if res, err := projections.Retry(ctx, w.models, w.registry, projectionstest.FixedShows{}, domain.ShowStream(bad)); err != nil || res.Applied != 0 || res.Parked != nil {
			t.Errorf("retry of a stream not parked: got %+v, %v; want nothing", res, err)
		}
	})

	t.Run("a retry applies many waiting events, in transactions of 500", func(t *testing.T) {
		t.Parallel()
		for _, waiting := range []int{500, 1100} { // exactly one transaction's worth, and more
			w := newWorld(t)
			bad := w.poisonShow(uuid.New())
			var edits []domain.Event
			for i := range waiting - 2 {
				edits = append(edits, domain.ShowDetailsChanged{ShowID: bad, Title: fmt.Sprintf("T%d", i+1), Venue: "Paradiso", StartsAt: t0})
			}
			w.save(domain.ShowStream(bad), 2, edits)
			w.start().sync()
			if got := parked(t, w, projections.NameShows); len(got) != 1 || got[0].Waiting != waiting {
				t.Fatalf("parked: got %+v, want %d waiting", got, waiting)
			}
			res, err := projections.Retry(ctx, w.models, w.registry, projectionstest.FixedShows{}, domain.ShowStream(bad))
			if err != nil || res.Applied != waiting || res.Parked != nil {
				t.Fatalf("%d waiting: retry: got %+v, %v; want all applied", waiting, res, err)
			}
			if s, err := w.q.Show(ctx, bad); err != nil || s.Title != fmt.Sprintf("T%d", waiting-2) {
				t.Errorf("%d waiting: show: got %+v, %v; want the last title", waiting, s, err)
			}
			if got := parked(t, w, projections.NameShows); len(got) != 0 {
				t.Errorf("%d waiting: parked after the retry: %+v", waiting, got)
			}
		}
	})

	t.Run("a retry while the stream's events keep coming loses none and keeps their order", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		bad := w.poisonShow(uuid.New())
		w.start().sync()
		const n = 40
		appended := make(chan struct{})
		go func() {
			defer close(appended)
			for i := range n {
				title := fmt.Sprintf("T%d", i+1)
				w.edit(bad, domain.EditShow{Title: &title})
			}
		}()
		resumed := false
		for !resumed {
			select {
			case <-appended:
				resumed = true
			default:
			}
			if _, err := projections.Retry(ctx, w.models, w.registry, projectionstest.FixedShows{}, domain.ShowStream(bad)); err != nil {
				t.Fatal(err)
			}
		}
		// A last retry for what was queued after the one before.
		if _, err := projections.Retry(ctx, w.models, w.registry, projectionstest.FixedShows{}, domain.ShowStream(bad)); err != nil {
			t.Fatal(err)
		}
		w.sync()
		if got := parked(t, w, projections.NameShows); len(got) != 0 {
			t.Errorf("parked: %+v", got)
		}
		var left int
		if err := w.models.DB().QueryRow(ctx, `select count(*) from projection_parked_events`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d events left waiting behind no parked stream", left)
		}
		if s, err := w.q.Show(ctx, bad); err != nil || s.Title != fmt.Sprintf("T%d", n) || s.Status != "on_sale" {
			t.Errorf("show: got %+v, %v; want the last title, on sale", s, err)
		}
	})

	t.Run("an X-Min-Position wait for a parked stream fails at once", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		good := w.publishedShow(uuid.New(), "Good", ga("Floor", 1000, 10))
		bad := w.poisonShow(uuid.New())
		w.start().sync()
		start := time.Now()
		ok, err := w.q.WaitFor(ctx, w.last, []string{projections.NameShows}, []string{domain.ShowStream(bad)}, 5*time.Second)
		pe, isParked := errors.AsType[*projections.ParkedError](err)
		if ok || !isParked || pe.Parked.Stream != domain.ShowStream(bad) || pe.Parked.Projection != projections.NameShows {
			t.Fatalf("wait for the parked stream: got %v, %v; want a *ParkedError naming it", ok, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered after %v, want at once", d)
		}
		if ok, err := w.q.WaitFor(ctx, w.last, []string{projections.NameShows}, []string{domain.ShowStream(good)}, time.Second); !ok || err != nil {
			t.Errorf("wait for another stream: got %v, %v; want reached", ok, err)
		}
		// A position before the parked event is not held back.
		if ok, err := w.q.WaitFor(ctx, domain.PositionAt(pe.Parked.Position.Commit-1), []string{projections.NameShows}, []string{domain.ShowStream(bad)}, time.Second); !ok || err != nil {
			t.Errorf("wait for a position before the parked event: got %v, %v; want reached", ok, err)
		}
		if _, err := w.q.WaitFor(ctx, domain.PositionAt(1<<63), nil, nil, time.Second); !errors.Is(err, projections.ErrInvalidPosition) {
			t.Errorf("a position beyond a bigint: got %v, want ErrInvalidPosition", err)
		}
	})

	t.Run("a transient failure stalls the projection and parks nothing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		id := w.createShow(uuid.New(), "Flaky", ga("Floor", 1000, 10))
		recs, err := w.store.ReadStream(ctx, domain.ShowStream(id), 1)
		if err != nil {
			t.Fatal(err)
		}
		flaky := &failing{Projector: projections.Shows{}, event: recs[0].ID}
		flaky.on.Store(true)
		w.runner.Projectors = []projections.Projector{flaky}
		w.start()
		eventually(t, "a stall", func() bool { return status(w.runner, projections.NameShows).Failures >= 2 })
		if got := parked(t, w, projections.NameShows); len(got) != 0 {
			t.Errorf("parked on a transient failure: %+v", got)
		}
		flaky.on.Store(false)
		eventually(t, "the recovery", func() bool { return status(w.runner, projections.NameShows).Position == w.last })
	})
}

func TestIsPoison(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                   {nil, false},
		"a plain error":         {errors.New("connection reset by peer"), false},
		"cancelled":             {context.Canceled, false},
		"ErrPoison wrapped":     {errors.Join(errors.New("x"), projections.ErrPoison), true},
		"a decode error":        {&projections.ApplyError{Err: &projections.DecodeError{Err: errors.New("bad json")}}, true},
		"data exception (22)":   {&projections.ApplyError{Err: sqlState("22021")}, true},
		"integrity (23)":        {sqlState("23505"), true},
		"serialization failure": {sqlState("40001"), false},
		"deadlock":              {sqlState("40P01"), false},
		"connection exception":  {sqlState("08006"), false},
		"undefined column (42)": {sqlState("42703"), false},
	} {
		if got := projections.IsPoison(c.err); got != c.want {
			t.Errorf("%s: got %v, want %v", name, got, c.want)
		}
	}
}

// sqlState is an error with a SQLSTATE, as the driver's errors have.
type sqlState string

func (s sqlState) Error() string    { return "sqlstate " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

func TestRunner_DeliverParks(t *testing.T) {
	t.Parallel()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	created := func(id uuid.UUID, title string) domain.ShowCreated {
		return domain.ShowCreated{ShowID: id, OrganizerID: uuid.New(), Title: title, Venue: "V", StartsAt: t0, CreatedAt: t0,
			Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 1000, Capacity: 10}}}
	}
	a, bad, b, c, gapped := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	log := logOf(t,
		domain.ShowStream(a), created(a, "A"),
		domain.ShowStream(bad), created(bad, "Nul\x00"), domain.ShowPublished{ShowID: bad, At: t0},
		domain.ShowStream(b), created(b, "B"),
		domain.ShowStream(c), created(c, "C"),
		domain.ShowStream(gapped), created(gapped, "G"), domain.ShowPublished{ShowID: gapped, At: t0})
	// Partition 0: a, the poison stream and b; partition 1: c, then the
	// second event of a stream whose first never came: a gap.
	deliveries := []projections.Delivery{
		{Partition: 0, Events: log[0:4]},
		{Partition: 1, Events: []domain.RecordedEvent{log[4], log[6]}},
	}
	models := postgres.NewReadModels(pgtest.NewPool(t))
	r := &projections.Runner{Store: models, Registry: registry, Projectors: projections.All()}
	done, err := r.Deliver(ctx, projections.NameShows, deliveries)
	if _, ok := errors.AsType[*projections.GapError](err); !ok || len(done) != 2 || done[0] != 4 || done[1] != 1 {
		t.Fatalf("deliver: got %v, %v; want [4 1] and the gap", done, err)
	}
	q := projections.NewQueries(models.DB())
	for _, id := range []uuid.UUID{a, b, c} {
		if _, err := q.Show(ctx, id); err != nil {
			t.Errorf("show of another stream: %v", err)
		}
	}
	got, err := q.ParkedStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Stream != domain.ShowStream(bad) || got[0].Version != 1 || got[0].Waiting != 2 {
		t.Errorf("parked: got %+v, want %s at version 1 with 2 waiting", got, domain.ShowStream(bad))
	}
	// Delivered again (the consumer redelivers what is not done), the
	// poison stream's events are skipped as done, not parked twice.
	if done, err := r.Deliver(ctx, projections.NameShows, deliveries[:1]); err != nil || done[0] != 4 {
		t.Errorf("redelivery: got %v, %v; want all 4 done", done, err)
	}
	if got, _ := q.ParkedStreams(ctx); len(got) != 1 || got[0].Waiting != 2 {
		t.Errorf("parked after the redelivery: got %+v", got)
	}
}
