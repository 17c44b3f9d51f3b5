package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// issue 14: rules. Ticket types, quotas, per-order limits and vouchers,
// end to end.

// rulesShow creates and publishes a show (floor of capacity, balcony of 6
// seats) with ticket types adult (floor, 500), child (floor, 300) and vip
// (balcony, 2000, hidden), and returns its id.
func (s *server) rulesShow(org string, capacity int) string {
	s.t.Helper()
	id := s.must(201, s.call("POST", "/v1/shows", org, gaShow(capacity))).str("id")
	for _, tt := range []map[string]any{
		{"code": "adult", "name": "Adult", "section": "floor", "price_cents": 500},
		{"code": "child", "name": "Child", "section": "floor", "price_cents": 300},
		{"code": "vip", "name": "VIP", "section": "balcony", "price_cents": 2000, "hidden": true},
	} {
		s.must(201, s.call("POST", "/v1/shows/"+id+"/ticket-types", org, tt))
	}
	s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil))
	return id
}

func items(show string, kv ...any) map[string]any {
	var its []any
	for i := 0; i+1 < len(kv); i += 2 {
		its = append(its, map[string]any{"ticket_type": kv[i], "quantity": kv[i+1]})
	}
	return map[string]any{"show_id": show, "items": its}
}

func TestServe_Rules(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show := s.rulesShow(org, 20)
	s.must(200, s.call("POST", "/v1/shows/"+show+"/quotas", org, map[string]any{"code": "KIDS", "units": 3, "ticket_types": []string{"child"}}))
	s.must(200, s.call("PUT", "/v1/shows/"+show+"/order-limits", org, map[string]any{"min_units_per_order": 1, "max_units_per_order": 4}))
	s.must(201, s.call("POST", "/v1/shows/"+show+"/vouchers", org, map[string]any{"code": "half", "kind": "percent", "percent_off": 50, "max_uses": 2}))
	s.must(201, s.call("POST", "/v1/shows/"+show+"/vouchers", org, map[string]any{"code": "PRESALE", "kind": "access", "ticket_types": []string{"vip"}, "max_uses": 1}))

	// Typed units at their prices, halved by the voucher; 15 cents of a
	// 30-cent discount per child unit... 300 × 50% = 150 exactly.
	h := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "voucher": "HALF",
		"items": []any{map[string]any{"ticket_type": "adult", "quantity": 1}, map[string]any{"ticket_type": "child", "quantity": 2}}}))
	if got := num(h.body["total_cents"]); got != 250+2*150 {
		t.Fatalf("total %d, want 550: %s", got, h.raw)
	}
	// The hidden type: refused without the voucher, held with it.
	vipSeat := map[string]any{"section": "balcony", "row": "A", "seat": 1, "ticket_type": "vip"}
	s.must(422, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "seats": []any{vipSeat}}))
	v := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "seats": []any{vipSeat}, "voucher": "presale"}))
	if num(v.body["total_cents"]) != 2000 {
		t.Fatalf("vip hold: %s", v.raw)
	}
	r := s.call("POST", "/v1/orders", s.token("buyer"), map[string]any{"show_id": show, "voucher": "PRESALE",
		"seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 2, "ticket_type": "vip"}}})
	if r.status != 409 || r.str("type") != "urn:problem:ticketing:voucher-used-up" {
		t.Fatalf("a used-up voucher: %d %s", r.status, r.raw)
	}
	// The quota: 2 of 3 child units are taken.
	r = s.call("POST", "/v1/orders", s.token("buyer"), items(show, "child", 2))
	if r.status != 409 || r.str("type") != "urn:problem:ticketing:quota-exhausted" {
		t.Fatalf("past the quota: %d %s", r.status, r.raw)
	}
	// The per-order limit.
	r = s.call("POST", "/v1/orders", s.token("buyer"), items(show, "adult", 5))
	if r.status != 422 || r.str("type") != "urn:problem:ticketing:order-limit" {
		t.Fatalf("past the per-order limit: %d %s", r.status, r.raw)
	}
	// The hold pays what it was quoted, though the price changes meanwhile.
	s.must(200, s.call("PATCH", "/v1/shows/"+show+"/ticket-types/adult", org, map[string]any{"price_cents": 900}))
	paid := s.must(200, s.call("POST", "/v1/orders/"+h.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	// A cancelled hold gives its voucher use back.
	s.must(200, s.call("POST", "/v1/orders/"+v.str("id")+"/cancel", buyer, nil))
	again := s.must(201, s.call("POST", "/v1/orders", s.token("buyer"), map[string]any{"show_id": show, "seats": []any{vipSeat}, "voucher": "PRESALE"}))
	// Disabled, the voucher is refused.
	disabled := s.must(200, s.call("POST", "/v1/shows/"+show+"/vouchers/half/disable", org, nil))
	r = s.call("POST", "/v1/orders", s.token("buyer"), map[string]any{"show_id": show, "voucher": "HALF", "items": []any{map[string]any{"ticket_type": "adult", "quantity": 1}}})
	if r.status != 422 || r.str("type") != "urn:problem:ticketing:voucher-invalid" {
		t.Fatalf("a disabled voucher: %d %s", r.status, r.raw)
	}

	// The show's page lists the public types at their prices.
	page := s.read("/v1/shows/"+show, "", again.str("position"))
	types, _ := page.body["ticket_types"].([]any)
	if len(types) != 2 || types[0].(map[string]any)["code"] != "adult" || num(types[0].(map[string]any)["price_cents"]) != 900 {
		t.Fatalf("the show's page: %s", page.raw)
	}
	// The organizer sees the quota and the voucher uses; the buyer may not.
	s.must(403, s.call("GET", "/v1/shows/"+show+"/rules", buyer, nil, "X-Min-Position", again.str("position")))
	// At the disabling's position: the rules read model must show it.
	if disabled.str("position") == "" {
		t.Fatalf("disabling a voucher answered no position: %s", disabled.raw)
	}
	rules := s.read("/v1/shows/"+show+"/rules", org, disabled.str("position"))
	if !strings.Contains(string(rules.raw), `"code":"KIDS","units":3,"ticket_types":["child"],"taken":2`) ||
		!strings.Contains(string(rules.raw), `"code":"HALF"`) || !strings.Contains(string(rules.raw), `"disabled":true,"uses":1`) ||
		!strings.Contains(string(rules.raw), `"code":"PRESALE"`) || num(rules.body["max_units_per_order"]) != 4 {
		t.Fatalf("the organizer's rules: %s", rules.raw)
	}
	if o := s.read("/v1/orders/"+h.str("id"), buyer, paid.str("position")); num(o.body["total_cents"]) != 550 {
		t.Fatalf("the paid order: %s", o.raw)
	}
	checkRulesAudited(t, s.audit())
}

func checkRulesAudited(t *testing.T, r domain.AuditReport) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == domain.AuditRules && c.Checked == 0 {
			t.Errorf("the audit checked no rule: %+v", c)
		}
	}
}

// Hostile rule bodies get a problem+json 4xx and write nothing.
func TestServe_RulesHostileInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show := s.rulesShow(org, 10)
	s.must(201, s.call("POST", "/v1/shows/"+show+"/vouchers", org, map[string]any{"code": "TEN", "kind": "fixed", "amount_off_cents": 10, "max_uses": 1}))
	other := s.token("organizer")
	p := "/v1/shows/" + show
	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
	}{
		{"type: no price", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor"}, 422},
		{"type: negative price", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor", "price_cents": -1}, 422},
		{"type: price past the largest", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor", "price_cents": 1e15}, 422},
		{"type: code with a space", org, "POST", p + "/ticket-types", map[string]any{"code": "a b", "name": "X", "section": "floor", "price_cents": 1}, 422},
		{"type: NUL in the name", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X\u0000", "section": "floor", "price_cents": 1}, 422},
		{"type: no such section", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "roof", "price_cents": 1}, 422},
		{"type: window backwards", org, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor", "price_cents": 1,
			"on_sale_from": "2030-01-02T00:00:00Z", "on_sale_until": "2030-01-01T00:00:00Z"}, 422},
		{"type: unknown field", org, "POST", p + "/ticket-types", `{"code":"x","name":"X","section":"floor","price_cents":1,"colour":"red"}`, 400},
		{"type: code twice", org, "POST", p + "/ticket-types", map[string]any{"code": "adult", "name": "X", "section": "floor", "price_cents": 1}, 409},
		{"type: another organizer", other, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor", "price_cents": 1}, 403},
		{"type: a buyer", buyer, "POST", p + "/ticket-types", map[string]any{"code": "x", "name": "X", "section": "floor", "price_cents": 1}, 403},
		{"patch: no such type", org, "PATCH", p + "/ticket-types/nope", map[string]any{"price_cents": 1}, 404},
		{"patch: code too long", org, "PATCH", p + "/ticket-types/" + strings.Repeat("x", 33), map[string]any{"price_cents": 1}, 404},
		{"patch: negative price", org, "PATCH", p + "/ticket-types/adult", map[string]any{"price_cents": -5}, 422},
		{"patch: section", org, "PATCH", p + "/ticket-types/adult", map[string]any{"section": "balcony"}, 400},
		{"quota: no units", org, "POST", p + "/quotas", map[string]any{"code": "Q", "units": 0, "sections": []string{"floor"}}, 422},
		{"quota: of nothing", org, "POST", p + "/quotas", map[string]any{"code": "Q", "units": 2}, 422},
		{"quota: units that wrap", org, "POST", p + "/quotas", `{"code":"Q","units":9223372036854775808,"sections":["floor"]}`, 400},
		{"quota: no such type", org, "POST", p + "/quotas", map[string]any{"code": "Q", "units": 2, "ticket_types": []string{"senior"}}, 422},
		{"limits: min over max", org, "PUT", p + "/order-limits", map[string]any{"min_units_per_order": 5, "max_units_per_order": 4}, 422},
		{"limits: max past the largest", org, "PUT", p + "/order-limits", map[string]any{"min_units_per_order": 1, "max_units_per_order": 51}, 422},
		{"limits: missing", org, "PUT", p + "/order-limits", map[string]any{"min_units_per_order": 1}, 422},
		{"voucher: percent past 100", org, "POST", p + "/vouchers", map[string]any{"code": "X", "kind": "percent", "percent_off": 101, "max_uses": 1}, 422},
		{"voucher: negative amount", org, "POST", p + "/vouchers", map[string]any{"code": "X", "kind": "fixed", "amount_off_cents": -1, "max_uses": 1}, 422},
		{"voucher: no uses", org, "POST", p + "/vouchers", map[string]any{"code": "X", "kind": "percent", "percent_off": 10, "max_uses": 0}, 422},
		{"voucher: unknown kind", org, "POST", p + "/vouchers", map[string]any{"code": "X", "kind": "free", "max_uses": 1}, 422},
		{"voucher: control character in the code", org, "POST", p + "/vouchers", map[string]any{"code": "X\u202e", "kind": "percent", "percent_off": 1, "max_uses": 1}, 422},
		{"voucher: code twice, another case", org, "POST", p + "/vouchers", map[string]any{"code": "ten", "kind": "percent", "percent_off": 1, "max_uses": 1}, 409},
		{"voucher: trailing data", org, "POST", p + "/vouchers", `{"code":"X","kind":"percent","percent_off":1,"max_uses":1} {}`, 400},
		{"disable: no such voucher", org, "POST", p + "/vouchers/NOPE/disable", nil, 404},
		{"disable: another organizer", other, "POST", p + "/vouchers/TEN/disable", nil, 403},
		{"hold: no such type", buyer, "POST", "/v1/orders", items(show, "senior", 1), 422},
		{"hold: no such voucher", buyer, "POST", "/v1/orders", map[string]any{"show_id": show, "voucher": "NOPE", "items": []any{map[string]any{"section": "floor", "quantity": 1}}}, 422},
		{"hold: voucher of 10 kB", buyer, "POST", "/v1/orders", map[string]any{"show_id": show, "voucher": strings.Repeat("V", 10000), "items": []any{map[string]any{"section": "floor", "quantity": 1}}}, 422},
		{"hold: hidden type", buyer, "POST", "/v1/orders", map[string]any{"show_id": show, "seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 1, "ticket_type": "vip"}}}, 422},
		{"hold: type of another section", buyer, "POST", "/v1/orders", map[string]any{"show_id": show, "items": []any{map[string]any{"section": "balcony", "ticket_type": "adult", "quantity": 1}}}, 422},
	}
	before := eventCount(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(c.method, c.path, c.token, c.body)
			if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status = %d %s, want %d problem+json; body %s", r.status, r.header.Get("Content-Type"), c.status, r.raw)
			}
		})
	}
	if after := eventCount(t, s); after != before {
		t.Fatalf("hostile input wrote %d events", after-before)
	}
}

// raceHolds sends n holds, body(i) by buyer(i), alternately through a
// and b, and returns the answers by status and problem type.
func raceHolds(a, b *server, n int, buyer func(i int) string, body func(i int) map[string]any) map[string]int {
	codes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = buyer(i)
	}
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		wg.Go(func() {
			r := srv.call("POST", "/v1/orders", tokens[i], body(i))
			mu.Lock()
			defer mu.Unlock()
			codes[fmt.Sprint(r.status, " ", r.str("type"))]++
		})
	}
	wg.Wait()
	return codes
}

