package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testhttp"
)

// server is one engine process: its HTTP server, projectors and expirer,
// on a database it may share with other servers.
type server struct {
	t      *testing.T
	url    string // the API listener
	opsURL string // the ops listener: /metrics
	db     string
	e      *engine
	stop   func()
}

var testSecret = []byte("test-secret-test-secret-test-secret!")

// testEnv is the environment of a test's engine on the database at dbURL:
// loopback listeners on free ports, the test secret, no rate limits.
func testEnv(dbURL string, holdTTL time.Duration) env {
	return env{
		"DATABASE_URL": dbURL, "TICKETING_ADDR": "127.0.0.1:0", "TICKETING_OPS_ADDR": "127.0.0.1:0",
		"JWT_SECRET": string(testSecret), "HOLD_TTL": holdTTL.String(), "EXPIRY_INTERVAL": "50ms",
		"SIGNIN_RATE_PER_ACCOUNT": "off", "SIGNIN_RATE_PER_ADDRESS": "off", "ORDER_RATE_PER_BUYER": "off",
	}
}

// startServer runs an engine on the database at dbURL, as serve does: its
// configuration from testEnv, then changed by options.
func startServer(t *testing.T, dbURL string, holdTTL time.Duration, options ...func(*Config)) *server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return startServerAs(t, dbURL, holdTTL, allRoles, log, options...)
}

// startServerAs is startServer running the roles r and logging to log.
func startServerAs(t *testing.T, dbURL string, holdTTL time.Duration, r roles, log *slog.Logger, options ...func(*Config)) *server {
	t.Helper()
	c, err := LoadConfig(testEnv(dbURL, holdTTL).get)
	if err != nil {
		t.Fatal(err)
	}
	// As the tests stopped their servers before: at once, dropping what
	// a test left running (a race's losers, a long poll).
	c.ShutdownTimeout = 200 * time.Millisecond
	for _, o := range options {
		o(&c)
	}
	m := NewMain("serve", c, r, log)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, url: m.URL(), opsURL: m.OpsURL(), db: dbURL, e: m.engine}
	s.stop = func() {
		if err := m.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stop the engine: %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

// serveHTTP serves h on a loopback port the way serve does: the same
// listener and server set-up, limits l.
func serveHTTP(t *testing.T, h http.Handler, l httpLimits) (url string, close func()) {
	t.Helper()
	ln, err := listen("127.0.0.1:0", l)
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, l, quiet)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// resp is a decoded HTTP response.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// call sends a request; body is JSON-encoded unless it is a string, sent as is.
func (s *server) call(method, path, token string, body any, headers ...string) resp {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, raw := testhttp.Do(s.t, req, token, headers...)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// must fails the test unless the response has the wanted status.
func (s *server) must(want int, r resp) resp {
	s.t.Helper()
	if r.status != want {
		s.t.Fatalf("status = %d, want %d; body: %s", r.status, want, r.raw)
	}
	return r
}

// user signs up a user of the role and returns a token.
func (s *server) user(role string) string {
	s.t.Helper()
	email := role + "-" + uuid.NewString()[:8] + "@example.com"
	s.must(201, s.call("POST", "/v1/users", "", map[string]any{"email": email, "password": "correct horse battery", "role": role}))
	r := s.must(200, s.call("POST", "/v1/tokens", "", map[string]any{"email": email, "password": "correct horse battery"}))
	return r.str("token")
}

// token mints a token for a new user of the role with the engine's own
// issuer, skipping the deliberately slow password hashing of sign-up.
func (s *server) token(role string) string {
	s.t.Helper()
	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		s.t.Fatal(err)
	}
	id := uuid.New()
	registerUser(s.t, s.e.pool, id, domain.Role(role))
	tok, _, err := tokens.Issue(domain.Actor{UserID: id, Role: domain.Role(role)})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// read GETs a read-model path once the projections reached pos.
func (s *server) read(path, token, pos string) resp {
	s.t.Helper()
	return s.must(200, s.call("GET", path, token, nil, "X-Min-Position", pos))
}

func gaShow(capacity int) map[string]any {
	return map[string]any{
		"title": "Night Gig", "venue": "Main Hall", "starts_at": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"sections": []any{
			map[string]any{"name": "floor", "price_cents": 500, "capacity": capacity},
			map[string]any{"name": "balcony", "price_cents": 900, "rows": []any{map[string]any{"row": "A", "seat_count": 3}, map[string]any{"row": "B", "seat_count": 3}}},
		},
	}
}

// publishedShow creates and publishes a show, returning its id and the
// position of the publication.
func (s *server) publishedShow(org string, capacity int) (string, string) {
	s.t.Helper()
	id := s.must(201, s.call("POST", "/v1/shows", org, gaShow(capacity))).str("id")
	pos := s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil)).str("position")
	return id, pos
}

