package projections_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testlog"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/projections/projectionstest"
)

// t0 is the time of the test worlds: events carry it, not the wall clock.
var t0 = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)

const holdTTL = 15 * time.Minute

// world is an event store, read models on a fresh PostgreSQL schema and a
// runner that projects the store's log into them. Events are made by the
// domain aggregates, as the command handlers make them, and appended with
// their expected versions.
type world struct {
	t        *testing.T
	store    commands.EventStore
	registry *domain.Registry
	models   *postgres.ReadModels
	q        *projections.Queries
	runner   *projections.Runner
	logs     *syncBuffer
	last     domain.Position
	codes    int
}

// newWorld returns a world whose runner is not started yet.
func newWorld(t *testing.T) *world {
	t.Helper()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	return newWorldOn(t, memory.NewStore(), registry)
}

func newWorldOn(t *testing.T, store commands.EventStore, registry *domain.Registry) *world {
	t.Helper()
	models := postgres.NewReadModels(pgtest.NewPool(t))
	w := &world{t: t, store: store, registry: registry, models: models, q: projections.NewQueries(models.DB()), logs: &syncBuffer{}}
	w.runner = &projections.Runner{
		Feed: store, Store: models, Registry: registry, Projectors: projections.All(),
		Log: slog.New(slog.NewTextHandler(w.logs, nil)),
	}
	return w
}

// start runs the runner until the test ends.
func (w *world) start() *world {
	projectionstest.Start(w.t, w.runner)
	return w
}

// sync waits until every projection applied every event appended so far.
func (w *world) sync() {
	w.t.Helper()
	ok, err := w.q.WaitForPosition(context.Background(), w.last, 5*time.Second)
	if err != nil {
		w.t.Fatal(err)
	}
	if !ok {
		w.t.Fatalf("projections did not reach %v: %+v\n%s", w.last, w.runner.Status(), w.logs.String())
	}
}

// save appends events to stream at version.
func (w *world) save(stream string, version int64, events []domain.Event) {
	w.t.Helper()
	if len(events) == 0 {
		return
	}
	data, err := domain.Encode(events, uuid.New, domain.Metadata{})
	if err != nil {
		w.t.Fatal(err)
	}
	res, err := w.store.Append(context.Background(), stream, version, data)
	if err != nil {
		w.t.Fatal(err)
	}
	w.last = res.Position
}

func (w *world) show(id uuid.UUID) *domain.Show {
	return projectionstest.Show(w.t, w.store, w.registry, id)
}

func (w *world) order(id uuid.UUID) *domain.Order {
	return projectionstest.Order(w.t, w.store, w.registry, id)
}

func (w *world) saveShow(s *domain.Show) {
	w.t.Helper()
	w.save(domain.ShowStream(s.ID), s.Version(), s.Changes())
}

