package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// offersIn returns the buyers and orders of a show's waiting-list offers,
// in log order, whichever engine wrote them.
func offersIn(t *testing.T, s *server, show string) (buyers, orders []string) {
	t.Helper()
	rows, err := s.e.pool.Query(context.Background(),
		`select data from events where type = 'show.waitlist_offered' and stream_id = $1 order by position`, "show-"+show)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		var e struct {
			BuyerID string `json:"buyer_id"`
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		buyers, orders = append(buyers, e.BuyerID), append(orders, e.OrderID)
	}
	return buyers, orders
}

// joinOrder returns the buyers of a show's joins, in log order.
func joinOrder(t *testing.T, s *server, show string) []string {
	t.Helper()
	var out []string
	rows, err := s.e.pool.Query(context.Background(),
		`select data->>'buyer_id' from events where type = 'show.waitlist_joined' and stream_id = $1 order by position`, "show-"+show)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// waitOffers waits until a show has n offers, and a moment more to see
// that no more come.
func waitOffers(t *testing.T, s *server, show string, n int, within time.Duration) (buyers, orders []string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		buyers, orders = offersIn(t, s, show)
		if len(buyers) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	buyers, orders = offersIn(t, s, show)
	if len(buyers) != n {
		t.Fatalf("%d offers, want %d", len(buyers), n)
	}
	return buyers, orders
}

// buyerToken mints a token for a new buyer, as server.token does, and
// returns the buyer's id with it.
func buyerToken(t *testing.T, s *server) (id, token string) {
	t.Helper()
	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	uid := uuid.New()
	registerUser(t, s.e.pool, uid, domain.RoleBuyer)
	tok, _, err := tokens.Issue(domain.Actor{UserID: uid, Role: domain.RoleBuyer})
	if err != nil {
		t.Fatal(err)
	}
	return uid.String(), tok
}

// waitlistServer starts a server with a published show of 2 floor units,
// its organizer and two buyers: a holder and a waiter.
func waitlistServer(t *testing.T, db string) (s *server, org, holder, waiter, show string) {
	t.Helper()
	s = startServer(t, db, time.Minute)
	org, holder, waiter = s.token("organizer"), s.token("buyer"), s.token("buyer")
	show, _ = s.publishedShow(org, 2)
	return s, org, holder, waiter, show
}

// Every waiting-list route over HTTP: join, place, leave, the organizer's
// counts, the offer that a release makes and its payment; hostile input
// gets problem+json and writes nothing.
func TestServe_Waitlist(t *testing.T) {
	t.Parallel()
	s, org, holder, waiter, show := waitlistServer(t, pgtest.SchemaURL(t))
	path := "/v1/shows/" + show + "/waitlist"
	join := map[string]any{"section": "floor", "quantity": 2}
	if r := s.must(409, s.call("POST", path, waiter, join)); r.str("type") != "urn:problem:ticketing:buy-instead" {
		t.Fatalf("join with units left: %s", r.raw)
	}
	held := s.must(201, s.call("POST", "/v1/orders", holder, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}})).str("id")
	s.must(201, s.call("POST", path, waiter, join))
	if r := s.must(409, s.call("POST", path, waiter, join)); r.str("type") != "urn:problem:ticketing:already-waiting" {
		t.Fatalf("join twice: %s", r.raw)
	}
	places := s.must(200, s.call("GET", path, waiter, nil)).body["places"].([]any)
	if len(places) != 1 || num(places[0].(map[string]any)["place"]) != 1 {
		t.Fatalf("places = %v", places)
	}
	secs := s.must(200, s.call("GET", path, org, nil)).body["sections"].([]any)
	if len(secs) != 1 || num(secs[0].(map[string]any)["waiting"]) != 1 || num(secs[0].(map[string]any)["units"]) != 2 {
		t.Fatalf("organizer's sections = %v", secs)
	}
	s.must(200, s.call("DELETE", path, waiter, map[string]any{"section": "floor"}))
	s.must(404, s.call("DELETE", path, waiter, map[string]any{"section": "floor"}))
	pos := s.must(201, s.call("POST", path, waiter, join)).str("position")
	mine := s.read("/v1/me/waitlist", waiter, pos).body["places"].([]any)
	if len(mine) != 1 || num(mine[0].(map[string]any)["place"]) != 1 || mine[0].(map[string]any)["show_id"] != show {
		t.Fatalf("read model places = %v", mine)
	}
	hostileWaitlist(t, s, show, waiter)
	// The holder cancels: the waiter gets the two units as a hold, and pays.
	pos = s.must(200, s.call("POST", "/v1/orders/"+held+"/cancel", holder, nil)).str("position")
	if offers := s.read("/v1/me/waitlist", waiter, pos).body["offers"].([]any); len(offers) != 1 || num(offers[0].(map[string]any)["quantity"]) != 2 {
		t.Fatalf("read model offers = %v", offers)
	}
	offers := s.must(200, s.call("GET", path, waiter, nil)).body["offers"].([]any)
	if len(offers) != 1 {
		t.Fatalf("offers = %v", offers)
	}
	order := offers[0].(map[string]any)["order_id"].(string)
	s.must(200, s.call("POST", "/v1/orders/"+order+"/pay", waiter, map[string]any{"payment_token": "tok_visa"}))
	if places := s.must(200, s.call("GET", path, waiter, nil)).body["places"].([]any); len(places) != 0 {
		t.Fatalf("still waiting after the offer: %v", places)
	}
	s.audit()
}

