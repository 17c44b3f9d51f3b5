package readapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testhttp"
	"github.com/ticketing/ticketing/internal/testlog"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/projections/projectionstest"
	"github.com/ticketing/ticketing/readapi"
)

// t0 is the time of the test worlds: events carry it, not the wall clock.
var t0 = time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)

const holdTTL = 15 * time.Minute

var ctx = context.Background()

// world is an event store, read models on a fresh PostgreSQL schema, the
// runner projecting one into the other and the read API on a real HTTP
// server. Events are made by the domain aggregates.
type world struct {
	t        *testing.T
	store    *memory.Store
	registry *domain.Registry
	q        *projections.Queries
	runner   *projections.Runner
	tokens   *auth.Tokens
	srv      *httptest.Server
	logs     *syncBuffer
	last     domain.Position
}

// newWorld returns a world whose runner is not started yet.
func newWorld(t *testing.T) *world {
	t.Helper()
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	store := memory.NewStore()
	models := postgres.NewReadModels(pgtest.NewPool(t))
	tokens, err := auth.NewTokens(bytes.Repeat([]byte("k"), auth.MinSecretLen), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, store: store, registry: registry, q: projections.NewQueries(models.DB()), tokens: tokens, logs: &syncBuffer{}}
	w.runner = &projections.Runner{Feed: store, Store: models, Registry: registry, Projectors: projections.All()}
	router := mux.NewRouter()
	readapi.New(w.q, tokens, slog.New(slog.NewTextHandler(w.logs, nil))).WithLogHead(store).Register(router)
	w.srv = httptest.NewServer(router)
	t.Cleanup(w.srv.Close)
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
	w.syncWithin(5 * time.Second)
}

// syncWithin is sync that waits up to timeout.
func (w *world) syncWithin(timeout time.Duration) {
	w.t.Helper()
	ok, err := w.q.WaitForPosition(ctx, w.last, timeout)
	if err != nil || !ok {
		w.t.Fatalf("projections did not reach %v: %v %+v", w.last, err, w.runner.Status())
	}
}

// token signs a token for a new user with role.
func (w *world) token(role domain.Role) (uuid.UUID, string) {
	w.t.Helper()
	id := uuid.New()
	tok, _, err := w.tokens.Issue(domain.Actor{UserID: id, Role: role})
	if err != nil {
		w.t.Fatal(err)
	}
	return id, tok
}

