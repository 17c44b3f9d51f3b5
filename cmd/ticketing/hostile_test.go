package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// showBody is a valid show to create, as JSON, with extra fields merged in.
func showBody(extra map[string]any) map[string]any {
	b := gaShow(10)
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// Hostile input gets a 422 naming the field, and writes nothing.
func TestServe_HostileInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	rows := func(n, seats int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"row": fmt.Sprintf("R%d", i), "seat_count": seats}
		}
		return out
	}
	var huge []any // 5 × 200 rows × 500 seats: 500,000 seats
	for i := range 5 {
		huge = append(huge, map[string]any{"name": fmt.Sprintf("block %d", i), "price_cents": 100, "rows": rows(200, 500)})
	}
	sections, prices := make([]any, 101), make([]any, 101)
	for i := range sections {
		sections[i] = map[string]any{"name": fmt.Sprintf("s%d", i), "price_cents": 1, "capacity": 1}
		prices[i] = map[string]any{"name": fmt.Sprintf("s%d", i), "price_cents": 1}
	}
	past, far := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().AddDate(6, 0, 0).UTC().Format(time.RFC3339)
	cases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"quantities whose sum wraps", "POST", "/v1/orders",
			`{"show_id":"` + show + `","items":[{"section":"floor","quantity":9223372036854775807},{"section":"floor","quantity":9223372036854775709}]}`, "items[0].quantity"},
		{"a negative quantity after a huge one", "POST", "/v1/orders",
			`{"show_id":"` + show + `","items":[{"section":"floor","quantity":9223372036854775807},{"section":"floor","quantity":-9223372036854775807}]}`, "items[1].quantity"},
		{"too many items", "POST", "/v1/orders",
			`{"show_id":"` + show + `","items":[` + strings.Repeat(`{"section":"floor","quantity":1},`, 50) + `{"section":"floor","quantity":1}]}`, "items"},
		{"NUL in the title", "POST", "/v1/shows", showBody(map[string]any{"title": "Night\u0000Gig"}), "title"},
		{"newline in the title", "POST", "/v1/shows", showBody(map[string]any{"title": "Night\nGig"}), "title"},
		{"C1 control in the venue", "POST", "/v1/shows", showBody(map[string]any{"venue": "Main\u0085Hall"}), "venue"},
		{"bidi override in the venue", "POST", "/v1/shows", showBody(map[string]any{"venue": "Main\u202eHall"}), "venue"},
		{"title too long", "POST", "/v1/shows", showBody(map[string]any{"title": strings.Repeat("x", 201)}), "title"},
		{"escape sequence in a section name", "POST", "/v1/shows", showBody(map[string]any{"sections": []any{
			map[string]any{"name": "floor\u001b[2J", "price_cents": 1, "capacity": 1}}}), "sections[0].name"},
		{"tab in a row label", "POST", "/v1/shows", showBody(map[string]any{"sections": []any{
			map[string]any{"name": "box", "price_cents": 1, "rows": []any{map[string]any{"row": "A\tB", "seat_count": 2}}}}}), "sections[0].rows[0].row"},
		{"a 500,000-seat show", "POST", "/v1/shows", showBody(map[string]any{"sections": huge}), "sections"},
		{"too many sections", "POST", "/v1/shows", showBody(map[string]any{"sections": sections}), "sections"},
		{"too many seats in a row", "POST", "/v1/shows", showBody(map[string]any{"sections": []any{
			map[string]any{"name": "box", "price_cents": 1, "rows": rows(1, 501)}}}), "sections[0].rows[0].seat_count"},
		{"start in the past", "POST", "/v1/shows", showBody(map[string]any{"starts_at": past}), "starts_at"},
		{"start six years ahead", "POST", "/v1/shows", showBody(map[string]any{"starts_at": far}), "starts_at"},
		{"no per-buyer limit", "POST", "/v1/shows", showBody(map[string]any{"max_units_per_buyer": 0}), "max_units_per_buyer"},
		{"edit: start in the past", "PATCH", "/v1/shows/" + show, map[string]any{"starts_at": past}, "starts_at"},
		{"edit: start six years ahead", "PATCH", "/v1/shows/" + show, map[string]any{"starts_at": far}, "starts_at"},
		{"edit: NUL in the venue", "PATCH", "/v1/shows/" + show, map[string]any{"venue": "x\u0000"}, "venue"},
		{"edit: negative per-buyer limit", "PATCH", "/v1/shows/" + show, map[string]any{"max_units_per_buyer": -1}, "max_units_per_buyer"},
		{"edit: too many sections", "PATCH", "/v1/shows/" + show, map[string]any{"sections": prices}, "sections"},
	}
	before := eventCount(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := org
			if c.path == "/v1/orders" {
				token = buyer
			}
			r := s.call(c.method, c.path, token, c.body)
			if r.status != 422 || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status = %d, want 422; body %s", r.status, r.raw)
			}
			if !strings.Contains(string(r.raw), `"field":"`+c.field+`"`) {
				t.Fatalf("no field error for %s: %s", c.field, r.raw)
			}
		})
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("hostile input wrote %d events", after-before)
	}
}

