package main

import (
	"context"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// The waiting list of a ticket type over HTTP: a buyer joins the sold-out
// floor's child type by naming the type alone; the offer a cancellation
// makes is a hold of the type at its price in force; a type off sale, a
// hidden, unknown or misplaced type are refused, writing nothing; the
// auditor is clean.
func TestServe_WaitlistTicketType(t *testing.T) {
	t.Parallel()
	s, org, holder, waiter, show := waitlistServer(t, pgtest.SchemaURL(t))
	types := "/v1/shows/" + show + "/ticket-types"
	s.must(201, s.call("POST", types, org, map[string]any{"code": "child", "name": "Child", "section": "floor", "price_cents": 300}))
	s.must(201, s.call("POST", types, org, map[string]any{"code": "vip", "name": "VIP", "section": "floor", "price_cents": 2000, "hidden": true}))
	s.must(201, s.call("POST", types, org, map[string]any{"code": "late", "name": "Late", "section": "floor", "price_cents": 400,
		"on_sale_from": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}))
	path := "/v1/shows/" + show + "/waitlist"
	held := s.must(201, s.call("POST", "/v1/orders", holder, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}})).str("id")
	s.refusesAll(t, []badInput{
		{"a type off sale", "POST", path, waiter, `{"ticket_type":"late","quantity":1}`, 409, ""},
		{"a hidden type", "POST", path, waiter, `{"ticket_type":"vip","quantity":1}`, 422, "ticket_type"},
		{"an unknown type", "POST", path, waiter, `{"ticket_type":"adult","quantity":1}`, 422, "ticket_type"},
		{"a type of another section", "POST", path, waiter, `{"section":"balcony","ticket_type":"child","quantity":1}`, 422, "ticket_type"},
		{"a type not a string", "POST", path, waiter, `{"ticket_type":7,"quantity":1}`, 400, "ticket_type"},
	})
	j := s.must(201, s.call("POST", path, waiter, map[string]any{"ticket_type": "child", "quantity": 2}))
	if j.str("section") != "floor" || j.str("ticket_type") != "child" {
		t.Fatalf("join = %s", j.raw)
	}
	if mine := s.read("/v1/me/waitlist", waiter, j.str("position")).body["places"].([]any); len(mine) != 1 || mine[0].(map[string]any)["ticket_type"] != "child" {
		t.Fatalf("read model places = %v", mine)
	}
	if r := s.must(409, s.call("POST", path, waiter, map[string]any{"section": "floor", "quantity": 1})); r.str("type") != "urn:problem:ticketing:already-waiting" {
		t.Fatalf("join the section too: %s", r.raw)
	}
	places := s.must(200, s.call("GET", path, waiter, nil)).body["places"].([]any)
	if len(places) != 1 || places[0].(map[string]any)["ticket_type"] != "child" {
		t.Fatalf("places = %v", places)
	}
	// The child price changes before the offer: the offer is at 350.
	s.must(200, s.call("PATCH", types+"/child", org, map[string]any{"price_cents": 350}))
	pos := s.must(200, s.call("POST", "/v1/orders/"+held+"/cancel", holder, nil)).str("position")
	if mine := s.read("/v1/me/waitlist", waiter, pos).body["offers"].([]any); len(mine) != 1 || mine[0].(map[string]any)["ticket_type"] != "child" {
		t.Fatalf("read model offers = %v", mine)
	}
	offers := s.must(200, s.call("GET", path, waiter, nil)).body["offers"].([]any)
	if len(offers) != 1 || offers[0].(map[string]any)["ticket_type"] != "child" {
		t.Fatalf("offers = %v", offers)
	}
	order := offers[0].(map[string]any)["order_id"].(string)
	var price, total int64
	var typ string
	if err := s.e.pool.QueryRow(context.Background(), `select (data->'items'->0->>'unit_price_cents')::bigint, data->'items'->0->>'ticket_type',
		(data->>'total_cents')::bigint from events where type = 'show.seats_held' and data->>'order_id' = $1`, order).Scan(&price, &typ, &total); err != nil {
		t.Fatal(err)
	}
	if price != 350 || typ != "child" || total != 700 {
		t.Fatalf("the offer's hold: %d × %q, total %d; want 350 × child, 700", price, typ, total)
	}
	s.must(200, s.call("POST", "/v1/orders/"+order+"/pay", waiter, map[string]any{"payment_token": "tok_visa"}))
	s.audit()
}

// Units reserved for the waiting list are not available: not in the
// shows read model (GET /v1/shows/{id}), nor in ticketing state, while a
// public hold of them is refused.
func TestServe_WaitlistReservedNotAvailable(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	s, _, holder, waiter, show := waitlistServer(t, db)
	hold := func(q int) string {
		return s.must(201, s.call("POST", "/v1/orders", holder, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": q}}})).str("id")
	}
	first := hold(1)
	hold(1)
	s.must(201, s.call("POST", "/v1/shows/"+show+"/waitlist", waiter, map[string]any{"section": "floor", "quantity": 2}))
	pos := s.must(200, s.call("POST", "/v1/orders/"+first+"/cancel", holder, nil)).str("position")
	if r := s.must(409, s.call("POST", "/v1/orders", s.token("buyer"), map[string]any{"show_id": show,
		"items": []any{map[string]any{"section": "floor", "quantity": 1}}})); r.str("type") != "urn:problem:ticketing:sold-out" {
		t.Fatalf("a hold of the reserved unit: %s", r.raw)
	}
	floor := section(t, s.read("/v1/shows/"+show, "", pos), "floor")
	if num(floor["available"]) != 0 || num(floor["reserved"]) != 1 || num(floor["held"]) != 1 {
		t.Fatalf("floor = %v, want 0 available, 1 reserved, 1 held", floor)
	}
	var v stateView
	runJSON(t, &v, "state", "--database-url", db, "--stream", "show-"+show)
	if f := v.Show.Sections[0]; f.Available != 0 || f.Reserved != 1 || f.Held != 1 {
		t.Fatalf("state floor = %+v, want 0 available, 1 reserved, 1 held", f)
	}
	s.audit()
}