// section returns a section of a show view.
func section(t *testing.T, show resp, name string) map[string]any {
	t.Helper()
	secs, _ := show.body["sections"].([]any)
	for _, x := range secs {
		if m := x.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no section %q in %s", name, show.raw)
	return nil
}

// seatMapStates reads the seat map of a show once the projections reached pos,
// and every section's seats in pages of two, and returns the state of each
// seat by "section/row/seat".
func seatMapStates(t *testing.T, s *server, show, pos string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sec := range s.read("/v1/shows/"+show+"/seats", "", pos).body["sections"].([]any) {
		name := sec.(map[string]any)["name"].(string)
		cursor := ""
		for range 100 {
			page := s.read("/v1/shows/"+show+"/seats?limit=2&section="+url.QueryEscape(name)+"&cursor="+cursor, "", pos)
			for _, row := range page.body["rows"].([]any) {
				label := row.(map[string]any)["row"].(string)
				for _, seat := range row.(map[string]any)["seats"].([]any) {
					out[fmt.Sprintf("%s/%s/%d", name, label, num(seat.(map[string]any)["seat"]))] = seat.(map[string]any)["state"].(string)
				}
			}
			if cursor = page.str("next_cursor"); cursor == "" {
				break
			}
		}
	}
	return out
}

func num(v any) int { f, _ := v.(float64); return int(f) }

func TestServe_FullFlow(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer, other := s.user("organizer"), s.user("buyer"), s.user("buyer")
	show, _ := s.publishedShow(org, 10)

	// A hold of two GA units and a seat.
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	if held.str("status") != "held" || num(held.body["total_cents"]) != 1000 || held.str("expires_at") == "" {
		t.Fatalf("hold response: %s", held.raw)
	}
	order := held.str("id")
	seat := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 2}}}))
	v := s.read("/v1/shows/"+show, "", seat.str("position"))
	if f := section(t, v, "floor"); num(f["available"]) != 8 || num(f["held"]) != 2 {
		t.Fatalf("floor after hold: %v", f)
	}
	seats := seatMapStates(t, s, show, seat.str("position"))
	if len(seats) != 6 || seats["balcony/A/2"] != "held" || seats["balcony/A/1"] != "available" {
		t.Fatalf("seat map after the hold of balcony A2: %v", seats)
	}

	// Another buyer cannot see or pay it.
	s.must(404, s.call("GET", "/v1/orders/"+order, other, nil, "X-Min-Position", held.str("position")))
	s.must(404, s.call("POST", "/v1/orders/"+order+"/pay", other, map[string]any{"payment_token": "tok_visa"}))

	// A declined card, then a good one.
	s.must(402, s.call("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": "tok_chargeDeclined"}))
	paid := s.must(200, s.call("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	tickets, _ := paid.body["tickets"].([]any)
	if paid.str("status") != "confirmed" || len(tickets) != 2 {
		t.Fatalf("pay response: %s", paid.raw)
	}
	pos := paid.str("position")
	got := s.read("/v1/orders/"+order, buyer, pos)
	if got.str("status") != "confirmed" {
		t.Fatalf("order view: %s", got.raw)
	}
	if f := section(t, s.read("/v1/shows/"+show, "", pos), "floor"); num(f["sold"]) != 2 || num(f["held"]) != 0 || num(f["available"]) != 8 {
		t.Fatalf("floor after payment: %v", f)
	}
	mine := s.read("/v1/me/tickets", buyer, pos)
	if items, _ := mine.body["items"].([]any); len(items) != 2 {
		t.Fatalf("my tickets: %s", mine.raw)
	}
	if items, _ := s.read("/v1/me/orders", buyer, pos).body["items"].([]any); len(items) != 2 {
		t.Fatalf("my orders: want 2")
	}

	// Cancel the seat hold: the seat is free again.
	cancelled := s.must(200, s.call("POST", "/v1/orders/"+seat.str("id")+"/cancel", buyer, nil))
	if f := section(t, s.read("/v1/shows/"+show, "", cancelled.str("position")), "balcony"); num(f["available"]) != 6 {
		t.Fatalf("balcony after cancel: %v", f)
	}
	s.must(409, s.call("POST", "/v1/orders/"+seat.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))

	// Sales for the owner only.
	sales := s.read("/v1/shows/"+show+"/sales", org, cancelled.str("position"))
	if num(sales.body["units_sold"]) != 2 || num(sales.body["revenue_cents"]) != 1000 || num(sales.body["units_cancelled"]) != 1 {
		t.Fatalf("sales: %s", sales.raw)
	}
	s.must(403, s.call("GET", "/v1/shows/"+show+"/sales", s.user("organizer"), nil))

	// Check-in at the door: once, by the show's organizer only.
	ticket := tickets[0].(map[string]any)["id"].(string)
	s.must(403, s.call("POST", "/v1/tickets/"+ticket+"/check-in", s.user("organizer"), nil))
	s.must(200, s.call("POST", "/v1/tickets/"+ticket+"/check-in", org, nil))
	s.must(409, s.call("POST", "/v1/tickets/"+ticket+"/check-in", org, nil))
	s.must(404, s.call("POST", "/v1/tickets/"+uuid.NewString()+"/check-in", org, nil))
	s.audit()
}

func TestServe_ShowLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	created := s.must(201, s.call("POST", "/v1/shows", org, gaShow(5)))
	id := created.str("id")
	// A draft is not for sale and not in the public catalog.
	s.must(409, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": id, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	s.must(404, s.call("GET", "/v1/shows/"+id, buyer, nil, "X-Min-Position", created.str("position")))
	s.must(200, s.call("GET", "/v1/shows/"+id, org, nil, "X-Min-Position", created.str("position")))
	s.must(403, s.call("PATCH", "/v1/shows/"+id, s.token("organizer"), map[string]any{"title": "Mine now"}))
	s.must(403, s.call("POST", "/v1/shows", buyer, gaShow(5)))
	edit := s.must(200, s.call("PATCH", "/v1/shows/"+id, org, map[string]any{"title": "Renamed", "sections": []any{map[string]any{"name": "floor", "price_cents": 750}}}))
	pub := s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil))
	v := s.read("/v1/shows/"+id, "", pub.str("position"))
	if v.str("title") != "Renamed" || v.str("status") != "on_sale" || num(section(t, v, "floor")["price_cents"]) != 750 {
		t.Fatalf("show after edit: %s (edit %s)", v.raw, edit.raw)
	}
	hold := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": id, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	if num(hold.body["total_cents"]) != 1500 {
		t.Fatalf("hold at the new price: %s", hold.raw)
	}
	// A later price change does not reprice the hold.
	s.must(200, s.call("PATCH", "/v1/shows/"+id, org, map[string]any{"sections": []any{map[string]any{"name": "floor", "price_cents": 2000}}}))
	o := s.read("/v1/orders/"+hold.str("id"), buyer, hold.str("position"))
	if num(o.body["total_cents"]) != 1500 {
		t.Fatalf("order after a price change: %s", o.raw)
	}
	s.must(200, s.call("POST", "/v1/shows/"+id+"/cancel", org, nil))
	s.must(409, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": id, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	s.must(409, s.call("POST", "/v1/orders/"+hold.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	s.audit()
}

