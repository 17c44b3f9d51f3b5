package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/infra/simpay"
)

// issue 14: a refund that restocks behaves like a release, end to end:
// the waiting list gets the units before the public, and the quotas get
// their units back.

// ticketsOf returns the ticket ids of a paid order's answer.
func ticketsOf(paid resp) []string {
	var ids []string
	for _, x := range paid.body["tickets"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids
}

// A sold-out section with a buyer waiting: the organizer refunds a ticket
// with restock, the waiting buyer gets the offer in the same append (the
// public cannot take the unit), pays it, and the auditor is green.
func TestRestock_OffersTheWaitlist(t *testing.T) {
	t.Parallel()
	pay := simpay.New()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withPayments(pay))
	org, holder, waiter, public := s.token("organizer"), s.token("buyer"), s.token("buyer"), s.token("buyer")
	show, _ := s.publishedShow(org, 2)
	floor := func(q int) map[string]any {
		return map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": q}}}
	}
	held := s.must(201, s.call("POST", "/v1/orders", holder, floor(2))).str("id")
	tickets := ticketsOf(s.must(200, s.call("POST", "/v1/orders/"+held+"/pay", holder, map[string]any{"payment_token": "tok_visa"})))
	path := "/v1/shows/" + show + "/waitlist"
	s.must(201, s.call("POST", path, waiter, map[string]any{"section": "floor", "quantity": 1}))

	refund := s.must(200, s.call("POST", "/v1/orders/"+held+"/refund", org,
		map[string]any{"tickets": []string{tickets[0]}, "reason": "cannot come", "restock": true}))
	if refund.body["settled"] != true || num(refund.body["amount_cents"]) != 500 {
		t.Fatalf("the refund: %s", refund.raw)
	}
	if _, orders := offersIn(t, s, show); len(orders) != 1 {
		t.Fatalf("%d offers after the restock, want 1 (decided with the return)", len(orders))
	}
	if r := s.call("POST", "/v1/orders", public, floor(1)); r.status != 409 {
		t.Fatalf("a public hold of the restocked unit: %d %s, want 409", r.status, r.raw)
	}
	offers := s.must(200, s.call("GET", path, waiter, nil)).body["offers"].([]any)
	if len(offers) != 1 || num(offers[0].(map[string]any)["quantity"]) != 1 {
		t.Fatalf("the waiter's offers: %v", offers)
	}
	order := offers[0].(map[string]any)["order_id"].(string)
	paid := s.must(200, s.call("POST", "/v1/orders/"+order+"/pay", waiter, map[string]any{"payment_token": "tok_visa"}))
	if v := s.read("/v1/orders/"+order, waiter, paid.str("position")); v.str("status") != "confirmed" {
		t.Fatalf("the offer's order: %s", v.raw)
	}
	if places := s.must(200, s.call("GET", path, waiter, nil)).body["places"].([]any); len(places) != 0 {
		t.Fatalf("still waiting after the offer: %v", places)
	}
	if n := len(pay.Charges()); n != 2 || len(pay.Refunds()) != 1 {
		t.Errorf("%d charges and %d refunds, want 2 and 1", n, len(pay.Refunds()))
	}
	s.audit()
}

// A quota sold out; a refund with restock gives its units back, so a new
// hold under the quota succeeds, and no more than the quota.
func TestRestock_GivesBackQuotaUnits(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withPayments(simpay.New()))
	org, buyer := s.token("organizer"), s.token("buyer")
	show := s.rulesShow(org, 20)
	s.must(200, s.call("POST", "/v1/shows/"+show+"/quotas", org, map[string]any{"code": "KIDS", "units": 2, "ticket_types": []string{"child"}}))
	held := s.must(201, s.call("POST", "/v1/orders", buyer, items(show, "child", 2))).str("id")
	tickets := ticketsOf(s.must(200, s.call("POST", "/v1/orders/"+held+"/pay", buyer, map[string]any{"payment_token": "tok_visa"})))
	if r := s.call("POST", "/v1/orders", s.token("buyer"), items(show, "child", 1)); r.status != 409 || r.str("type") != "urn:problem:ticketing:quota-exhausted" {
		t.Fatalf("past the quota: %d %s", r.status, r.raw)
	}

	refund := s.must(200, s.call("POST", "/v1/orders/"+held+"/refund", org,
		map[string]any{"tickets": []string{tickets[0]}, "reason": "sick", "restock": true}))
	if refund.body["settled"] != true || num(refund.body["amount_cents"]) != 300 {
		t.Fatalf("the refund: %s", refund.raw)
	}
	// The organizer's page counts the returned unit as free again.
	if rules := s.read("/v1/shows/"+show+"/rules", org, refund.str("position")); !strings.Contains(string(rules.raw), `"code":"KIDS","units":2,"ticket_types":["child"],"taken":1`) {
		t.Fatalf("the rules after the restock: %s", rules.raw)
	}
	again := s.must(201, s.call("POST", "/v1/orders", s.token("buyer"), items(show, "child", 1)))
	if r := s.call("POST", "/v1/orders", s.token("buyer"), items(show, "child", 1)); r.status != 409 || r.str("type") != "urn:problem:ticketing:quota-exhausted" {
		t.Fatalf("past the quota after the restock: %d %s", r.status, r.raw)
	}
	if rules := s.read("/v1/shows/"+show+"/rules", org, again.str("position")); !strings.Contains(string(rules.raw), `"taken":2`) {
		t.Fatalf("the rules after the new hold: %s", rules.raw)
	}
	checkRulesAudited(t, s.audit())
}