func (w *world) save(stream string, version int64, events []domain.Event) {
	w.t.Helper()
	data, err := domain.Encode(events, uuid.New, domain.Metadata{})
	if err != nil {
		w.t.Fatal(err)
	}
	res, err := w.store.Append(ctx, stream, version, data)
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

// managed is a published show of an organizer, with a paid order and a
// held one, and a draft of the same organizer, with the tokens the access
// tables of the routes only a show's managers may read use.
type managed struct {
	show, draft                      uuid.UUID
	orgToken, otherOrg, buyer, admin string
}

// managedShows makes the shows of a managed; the paid order was held at
// t0 and paid a minute later.
func (w *world) managedShows(title string) managed {
	w.t.Helper()
	var m managed
	var org uuid.UUID
	org, m.orgToken = w.token(domain.RoleOrganizer)
	_, m.otherOrg = w.token(domain.RoleOrganizer)
	_, m.buyer = w.token(domain.RoleBuyer)
	_, m.admin = w.token(domain.RoleAdmin)
	m.show = w.publishedShow(org, title)
	m.draft = w.createShow(org, "Draft")
	w.pay(w.hold(m.show, uuid.New(), 3, 1)) // held at 18:00, paid at 18:01
	w.hold(m.show, uuid.New(), 2)
	w.sync()
	return m
}

// accessCase is who asks for which show, and the status they get.
type accessCase struct {
	show  uuid.UUID
	token string
	want  int
}

// access are the cases every route of a show's managers answers alike;
// extra adds a route's own.
func (m managed) access(extra map[string]accessCase) map[string]accessCase {
	cases := map[string]accessCase{
		"to the organizer":             {m.show, m.orgToken, http.StatusOK},
		"to an admin":                  {m.show, m.admin, http.StatusOK},
		"a draft to its organizer":     {m.draft, m.orgToken, http.StatusOK},
		"to another organizer":         {m.show, m.otherOrg, http.StatusForbidden},
		"to a buyer":                   {m.show, m.buyer, http.StatusForbidden},
		"without a token":              {m.show, "", http.StatusUnauthorized},
		"a draft to another organizer": {m.draft, m.otherOrg, http.StatusNotFound},
	}
	maps.Copy(cases, extra)
	return cases
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// createShow creates a draft show of organizer with a general-admission
// section "Floor" (100 units at 10.00) and a seated section "Box" (row A,
// seats 1 to 4, at 30.00).
func (w *world) createShow(organizer uuid.UUID, title string) uuid.UUID {
	w.t.Helper()
	return w.createShowOf(organizer, title, []domain.SectionSpec{
		{Name: "Floor", PriceCents: 1000, Capacity: 100},
		{Name: "Box", PriceCents: 3000, Rows: []domain.RowSpec{{Label: "A", Seats: 4}}},
	})
}

// createShowOf creates a draft show of organizer with sections.
func (w *world) createShowOf(organizer uuid.UUID, title string, sections []domain.SectionSpec) uuid.UUID {
	w.t.Helper()
	s := domain.NewShow()
	id := uuid.New()
	must(w.t, s.Create(domain.CreateShow{
		ShowID: id, OrganizerID: organizer, Title: title, Venue: "Paradiso", StartsAt: t0.Add(30 * 24 * time.Hour),
		Sections: sections,
	}, t0))
	w.save(domain.ShowStream(id), s.Version(), s.Changes())
	return id
}

func (w *world) publishedShow(organizer uuid.UUID, title string) uuid.UUID {
	w.t.Helper()
	id := w.createShow(organizer, title)
	w.publish(id)
	return id
}

// publish puts a draft show on sale.
func (w *world) publish(id uuid.UUID) {
	w.t.Helper()
	s := w.show(id)
	must(w.t, s.Publish(t0))
	w.save(domain.ShowStream(id), s.Version(), s.Changes())
}

// hold holds floor units and box seats for buyer and places the order.
func (w *world) hold(show, buyer uuid.UUID, floor int, seats ...int) uuid.UUID {
	w.t.Helper()
	s := w.show(show)
	id := uuid.New()
	req := domain.HoldRequest{OrderID: id, BuyerID: buyer}
	if floor > 0 {
		req.Items = []domain.ItemRequest{{Section: "Floor", Quantity: floor}}
	}
	for _, n := range seats {
		req.Seats = append(req.Seats, domain.SeatRef{Section: "Box", Row: "A", Seat: n})
	}
	must(w.t, s.Hold(req, t0, holdTTL))
	held := s.Changes()[0].(domain.SeatsHeld)
	w.save(domain.ShowStream(show), s.Version(), s.Changes())
	o := domain.NewOrder()
	must(w.t, o.Place(held))
	w.save(domain.OrderStream(id), o.Version(), o.Changes())
	return id
}

// pay confirms an order and sells its inventory.
func (w *world) pay(order uuid.UUID) []domain.Ticket {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.Confirm("ch_1", t0.Add(time.Minute), uuid.New))
	w.save(domain.OrderStream(order), o.Version(), o.Changes())
	s := w.show(o.ShowID)
	must(w.t, s.Sell(order, t0.Add(time.Minute)))
	w.save(domain.ShowStream(o.ShowID), s.Version(), s.Changes())
	return o.Tickets
}

// response is an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET path with token (none when empty) and extra headers
// ("name", "value", ...).
func (w *world) get(path, token string, headers ...string) response {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	resp, body := testhttp.Do(w.t, req, token, headers...)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// ok checks that r is a 200 JSON answer and decodes it into v.
func (r response) ok(t *testing.T, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status: got %d, want 200: %s", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("content type: got %q, want application/json", got)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

// problem is the body of an error answer.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// problem checks that r is a problem+json answer with status and returns it.
func (r response) problem(t *testing.T, status int) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d: %s", r.status, status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("content type: got %q, want application/problem+json", got)
	}
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("problem: got %+v, want type, title, detail and status %d", p, status)
	}
	return p
}

// syncBuffer collects logs written from several goroutines.
type syncBuffer = testlog.Buffer