// waitOrder polls an order's view until it has the status or the deadline passes.
func (s *server) waitOrder(id, token, status string, within time.Duration) resp {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.call("GET", "/v1/orders/"+id, token, nil)
		if r.status == 200 && r.str("status") == status {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("order %s not %s within %s: %d %s", id, status, within, r.status, r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServe_HoldExpiry(t *testing.T) {
	t.Parallel()
	const holdTTL = time.Second
	s := startServer(t, pgtest.SchemaURL(t), holdTTL)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 3)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 3}}}))
	s.must(409, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	start := time.Now()
	s.waitOrder(held.str("id"), buyer, "expired", holdTTL+2*time.Second)
	t.Logf("expired %s after the hold was placed (ttl %s)", time.Since(start).Round(time.Millisecond), holdTTL)
	// The order's projection may be ahead of the show's: read the show as
	// of the log's head.
	head, err := s.e.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f := section(t, s.read("/v1/shows/"+show, "", head.String()), "floor"); num(f["available"]) != 3 {
		t.Fatalf("floor after expiry: %v", f)
	}
	s.must(409, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 3}}}))
	s.audit()
}

// A hold that runs out while no engine is running expires when one starts.
func TestServe_HoldExpiryWhileStopped(t *testing.T) {
	t.Parallel()
	const holdTTL = time.Second
	db := pgtest.SchemaURL(t)
	s := startServer(t, db, holdTTL)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 2)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	s.read("/v1/orders/"+held.str("id"), buyer, held.str("position"))
	s.stop()
	time.Sleep(holdTTL + 200*time.Millisecond)

	s2 := startServer(t, db, holdTTL)
	start := time.Now()
	s2.waitOrder(held.str("id"), buyer, "expired", 3*time.Second)
	t.Logf("expired %s after restart", time.Since(start).Round(time.Millisecond))
	s2.must(201, s2.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	s2.audit()
}

