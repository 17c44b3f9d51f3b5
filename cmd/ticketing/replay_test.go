package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// workload drives the engine's commands: shows, holds, payments,
// cancellations. It returns what it did not finish (nothing, or an error).
type workload struct {
	t      *testing.T
	h      *commands.Handler
	org    domain.Actor
	shows  []uuid.UUID
	orders atomic.Int64
}

func newWorkload(t *testing.T, e *engine, shows int) *workload {
	t.Helper()
	w := &workload{t: t, h: e.commands, org: domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}}
	ctx := context.Background()
	for i := range shows {
		res, err := w.h.CreateShow(ctx, w.org, domain.CreateShow{
			Title: fmt.Sprintf("Show %d", i), Venue: "Hall", StartsAt: time.Now().Add(time.Hour),
			Sections: []domain.SectionSpec{
				{Name: "floor", PriceCents: 500, Capacity: 1000},
				{Name: "balcony", PriceCents: 900, Rows: []domain.RowSpec{{Label: "A", Seats: 30}, {Label: "B", Seats: 30}}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.h.PublishShow(ctx, w.org, res.ID); err != nil {
			t.Fatal(err)
		}
		w.shows = append(w.shows, res.ID)
	}
	return w
}

// startSettled starts a server on a fresh schema, has a workload of shows
// place orders, and waits until the engine has settled and projected them.
// It returns the schema's URL with the server and the workload.
func startSettled(t *testing.T, shows, orders int) (string, *server, *workload) {
	t.Helper()
	db := pgtest.SchemaURL(t)
	s := startServer(t, db, time.Minute)
	w := newWorkload(t, s.e, shows)
	w.place(orders)
	settle(t, s.e)
	return db, s, w
}

// place places n orders, one after the other, failing the test at the
// first that fails.
func (w *workload) place(n int) {
	w.t.Helper()
	for range n {
		if err := w.order(context.Background()); err != nil {
			w.t.Fatal(err)
		}
	}
}

// order places the n-th order and pays, cancels or keeps it.
func (w *workload) order(ctx context.Context) error {
	n := int(w.orders.Add(1))
	buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	c := commands.PlaceOrder{ShowID: w.shows[n%len(w.shows)]}
	if n%3 == 0 {
		c.Seats = []domain.SeatRef{{Section: "balcony", Row: []string{"A", "B"}[n%2], Seat: 1 + (n/6)%30}}
	} else {
		c.Items = []domain.ItemRequest{{Section: "floor", Quantity: 1 + n%2}}
	}
	o, err := w.h.PlaceOrder(ctx, buyer, c)
	var taken *domain.SeatTakenError
	if errors.As(err, &taken) {
		return nil
	}
	if err != nil {
		return err
	}
	switch n % 4 {
	case 0, 1:
		_, err = w.h.PayOrder(ctx, buyer, o.ID, "tok_visa")
	case 2:
		_, err = w.h.CancelOrder(ctx, buyer, o.ID)
	}
	return err
}

// settle waits until every projection applied the whole log.
func settle(t *testing.T, e *engine) {
	t.Helper()
	head, err := e.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.queries.WaitForPosition(context.Background(), head, 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("projections did not reach %s: %v", head, err)
	}
}

// dump returns each read-model table's row count and checksum.
func dump(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range projections.All() {
		for _, table := range p.Tables() {
			var n int64
			var sum string
			err := pool.QueryRow(context.Background(), fmt.Sprintf(
				`select count(*), coalesce(md5(string_agg(r::text, '|' order by r::text)), '') from %s r`, table)).Scan(&n, &sum)
			if err != nil {
				t.Fatal(err)
			}
			out[table] = fmt.Sprintf("%d rows %s", n, sum)
		}
	}
	return out
}

func replayPool(t *testing.T, db string) *pgxpool.Pool {
	t.Helper()
	pool, err := newPool(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A rebuild while writes go on: swapped in identical to what live processing
// built at the same position, and live processing continues from exactly
// there (a dry run after the writes stop finds nothing different).
func TestReplay_ShadowWhileWriting(t *testing.T) {
	t.Parallel()
	db, s, w := startSettled(t, 8, 150)
	ctx := context.Background()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.order(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var out strings.Builder
	reports, err := replay(ctx, replayPool(t, db), replayOptions{All: true, ExpectIdentical: true, Batch: 40}, &out, quiet)
	close(stop)
	wg.Wait()
	if err != nil {
		printReplay(&out, reports)
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	for _, r := range reports {
		if !r.Swap.Swapped {
			t.Errorf("%s not swapped", r.Projection)
		}
		for _, d := range r.Swap.Diffs {
			if !d.Same() || !d.SamePosition {
				t.Errorf("%s.%s differs from live at the swap: %+v", r.Projection, d.Table, d)
			}
		}
	}
	t.Logf("%d orders; the writes went on during the replay", w.orders.Load())

	settle(t, s.e)
	reports, err = replay(ctx, replayPool(t, db), replayOptions{All: true, DryRun: true}, &out, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.Swap.Swapped {
			t.Errorf("%s swapped in a dry run", r.Projection)
		}
		for _, d := range r.Swap.Diffs {
			if !d.Same() || !d.SamePosition {
				t.Errorf("after the swap, live %s.%s drifted from a rebuild: %+v", r.Projection, d.Table, d)
			}
		}
	}
	var shadows int
	if err := s.e.pool.QueryRow(ctx, `select count(*) from pg_namespace where nspname like current_schema() || '_replay%'`).Scan(&shadows); err != nil || shadows != 0 {
		t.Errorf("%d shadow schemas left behind (%v)", shadows, err)
	}
	s.audit()
}

// A damaged read model is repaired by a replay; a dry run reports what
// differs and changes nothing.
func TestReplay_RepairsDamage(t *testing.T) {
	t.Parallel()
	db, s, _ := startSettled(t, 3, 60)
	ctx := context.Background()
	good := dump(t, s.e.pool)
	if _, err := s.e.pool.Exec(ctx, `update rm_sales set sold = sold + 7`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.pool.Exec(ctx, `delete from rm_tickets where ctid in (select ctid from rm_tickets limit 3)`); err != nil {
		t.Fatal(err)
	}
	damaged := dump(t, s.e.pool)

	var out strings.Builder
	reports, err := replay(ctx, replayPool(t, db), replayOptions{All: true, DryRun: true}, &out, quiet)
	if err != nil {
		t.Fatal(err)
	}
	differs := map[string]bool{}
	for _, r := range reports {
		for _, d := range r.Swap.Diffs {
			if !d.Same() {
				differs[d.Table] = true
			}
		}
	}
	if !differs["rm_sales"] || !differs["rm_tickets"] || len(differs) != 2 {
		t.Fatalf("dry run found differences in %v, want rm_sales and rm_tickets", differs)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(damaged) {
		t.Fatal("the dry run changed the live tables")
	}
	printReplay(&out, reports)
	if !strings.Contains(out.String(), "rm_tickets") || !strings.Contains(out.String(), "NO") {
		t.Errorf("report:\n%s", out.String())
	}
	if _, err := replay(ctx, replayPool(t, db), replayOptions{Projections: []string{"sales", "orders"}}, &out, quiet); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(good) {
		t.Fatalf("after the replay:\n got %v\nwant %v", got, good)
	}
	// In place: truncate and rebuild, same result.
	if _, err := replay(ctx, replayPool(t, db), replayOptions{Projections: []string{"shows"}, InPlace: true}, &out, quiet); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(good) {
		t.Fatalf("after the replay in place:\n got %v\nwant %v", got, good)
	}
	s.audit()
}

// A replay killed half way leaves the live model as it was; a second run
// completes.
func TestReplay_KilledHalfWay(t *testing.T) {
	t.Parallel()
	db, s, _ := startSettled(t, 2, 60)
	ctx := context.Background()
	before := dump(t, s.e.pool)
	pool := replayPool(t, db)

	// Killed after the third batch of any projection, long before the end.
	kctx, kill := context.WithCancel(ctx)
	var batches atomic.Int32
	o := replayOptions{All: true, Batch: 5, afterBatch: func() {
		if batches.Add(1) == 3 {
			kill()
		}
	}}
	if _, err := replay(kctx, pool, o, io.Discard, quiet); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed replay: err = %v, want context.Canceled", err)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a killed replay changed the live tables:\n got %v\nwant %v", got, before)
	}
	if _, err := replay(ctx, pool, replayOptions{All: true, ExpectIdentical: true}, io.Discard, quiet); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after the second run:\n got %v\nwant %v", got, before)
	}
	s.audit()
}

// poisoned fails on one event, until it is fixed.
type poisoned struct {
	projections.Projector
	bad   atomic.Value // uuid.UUID: the order whose events fail
	fixed atomic.Bool
}

func (p *poisoned) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, e domain.Event) error {
	if bad, _ := p.bad.Load().(uuid.UUID); !p.fixed.Load() && rec.StreamID == domain.OrderStream(bad) {
		return errors.New("projector bug: cannot handle this order")
	}
	return p.Projector.Apply(ctx, db, rec, e)
}

// A poison event stalls its projection alone, which `projections status`
// reports with the stream, version and error; with the projector fixed, a
// replay recovers it.
func TestReplay_PoisonEvent(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	orders := &poisoned{Projector: projections.Orders{}}
	bad := uuid.New()
	orders.bad.Store(uuid.Nil)
	s := startServer(t, db, time.Minute, func(c *Config) {
		c.projectors = []projections.Projector{projections.Shows{}, orders, projections.Sales{}, projections.Holds{}, projections.Analytics{},
			projections.Refunds{}, projections.Waitlist{}} // issue 14: money, waitlist
	})
	w := newWorkload(t, s.e, 1)
	w.place(5)
	settle(t, s.e)
	ctx := context.Background()
	// The next order's events poison the orders projection.
	first := true
	h := commands.NewHandler(&commands.Handler{Store: w.h.Store, Registry: w.h.Registry, Payments: w.h.Payments, HoldTTL: time.Minute,
		NewID: func() uuid.UUID {
			if first {
				first = false
				return bad
			}
			return uuid.New()
		}})
	orders.bad.Store(bad)
	buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	if _, err := h.PlaceOrder(ctx, buyer, commands.PlaceOrder{ShowID: w.shows[0], Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := w.order(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var r progressReport
	for {
		var err error
		if r, err = report(ctx, s.e.store, s.e.queries); err != nil {
			t.Fatal(err)
		}
		states := map[string]projections.Progress{}
		for _, p := range r.Projections {
			states[p.Name] = p.Progress
		}
		if o := states["orders"]; o.State == projections.StateStalled && states["shows"].Position == r.Head && states["sales"].Position == r.Head {
			if !strings.Contains(o.LastError, domain.OrderStream(bad)) || !strings.Contains(o.LastError, "projector bug") {
				t.Fatalf("the stall does not name the stream and the error: %q", o.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want orders stalled and the others at the head: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out strings.Builder
	if err := printStatus(&out, r, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stalled") || !strings.Contains(out.String(), domain.OrderStream(bad)) {
		t.Fatalf("status:\n%s", out.String())
	}

	// Deploy the fixed projector: stop, replay, start.
	s.stop()
	if _, err := replay(ctx, replayPool(t, db), replayOptions{Projections: []string{"orders"}}, io.Discard, quiet); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, db, time.Minute)
	settle(t, s.e)
	if _, err := s.e.queries.Order(ctx, bad); err != nil {
		t.Fatalf("the poisoned order after the replay: %v", err)
	}
	reports, err := replay(ctx, replayPool(t, db), replayOptions{All: true, DryRun: true}, io.Discard, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		for _, d := range r.Swap.Diffs {
			if !d.Same() {
				t.Errorf("%s differs from a rebuild after the recovery", d.Table)
			}
		}
	}
	s.audit()
}