func hostileWaitlist(t *testing.T, s *server, show, buyer string) {
	path := "/v1/shows/" + show + "/waitlist"
	org := s.token("organizer")
	cases := []badInput{
		{"malformed JSON", "POST", path, buyer, `{"section":`, 400, ""},
		{"unknown field", "POST", path, buyer, `{"section":"floor","quantity":1,"place":1}`, 400, "place"},
		{"a key given twice", "POST", path, buyer, `{"section":"floor","quantity":1,"section":"pit"}`, 400, "section"},
		{"wrong type", "POST", path, buyer, `{"section":"floor","quantity":"1"}`, 400, "quantity"},
		{"no section", "POST", path, buyer, `{"quantity":1}`, 422, "section"},
		{"zero quantity", "POST", path, buyer, `{"section":"floor","quantity":0}`, 422, "quantity"},
		{"huge quantity", "POST", path, buyer, `{"section":"floor","quantity":1000000000000}`, 422, "quantity"},
		{"seated section", "POST", path, buyer, `{"section":"balcony","quantity":1}`, 422, "section"},
		{"control characters", "POST", path, buyer, `{"section":"flo\u0000or","quantity":1}`, 422, "section"},
		{"oversized body", "POST", path, buyer, `{"section":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"an organizer joins", "POST", path, org, `{"section":"floor","quantity":1}`, 403, ""},
		{"no token", "POST", path, "", `{"section":"floor","quantity":1}`, 401, ""},
		{"unknown show", "POST", "/v1/shows/" + uuid.NewString() + "/waitlist", buyer, `{"section":"floor","quantity":1}`, 404, ""},
		{"path id not a uuid", "POST", "/v1/shows/123/waitlist", buyer, `{"section":"floor","quantity":1}`, 404, ""},
		{"a query parameter", "POST", path + "?dry_run=1", buyer, `{"section":"floor","quantity":1}`, 400, "dry_run"},
		{"leave without a section", "DELETE", path, buyer, `{}`, 422, "section"},
		{"leave another section", "DELETE", path, buyer, `{"section":"pit"}`, 404, ""},
		{"leave with an unknown field", "DELETE", path, buyer, `{"section":"floor","buyer_id":"x"}`, 400, "buyer_id"},
		{"a view with a body", "GET", path, buyer, `{"x":1}`, 400, ""},
		{"a view without a token", "GET", path, "", nil, 401, ""},
		{"wrong method", "PUT", path, buyer, nil, 405, ""},
		{"the read model with a query", "GET", "/v1/me/waitlist?show=1", buyer, nil, 400, "show"},
		{"the read model without a token", "GET", "/v1/me/waitlist", "", nil, 401, ""},
	}
	s.refusesAll(t, cases)
}

// Two engines on one database: 10 buyers join a sold-out floor through
// both; 3 holds run out and their expirers race: exactly 3 offers, in join
// order, the rest wait; one offer is paid, two run out and pass on to the
// next two; the auditor is clean.
func TestServe_WaitlistRace(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	window := func(c *Config) { c.WaitlistOfferWindow = 2 * time.Second }
	a, b := startServer(t, db, 2*time.Second, window), startServer(t, db, 2*time.Second, window)
	org, holder := a.token("organizer"), a.token("buyer")
	const m = 10
	tokens := map[string]string{} // buyer id → token
	var ids []string
	for range m {
		id, tok := buyerToken(t, a)
		tokens[id], ids = tok, append(ids, id)
	}
	show, _ := a.publishedShow(org, 4)
	var holds []string
	for range 4 {
		holds = append(holds, a.must(201, a.call("POST", "/v1/orders", holder, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})).str("id"))
	}
	a.must(200, a.call("POST", "/v1/orders/"+holds[0]+"/pay", holder, map[string]any{"payment_token": "tok_visa"}))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, id := range ids {
		srv, tok := []*server{a, b}[i%2], tokens[id]
		wg.Go(func() {
			r := srv.call("POST", "/v1/shows/"+show+"/waitlist", tok, map[string]any{"section": "floor", "quantity": 1})
			mu.Lock()
			defer mu.Unlock()
			if r.status != 201 {
				t.Errorf("join: %d %s", r.status, r.raw)
			}
		})
	}
	wg.Wait()
	order := joinOrder(t, a, show)
	if len(order) != m {
		t.Fatalf("%d joins, want %d", len(order), m)
	}
	buyers, orders := waitOffers(t, a, show, 3, 10*time.Second)
	assertInOrder(t, buyers, order[:3])
	if secs := a.must(200, a.call("GET", "/v1/shows/"+show+"/waitlist", org, nil)).body["sections"].([]any); num(secs[0].(map[string]any)["waiting"]) != m-3 {
		t.Fatalf("sections = %v", secs)
	}
	a.must(200, b.call("POST", "/v1/orders/"+orders[0]+"/pay", tokens[buyers[0]], map[string]any{"payment_token": "tok_visa"}))
	buyers, _ = waitOffers(t, a, show, 5, 10*time.Second)
	assertInOrder(t, buyers, order[:5])
	a.audit()
}

func assertInOrder(t *testing.T, got, want []string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("offer %d went to %s, want %s: offers %v, joins %v", i, got[i], want[i], got, want)
		}
	}
}