// eventCount counts the events in the store.
func eventCount(t *testing.T, s *server) int {
	t.Helper()
	var n int
	if err := s.e.pool.QueryRow(context.Background(), "select count(*) from events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServe_BadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.user("organizer"), s.user("buyer")
	show, _ := s.publishedShow(org, 10)
	forged := buyer[:len(buyer)-4] + "abcd"
	order := func(extra string) string {
		return `{"show_id":"` + show + `",` + extra + `}`
	}
	cases := []badInput{
		{"malformed JSON", "POST", "/v1/orders", buyer, `{"show_id":`, 400, ""},
		{"trailing data", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":1}]`) + "{}", 400, ""},
		{"unknown field", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":1}],"price_cents":1`), 400, "price_cents"},
		{"wrong type", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":"2"}]`), 400, "items[0].quantity"},
		{"zero quantity", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":0}]`), 422, "items[0].quantity"},
		{"negative quantity", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":-3}]`), 422, "items[0].quantity"},
		{"seat that does not exist", "POST", "/v1/orders", buyer, order(`"seats":[{"section":"balcony","row":"Z","seat":1}]`), 422, "seats[0].row"},
		{"seat number out of range", "POST", "/v1/orders", buyer, order(`"seats":[{"section":"balcony","row":"A","seat":99}]`), 422, "seats[0].seat"},
		{"no show id", "POST", "/v1/orders", buyer, `{"items":[{"section":"floor","quantity":1}]}`, 422, "show_id"},
		{"unknown show", "POST", "/v1/orders", buyer, `{"show_id":"` + uuid.NewString() + `","items":[{"section":"floor","quantity":1}]}`, 404, ""},
		{"missing token", "POST", "/v1/orders", "", order(`"items":[{"section":"floor","quantity":1}]`), 401, ""},
		{"forged token", "POST", "/v1/orders", forged, order(`"items":[{"section":"floor","quantity":1}]`), 401, ""},
		{"garbage token", "POST", "/v1/orders", "not-a-jwt", order(`"items":[{"section":"floor","quantity":1}]`), 401, ""},
		{"status from the client", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":1}],"status":"confirmed"`), 400, "status"},
		{"owner from the client", "POST", "/v1/shows", org, `{"title":"x","venue":"y","starts_at":"2030-01-01T00:00:00Z","organizer_id":"` + uuid.NewString() + `","sections":[{"name":"a","price_cents":1,"capacity":1}]}`, 400, "organizer_id"},
		{"show without sections", "POST", "/v1/shows", org, `{"title":"x","venue":"y","starts_at":"2030-01-01T00:00:00Z","sections":[]}`, 422, "sections"},
		{"show with negative price", "POST", "/v1/shows", org, `{"title":"x","venue":"y","starts_at":"2030-01-01T00:00:00Z","sections":[{"name":"a","price_cents":-5,"capacity":1}]}`, 422, "sections[0].price_cents"},
		{"show without price", "POST", "/v1/shows", org, `{"title":"x","venue":"y","starts_at":"2030-01-01T00:00:00Z","sections":[{"name":"a","capacity":1}]}`, 422, "sections[0].price_cents"},
		{"bad time", "POST", "/v1/shows", org, `{"title":"x","venue":"y","starts_at":"tomorrow","sections":[{"name":"a","price_cents":1,"capacity":1}]}`, 400, ""},
		{"oversized body", "POST", "/v1/orders", buyer, `{"show_id":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"a key given twice", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":1}],"show_id":"` + uuid.NewString() + `"`), 400, "show_id"},
		{"a key given twice in another case", "POST", "/v1/users", "", `{"email":"case@example.com","password":"correct horse battery","role":"buyer","ROLE":"organizer"}`, 400, "ROLE"},
		{"a nested key given twice", "POST", "/v1/orders", buyer, order(`"items":[{"section":"floor","quantity":1,"Quantity":4}]`), 400, "items[0].Quantity"},
		{"a query parameter on a write", "POST", "/v1/orders?dry_run=true", buyer, order(`"items":[{"section":"floor","quantity":1}]`), 400, "dry_run"},
		{"a repeated query parameter", "GET", "/v1/shows?limit=1&limit=200", "", nil, 400, "limit"},
		{"a query that does not parse", "GET", "/v1/shows?limit=1;cursor=x", "", nil, 400, "limit"},
		{"a bad escape in a query", "GET", "/v1/me/orders?cursor=%zz", buyer, nil, 400, "cursor"},
		{"an unknown query parameter", "GET", "/v1/me/orders?status=held", buyer, nil, 400, "status"},
		{"pay without token", "POST", "/v1/orders/" + uuid.NewString() + "/pay", buyer, `{}`, 422, "payment_token"},
		{"pay with unknown card token", "POST", "/v1/orders/" + uuid.NewString() + "/pay", buyer, `{"payment_token":"tok_nope"}`, 404, ""},
		{"path id not a uuid", "POST", "/v1/orders/123/cancel", buyer, nil, 404, ""},
		{"bad sign-up", "POST", "/v1/users", "", `{"email":"nope","password":"short","role":"admin"}`, 422, "email"},
		{"wrong password", "POST", "/v1/tokens", "", `{"email":"nobody@example.com","password":"whatever-it-is"}`, 401, ""},
		{"no such route", "POST", "/v1/nothing", buyer, `{}`, 404, ""},
		{"wrong method", "DELETE", "/v1/orders", buyer, nil, 405, ""},
	}
	s.refusesAll(t, cases)
	s.audit()
}

// badInput is a request the API must refuse with a problem of status want,
// naming field unless it is empty.
type badInput struct {
	name, method, path, token string
	body                      any
	want                      int
	field                     string
}

// refusesAll sends each request of cases in a subtest, checks its problem
// answer, and that none of them wrote an event.
func (s *server) refusesAll(t *testing.T, cases []badInput) {
	t.Helper()
	before := eventCount(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(c.method, c.path, c.token, c.body)
			if r.status != c.want {
				t.Fatalf("status = %d, want %d; body %s", r.status, c.want, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type = %q", ct)
			}
			if num(r.body["status"]) != c.want || r.str("title") == "" || r.str("type") == "" {
				t.Fatalf("problem body: %s", r.raw)
			}
			if c.field != "" && !strings.Contains(string(r.raw), `"field":"`+c.field+`"`) {
				t.Fatalf("no field error for %s: %s", c.field, r.raw)
			}
		})
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("bad input wrote %d events", after-before)
	}
}

// 200 buyers race for 100 GA units through two engines on one database:
// exactly 100 holds, the rest 409, and the read model agrees.
func TestServe_GARace(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	a, b := startServer(t, db, time.Minute), startServer(t, db, time.Minute)
	org := a.token("organizer")
	show, _ := a.publishedShow(org, 100)
	buyers := make([]string, 200)
	for i := range buyers {
		buyers[i] = a.token("buyer")
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i, tok := range buyers {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		wg.Go(func() {
			r := srv.call("POST", "/v1/orders", tok, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})
			mu.Lock()
			defer mu.Unlock()
			codes[r.status]++
		})
	}
	wg.Wait()
	if codes[201] != 100 || codes[409] != 100 {
		t.Fatalf("statuses = %v, want 100 × 201 and 100 × 409", codes)
	}
	// Wait for the read model to have every hold, on both engines.
	deadline := time.Now().Add(5 * time.Second)
	for _, srv := range []*server{a, b} {
		for {
			// The show itself may not be projected yet on a loaded machine.
			r := srv.call("GET", "/v1/shows/"+show, "", nil)
			var f map[string]any
			if r.status == 200 {
				f = section(t, r, "floor")
				if num(f["held"]) == 100 && num(f["available"]) == 0 && num(f["sold"]) == 0 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("read model: %d %v", r.status, f)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var orders int
	if err := a.e.pool.QueryRow(context.Background(), "select count(*) from events where type = 'order.placed'").Scan(&orders); err != nil {
		t.Fatal(err)
	}
	if orders != 100 {
		t.Fatalf("order.placed events = %d, want 100", orders)
	}
	if r := a.audit(); r.Orders != 100 {
		t.Errorf("the audit saw %d orders, want 100", r.Orders)
	}
}

// 200 shows created at 500, each edited to 1000 then 1500 by concurrent
// clients: every show's read model ends at 1500.
func TestServe_ConcurrentPriceEdits(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	ids := make([]string, 200)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ids[i] = s.must(201, s.call("POST", "/v1/shows", org, gaShow(10))).str("id")
		})
	}
	wg.Wait()
	var mu sync.Mutex
	last := map[string]string{}
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, price := range []int{1000, 1500} {
				r := s.must(200, s.call("PATCH", "/v1/shows/"+id, org, map[string]any{"sections": []any{map[string]any{"name": "floor", "price_cents": price}}}))
				mu.Lock()
				last[id] = r.str("position")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		v := s.read("/v1/shows/"+id, org, last[id])
		if got := num(section(t, v, "floor")["price_cents"]); got != 1500 {
			t.Fatalf("show %s price = %d, want 1500", id, got)
		}
	}
	s.audit()
}

func TestServe_IdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	body := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}
	key := uuid.NewString()
	first := s.must(201, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key))
	before := eventCount(t, s)
	again := s.must(201, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key))
	if !bytes.Equal(first.raw, again.raw) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", first.raw, again.raw)
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("the retry wrote %d events", after-before)
	}
	body["items"] = []any{map[string]any{"section": "floor", "quantity": 3}}
	s.must(422, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key))
	// Keys are per user: another buyer's same key is a new request.
	s.must(201, s.call("POST", "/v1/orders", s.token("buyer"), body, "Idempotency-Key", key))
	// Payment replays too: one charge, the same tickets.
	pay := map[string]any{"payment_token": "tok_visa"}
	payKey := uuid.NewString()
	p1 := s.must(200, s.call("POST", "/v1/orders/"+first.str("id")+"/pay", buyer, pay, "Idempotency-Key", payKey))
	p2 := s.must(200, s.call("POST", "/v1/orders/"+first.str("id")+"/pay", buyer, pay, "Idempotency-Key", payKey))
	if !bytes.Equal(p1.raw, p2.raw) {
		t.Fatalf("pay replay differs")
	}
	// Since before: the other buyer's hold (2 events) and one payment (2).
	if n := eventCount(t, s); n != before+4 {
		t.Fatalf("events = %d, want %d", n, before+4)
	}
	s.audit()
}