// A free ticket is confirmed without a charge; a show that has started
// sells nothing more.
func TestServe_FreeTicketsAndStart(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	starts := time.Now().Add(3 * time.Second)
	id := s.must(201, s.call("POST", "/v1/shows", org, map[string]any{"title": "Free gig", "venue": "Park",
		"starts_at": starts.UTC().Format(time.RFC3339Nano), "sections": []any{map[string]any{"name": "lawn", "price_cents": 0, "capacity": 5}}})).str("id")
	s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil))
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": id, "items": []any{map[string]any{"section": "lawn", "quantity": 2}}}))
	if num(held.body["total_cents"]) != 0 {
		t.Fatalf("hold: %s", held.raw)
	}
	paid := s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	if tickets, _ := paid.body["tickets"].([]any); paid.str("status") != "confirmed" || len(tickets) != 2 {
		t.Fatalf("pay a free order: %s", paid.raw)
	}
	if o := s.read("/v1/orders/"+held.str("id"), buyer, paid.str("position")); o.str("status") != "confirmed" {
		t.Fatalf("order view: %s", o.raw)
	}
	time.Sleep(time.Until(starts))
	r := s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": id, "items": []any{map[string]any{"section": "lawn", "quantity": 1}}})
	if r.status != 409 || r.str("type") != "urn:problem:ticketing:show-started" {
		t.Fatalf("hold after the start: %d %s", r.status, r.raw)
	}
}