func (w *world) saveOrder(o *domain.Order) {
	w.t.Helper()
	w.save(domain.OrderStream(o.ID), o.Version(), o.Changes())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ga is a general-admission section.
func ga(name string, price int64, capacity int) domain.SectionSpec {
	return domain.SectionSpec{Name: name, PriceCents: price, Capacity: capacity}
}

// seated is a seated section with rows of the given sizes, labelled A, B, ...
func seated(name string, price int64, rows ...int) domain.SectionSpec {
	s := domain.SectionSpec{Name: name, PriceCents: price}
	for i, n := range rows {
		s.Rows = append(s.Rows, domain.RowSpec{Label: string(rune('A' + i)), Seats: n})
	}
	return s
}

// createShow creates a draft show of organizer.
func (w *world) createShow(organizer uuid.UUID, title string, sections ...domain.SectionSpec) uuid.UUID {
	w.t.Helper()
	s := domain.NewShow()
	id := uuid.New()
	limit := domain.MaxUnitsPerBuyerLimit // the world's buyers buy a lot
	must(w.t, s.Create(domain.CreateShow{
		ShowID: id, OrganizerID: organizer, Title: title, Venue: "Paradiso",
		StartsAt: t0.Add(30 * 24 * time.Hour), Sections: sections, MaxUnitsPerBuyer: &limit,
	}, t0))
	w.saveShow(s)
	return id
}

// publishedShow creates a show and puts it on sale.
func (w *world) publishedShow(organizer uuid.UUID, title string, sections ...domain.SectionSpec) uuid.UUID {
	w.t.Helper()
	id := w.createShow(organizer, title, sections...)
	w.publish(id)
	return id
}

func (w *world) publish(show uuid.UUID) {
	w.t.Helper()
	s := w.show(show)
	must(w.t, s.Publish(t0.Add(time.Minute)))
	w.saveShow(s)
}

func (w *world) edit(show uuid.UUID, e domain.EditShow) {
	w.t.Helper()
	s := w.show(show)
	must(w.t, s.Edit(e, t0))
	w.saveShow(s)
}

func (w *world) cancelShow(show uuid.UUID) {
	w.t.Helper()
	s := w.show(show)
	must(w.t, s.Cancel(t0.Add(time.Hour)))
	w.saveShow(s)
}

// holdOnly holds inventory in the show without placing the order, as a
// process that died between the two appends leaves it.
func (w *world) holdOnly(show, buyer uuid.UUID, items []domain.ItemRequest, seats []domain.SeatRef) (uuid.UUID, domain.SeatsHeld) {
	w.t.Helper()
	s := w.show(show)
	id := uuid.New()
	must(w.t, s.Hold(domain.HoldRequest{OrderID: id, BuyerID: buyer, Items: items, Seats: seats}, t0, holdTTL))
	held := s.Changes()[0].(domain.SeatsHeld)
	w.saveShow(s)
	return id, held
}

// hold holds inventory and places the order.
func (w *world) hold(show, buyer uuid.UUID, items []domain.ItemRequest, seats []domain.SeatRef) uuid.UUID {
	w.t.Helper()
	id, held := w.holdOnly(show, buyer, items, seats)
	o := domain.NewOrder()
	must(w.t, o.Place(held))
	w.saveOrder(o)
	return id
}

// pay confirms a held order and sells its inventory.
func (w *world) pay(order uuid.UUID) []domain.Ticket {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.Confirm("ch_"+order.String()[:8], t0.Add(time.Minute), uuid.New))
	w.saveOrder(o)
	s := w.show(o.ShowID)
	must(w.t, s.Sell(order, t0.Add(time.Minute)))
	w.saveShow(s)
	return o.Tickets
}

// cancel cancels a held order and releases its inventory.
func (w *world) cancel(order uuid.UUID) {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.Cancel(t0.Add(2*time.Minute)))
	w.saveOrder(o)
	s := w.show(o.ShowID)
	s.Release(order, domain.ReleaseCancelled, t0.Add(2*time.Minute))
	w.saveShow(s)
}

// expire expires a hold that ran out, writing a tombstone when the order was
// never placed.
func (w *world) expire(show, order uuid.UUID) {
	w.t.Helper()
	at := t0.Add(holdTTL + time.Minute)
	o := w.order(order)
	must(w.t, o.Expire(order, show, at))
	w.saveOrder(o)
	s := w.show(show)
	s.Release(order, domain.ReleaseExpired, at)
	w.saveShow(s)
}

func (w *world) checkIn(order, ticket uuid.UUID, at time.Time) {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.CheckIn(ticket, at))
	w.saveOrder(o)
}

// readModelTables are every table the projectors write.
var readModelTables = projectionstest.ReadModelTables

// dump returns every row of every read-model table, as sorted JSON.
func dump(t *testing.T, w *world) map[string][]string {
	t.Helper()
	return projectionstest.DumpReadModels(t, w.models.DB(), "to_jsonb(t)::text")
}

// syncBuffer collects logs written from several goroutines.
type syncBuffer = testlog.Buffer

// eventually polls cond every few milliseconds for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isValidation(err error, field string) bool {
	var v *domain.ValidationError
	return errors.As(err, &v) && len(v.Fields) == 1 && v.Fields[0].Field == field
}

var ctx = context.Background()