func wantCodes(t *testing.T, codes map[string]int, want map[string]int) {
	t.Helper()
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("answers %v, want %v", codes, want)
	}
}

// twoEngines starts two engines on one database.
func twoEngines(t *testing.T) (a, b *server) {
	db := pgtest.SchemaURL(t)
	return startServer(t, db, time.Minute), startServer(t, db, time.Minute)
}

// Many buyers race for a quota through two engines on one database:
// exactly its units are granted, the rest refused with a 409.
func TestServe_QuotaRace(t *testing.T) {
	t.Parallel()
	a, b := twoEngines(t)
	org := a.token("organizer")
	show := a.rulesShow(org, 100)
	a.must(200, a.call("POST", "/v1/shows/"+show+"/quotas", org, map[string]any{"code": "EARLY", "units": 7, "sections": []string{"floor", "balcony"}}))
	codes := raceHolds(a, b, 40, func(int) string { return a.token("buyer") }, func(i int) map[string]any {
		if i%4 == 0 {
			return map[string]any{"show_id": show, "seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 1 + i%3}}}
		}
		return items(show, []string{"adult", "child"}[i%2], 1)
	})
	granted := codes["201 "]
	if granted+codes["409 urn:problem:ticketing:quota-exhausted"]+codes["409 urn:problem:ticketing:seat-taken"] != 40 || granted != 7 {
		t.Fatalf("answers %v, want 7 granted, the rest quota-exhausted or seat-taken", codes)
	}
	// A change after every hold: its position is past them all.
	pos := a.must(200, a.call("PATCH", "/v1/shows/"+show+"/ticket-types/adult", org, map[string]any{"name": "Grown-up"})).str("position")
	rules := a.read("/v1/shows/"+show+"/rules", org, pos)
	if !strings.Contains(string(rules.raw), `"taken":7`) {
		t.Fatalf("rules: %s", rules.raw)
	}
	checkRulesAudited(t, a.audit())
}

// Many buyers race for a voucher's uses through two engines: exactly
// max_uses are granted, the rest refused with a 409.
func TestServe_VoucherRace(t *testing.T) {
	t.Parallel()
	a, b := twoEngines(t)
	org := a.token("organizer")
	show := a.rulesShow(org, 100)
	a.must(201, a.call("POST", "/v1/shows/"+show+"/vouchers", org, map[string]any{"code": "FIVE", "kind": "fixed", "amount_off_cents": 100, "max_uses": 5}))
	codes := raceHolds(a, b, 30, func(int) string { return a.token("buyer") }, func(i int) map[string]any {
		body := items(show, "adult", 1+i%2)
		body["voucher"] = "five"
		return body
	})
	wantCodes(t, codes, map[string]int{"201 ": 5, "409 urn:problem:ticketing:voucher-used-up": 25})
	checkRulesAudited(t, a.audit())
}

// One buyer races typed holds through two engines with per-order limits
// and a per-buyer limit: the buyer gets exactly the limit, every order is
// within the per-order limits.
func TestServe_OrderAndBuyerLimitRace(t *testing.T) {
	t.Parallel()
	a, b := twoEngines(t)
	org := a.token("organizer")
	show := a.must(201, a.call("POST", "/v1/shows", org, showBody(map[string]any{"max_units_per_buyer": 6}))).str("id")
	a.must(201, a.call("POST", "/v1/shows/"+show+"/ticket-types", org, map[string]any{"code": "adult", "name": "Adult", "section": "floor", "price_cents": 500}))
	a.must(200, a.call("PUT", "/v1/shows/"+show+"/order-limits", org, map[string]any{"min_units_per_order": 2, "max_units_per_order": 3}))
	a.must(200, a.call("POST", "/v1/shows/"+show+"/publish", org, nil))
	buyer := a.token("buyer")
	codes := raceHolds(a, b, 40, func(int) string { return buyer }, func(i int) map[string]any {
		return items(show, "adult", 1+i%4) // 1 and 4 break the per-order limits
	})
	// 2 + 3 or 3 + 3 or 2 + 2 ... : the tally of the 201s is checked by the audit;
	// 20 requests ask for 1 or 4 units and are refused whatever the order.
	if codes["422 urn:problem:ticketing:order-limit"] != 20 || codes["201 "] < 2 || codes["201 "] > 3 ||
		codes["201 "]+codes["409 urn:problem:ticketing:buyer-limit"] != 20 {
		t.Fatalf("answers %v", codes)
	}
	r := a.audit()
	checkRulesAudited(t, r)
	for _, c := range r.Checks {
		if c.Name == domain.AuditBuyerLimit && c.Checked == 0 {
			t.Errorf("the audit checked no hold against the per-buyer limit: %+v", c)
		}
	}
}