// One buyer races many holds through two engines on one database, with
// holds batched per show in each: the units held never pass the show's
// per-buyer limit, and every refusal is a 409.
func TestServe_BuyerLimitRace(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	a, b := startServer(t, db, time.Minute), startServer(t, db, time.Minute)
	org := a.token("organizer")
	const limit = 4
	show := a.must(201, a.call("POST", "/v1/shows", org, showBody(map[string]any{"max_units_per_buyer": limit}))).str("id")
	a.must(200, a.call("POST", "/v1/shows/"+show+"/publish", org, nil))
	buyer := a.token("buyer") // one buyer, both engines: the token is valid on either
	codes := map[string]int{}
	var mu sync.Mutex
	units := 0
	var wg sync.WaitGroup
	for i := range 80 {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		body := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1 + i%2}}}
		n := 1 + i%2
		if i%5 == 0 {
			body = map[string]any{"show_id": show, "seats": []any{map[string]any{"section": "balcony", "row": []string{"A", "B"}[i%2], "seat": 1 + i%3}}}
			n = 1
		}
		wg.Go(func() {
			r := srv.call("POST", "/v1/orders", buyer, body)
			mu.Lock()
			defer mu.Unlock()
			codes[fmt.Sprint(r.status, " ", r.str("type"))]++
			if r.status == 201 {
				units += n
			}
		})
	}
	wg.Wait()
	for code := range codes {
		switch code {
		case "201 ", "409 urn:problem:ticketing:buyer-limit", "409 urn:problem:ticketing:seat-taken":
		default:
			t.Fatalf("statuses %v", codes)
		}
	}
	if units > limit || units < limit-1 || codes["409 urn:problem:ticketing:buyer-limit"] == 0 {
		t.Fatalf("%d units held, limit %d; statuses %v", units, limit, codes)
	}
	// What the show's stream recorded, whichever engine wrote it.
	rows, err := a.e.pool.Query(context.Background(), `select data from events where type = 'show.seats_held' and stream_id = $1`, "show-"+show)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := 0
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		var e struct {
			Items []struct{ Quantity int } `json:"items"`
			Seats []json.RawMessage        `json:"seats"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		stored += len(e.Seats)
		for _, it := range e.Items {
			stored += it.Quantity
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if stored != units {
		t.Fatalf("the show's stream holds %d units, the answers %d", stored, units)
	}
	// The organizer raises the limit: the buyer may hold more.
	a.must(200, a.call("PATCH", "/v1/shows/"+show, org, map[string]any{"max_units_per_buyer": limit + 2}))
	b.must(201, b.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": limit + 2 - units}}}))
	a.must(409, a.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	// The whole log, limit changes included, kept every buyer within it.
	for _, c := range a.audit().Checks {
		if c.Name == domain.AuditBuyerLimit && c.Checked == 0 {
			t.Errorf("the audit checked no hold against the per-buyer limit: %+v", c)
		}
	}
}

// What PostgreSQL cannot hold as text (U+0000, bytes that are not UTF-8)
// never reaches a query as it is: a sign-in's email with a NUL names no
// account (it was a 500, schemathesis ST101), an Idempotency-Key must be
// printable ASCII (one with a byte over 0x7F was a 500), and a filter of
// the event history is refused. Nothing is written.
func TestServe_TextPostgresCannotHold(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer, admin := s.token("organizer"), s.token("buyer"), s.token("admin")
	show, _ := s.publishedShow(org, 10)
	hold := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}
	before := eventCount(t, s)
	for _, c := range []struct {
		name, method, path, token string
		body                      any
		headers                   []string
		status                    int
		typ, field                string // the problem's type, and the field it names ("" for none)
	}{
		{name: "a sign-in's email", method: "POST", path: "/v1/tokens",
			body: `{"email":"a\u0000b@example.com","password":"correct horse battery"}`, status: 401, typ: "invalid-credentials"},
		{name: "an Idempotency-Key not ASCII", method: "POST", path: "/v1/orders", token: buyer,
			body: hold, headers: []string{"Idempotency-Key", "clé\xff"}, status: 400, typ: "malformed-request"},
		{name: "an Idempotency-Key with a control character", method: "POST", path: "/v1/orders", token: buyer,
			body: hold, headers: []string{"Idempotency-Key", "a\tb"}, status: 400, typ: "malformed-request"},
		{name: "a stream filter with a NUL", method: "GET", path: "/v1/admin/events?stream=show-%00", token: admin,
			status: 400, typ: "invalid-request", field: "stream"},
		{name: "a stream filter not UTF-8", method: "GET", path: "/v1/admin/events?stream=%FF", token: admin,
			status: 400, typ: "invalid-request", field: "stream"},
		{name: "a type filter with a NUL", method: "GET", path: "/v1/admin/events?type=%00", token: admin,
			status: 400, typ: "invalid-request", field: "type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(c.method, c.path, c.token, c.body, c.headers...)
			problemOf(t, r, c.status, c.typ)
			if c.field != "" && !strings.Contains(string(r.raw), `"field":"`+c.field+`"`) {
				t.Fatalf("no field error for %q: %s", c.field, r.raw)
			}
		})
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("refused text wrote %d events", after-before)
	}
	s.audit()
}

// A payment token is at most 255 printable ASCII characters: unbounded,
// each attempt with another token cost the payment provider, which
// `serve` runs in memory, a key as long as the body. A refused token
// charges nothing and writes nothing, and the order can still be paid.
func TestServe_PaymentTokenBounded(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	order := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show,
		"items": []any{map[string]any{"section": "floor", "quantity": 1}}})).str("id")
	before := eventCount(t, s)
	for _, token := range []string{strings.Repeat("t", 256), strings.Repeat("t", 1<<19), "tok visa", "tok_visa\n", "tok_vísa"} {
		r := problemOf(t, s.call("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": token}), 422, "validation")
		if !strings.Contains(string(r.raw), `"field":"payment_token"`) {
			t.Errorf("%.20q: %s", token, r.raw)
		}
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("refused tokens wrote %d events", after-before)
	}
	s.must(200, s.call("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	s.audit()
}