func TestServe_Health(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	s.must(200, s.call("GET", "/livez", "", nil))
	s.must(200, s.call("GET", "/readyz", "", nil))
	r := s.call("GET", "/v1/shows", "", nil, "X-Min-Position", "not-a-position")
	if r.status != 400 {
		t.Fatalf("bad X-Min-Position: %d", r.status)
	}
	// Beyond the end of the log: refused at once, not after the wait.
	start := time.Now()
	r = s.call("GET", "/v1/shows", "", nil, "X-Min-Position", fmt.Sprint(1<<40))
	if r.status != 400 || !strings.Contains(string(r.raw), "X-Min-Position") {
		t.Fatalf("X-Min-Position beyond the log: %d %s", r.status, r.raw)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v, want at once", d)
	}
}

// metrics returns what the ops listener serves at /metrics.
func (s *server) metrics() string {
	s.t.Helper()
	public := s.url
	s.url = s.opsURL
	defer func() { s.url = public }()
	return string(s.must(200, s.call("GET", "/metrics", "", nil)).raw)
}

func TestServe_MetricsAndStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	_, pos := s.publishedShow(org, 5)
	s.read("/v1/shows", "", pos)
	s.must(404, s.call("GET", "/metrics", "", nil)) // not on the public listener
	m := s.metrics()
	for _, want := range []string{
		`ticketing_http_requests_total{code="201",method="POST",route="/v1/shows"} 1`,
		`ticketing_http_request_duration_seconds_bucket{method="POST",route="/v1/shows/{id}/publish"`,
		`ticketing_projection_lag_events{projection="shows"} 0`,
		`ticketing_projection_stalled{projection="orders"} 0`,
		`ticketing_log_head_position 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	r, err := report(context.Background(), s.e.store, s.e.queries)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printStatus(&out, r, false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shows", "orders", "sales", "holds"} {
		if !strings.Contains(out.String(), name+"  ") {
			t.Errorf("status lacks %s:\n%s", name, out.String())
		}
	}
	if !strings.Contains(out.String(), "live") || !strings.Contains(out.String(), "in-process") {
		t.Errorf("status:\n%s", out.String())
	}
}

// Many buyers race for the seats of one show through two engines on one
// database, with holds batched per show in each: no seat is held twice,
// every accepted hold is in the read model, every rejected one got 409.
func TestServe_SeatRace(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	a, b := startServer(t, db, time.Minute), startServer(t, db, time.Minute)
	org := a.token("organizer")
	show, _ := a.publishedShow(org, 10) // balcony: rows A and B, 3 seats each
	type result struct {
		status int
		order  string
		seats  []string
		pos    string
	}
	results := make([]result, 120)
	var wg sync.WaitGroup
	for i := range results {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		tok := srv.token("buyer")
		seats := []any{map[string]any{"section": "balcony", "row": []string{"A", "B"}[i%2], "seat": 1 + i%3}}
		names := []string{fmt.Sprintf("%s%d", []string{"A", "B"}[i%2], 1+i%3)}
		if i%4 == 0 {
			seats = append(seats, map[string]any{"section": "balcony", "row": []string{"A", "B"}[(i+1)%2], "seat": 1 + (i+1)%3})
			names = append(names, fmt.Sprintf("%s%d", []string{"A", "B"}[(i+1)%2], 1+(i+1)%3))
		}
		wg.Go(func() {
			r := srv.call("POST", "/v1/orders", tok, map[string]any{"show_id": show, "seats": seats})
			results[i] = result{status: r.status, order: r.str("id"), seats: names, pos: r.str("position")}
		})
	}
	wg.Wait()
	held := map[string]string{} // seat → order
	last := ""
	for _, r := range results {
		switch r.status {
		case 201:
			for _, s := range r.seats {
				if other, dup := held[s]; dup {
					t.Fatalf("seat %s held by %s and %s", s, other, r.order)
				}
				held[s] = r.order
			}
			if len(r.pos) > len(last) || (len(r.pos) == len(last) && r.pos > last) {
				last = r.pos
			}
		case 409:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if len(held) == 0 || len(held) > 6 {
		t.Fatalf("%d seats held", len(held))
	}
	got := 0
	for seat, state := range seatMapStates(t, a, show, last) {
		if state == "held" {
			got++
			if _, ok := held[strings.ReplaceAll(strings.TrimPrefix(seat, "balcony/"), "/", "")]; !ok {
				t.Errorf("seat %s held in the read model, by no accepted hold", seat)
			}
		}
	}
	if got != len(held) {
		t.Fatalf("read model holds %d seats, the accepted holds %d", got, len(held))
	}
	for _, r := range results {
		if r.status == 201 {
			if o := a.call("GET", "/v1/orders/"+r.order, a.token("admin"), nil, "X-Min-Position", last); o.status != 200 || o.str("status") != "held" {
				t.Fatalf("accepted order %s in the read model: %d %s", r.order, o.status, o.raw)
			}
		}
	}
	a.audit()
}
