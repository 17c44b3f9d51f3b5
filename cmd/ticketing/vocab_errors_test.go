package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// goText is what no detail may show: Go's layouts, its error texts.
var goText = []string{"2006-01-02", "parsing time", "invalid UUID", "json: ", "Go struct", "%!"}

// fieldOf returns the field of the first field error of a problem.
func fieldOf(r resp) string {
	errs, _ := r.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	f, _ := errs[0].(map[string]any)["field"].(string)
	return f
}

// Errors people can act on (issue 16, part 3): each detail says what to
// fix in the client's terms, through the real server.
func TestVocab_ActionableErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, other, buyer, admin := s.token("organizer"), s.token("organizer"), s.token("buyer"), s.token("admin")
	show, pos := s.publishedShow(org, 10)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	order := held.str("id")
	bad := func(body map[string]any) map[string]any {
		out := gaShow(3)
		for k, v := range body {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		slug, field, detail       string // detail: a part the detail must hold
	}{
		{"a time in words", "POST", "/v1/shows", org, bad(map[string]any{"starts_at": "yesterday"}), 400, "malformed-request", "starts_at", "RFC 3339 time such as 2026-11-21T20:00:00Z"},
		{"a date for a time", "PATCH", "/v1/shows/" + show, org, map[string]any{"starts_at": "2027-01-01"}, 400, "malformed-request", "starts_at", `got the string "2027-01-01"`},
		{"a bad UUID in the body", "POST", "/v1/orders", buyer, map[string]any{"show_id": "show-1"}, 400, "malformed-request", "show_id", "must be a UUID such as"},
		{"a bad UUID in an array", "POST", "/v1/orders/" + order + "/refund", org, map[string]any{"tickets": []any{"t1"}}, 400, "malformed-request", "tickets[0]", "must be a UUID"},
		{"a bad UUID at the door", "POST", "/v1/check-ins", org, map[string]any{"code": "X", "show_id": 7}, 400, "malformed-request", "show_id", "got the number 7"},
		{"a string for a quantity", "POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": "2"}}}, 400, "malformed-request", "items[0].quantity", "must be an integer"},
		{"a bad UUID in a write path", "POST", "/v1/orders/nope/pay", buyer, map[string]any{"payment_token": "tok_visa"}, 404, "not-found", "{id}", `the order id in the path, "nope", is not a UUID`},
		{"a bad UUID in a show path", "PATCH", "/v1/shows/12/", org, map[string]any{"title": "x"}, 404, "not-found", "", ""},
		{"a bad UUID in a read path", "GET", "/v1/shows/gala", "", nil, 404, "not-found", "{id}", `the show id in the path, "gala", is not a UUID`},
		{"a bad UUID in a ticket path", "POST", "/v1/tickets/t-1/check-in", org, nil, 404, "not-found", "{id}", "the ticket id in the path"},
		{"a bad time in the query", "GET", "/v1/admin/events?since=yesterday", admin, nil, 400, "invalid-request", "since", "RFC 3339"},
		{"a buyer creates a show", "POST", "/v1/shows", buyer, gaShow(3), 403, "forbidden", "", "only organizers create shows: this token belongs to a buyer"},
		{"an organizer holds", "POST", "/v1/orders", org, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}, 403, "forbidden", "", "only buyers place orders: this token belongs to an organizer"},
		{"another organizer edits", "PATCH", "/v1/shows/" + show, other, map[string]any{"title": "Mine"}, 403, "forbidden", "", "only the show's organizer or an admin may do this: this token belongs to an organizer who does not own the show"},
		{"a buyer edits", "POST", "/v1/shows/" + show + "/cancel", buyer, nil, 403, "forbidden", "", "this token belongs to a buyer who does not own the show"},
		{"another organizer refunds", "POST", "/v1/orders/" + order + "/refund", other, map[string]any{}, 403, "forbidden", "", "only the show's organizer or an admin"},
		{"an organizer joins a waiting list", "POST", "/v1/shows/" + show + "/waitlist", org, map[string]any{"section": "floor", "quantity": 1}, 403, "forbidden", "", "only buyers join waiting lists: this token belongs to an organizer"},
		{"a buyer reads sales", "GET", "/v1/shows/" + show + "/sales", buyer, nil, 403, "forbidden", "", "the sales of a show are for its organizer and admins: this token belongs to a buyer who does not own the show"},
		{"another organizer reads analytics", "GET", "/v1/shows/" + show + "/analytics", other, nil, 403, "forbidden", "", "the analytics of a show are for its organizer and admins"},
		{"another organizer reads rules", "GET", "/v1/shows/" + show + "/rules", other, nil, 403, "forbidden", "", "the rules of a show are for its organizer and admins"},
		{"a buyer reads attendees", "GET", "/v1/shows/" + show + "/attendees", buyer, nil, 403, "forbidden", "", "the attendees of a show"},
		{"a buyer's shows", "GET", "/v1/me/shows", buyer, nil, 403, "forbidden", "", "only organizers have shows: this token belongs to a buyer"},
		{"an organizer reads the history", "GET", "/v1/admin/events", org, nil, 403, "forbidden", "", "the event history is for admins: this token belongs to an organizer"},
		{"a declined card", "POST", "/v1/orders/" + order + "/pay", buyer, map[string]any{"payment_token": "tok_chargeDeclinedInsufficientFunds"}, 402, "payment-declined", "", "(decline_code insufficient_funds); the card has too little money"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := eventCount(t, s)
			headers := []string{}
			if c.method == "GET" {
				headers = append(headers, "X-Min-Position", pos)
			}
			r := problemOf(t, s.call(c.method, c.path, c.token, c.body, headers...), c.status, c.slug)
			detail := r.str("detail")
			if !strings.Contains(detail, c.detail) || detail == "" {
				t.Errorf("detail %q, want it to hold %q", detail, c.detail)
			}
			if c.field != "" && fieldOf(r) != c.field {
				t.Errorf("errors %v, want the first on %s", r.body["errors"], c.field)
			}
			for _, g := range goText {
				if strings.Contains(string(r.raw), g) {
					t.Errorf("the problem shows Go's %q: %s", g, r.raw)
				}
			}
			if c.status == 403 && (detail == "this account may not do this" || detail == "this account may not see this") {
				t.Errorf("a 403 that does not say why: %s", r.raw)
			}
			if c.status == 402 && (r.str("decline_code") != "insufficient_funds" || r.str("code") != "insufficient_funds") {
				t.Errorf("a 402 without its decline_code: %s", r.raw)
			}
			if after := eventCount(t, s); after != before && c.status != 402 {
				t.Errorf("%d events written", after-before)
			}
		})
	}

	// A second check-in says when the first was, by id as by code.
	tickets, bought := s.buy(buyer, show, 2)
	s.read("/v1/me/tickets", buyer, bought) // the door finds tickets in the read models
	byID := "/v1/tickets/" + tickets[0]["id"].(string) + "/check-in"
	start := time.Now().Add(-time.Second)
	s.must(200, s.call("POST", byID, org, nil))
	again := problemOf(t, s.call("POST", byID, org, nil), 409, "already-checked-in")
	at, err := time.Parse(time.RFC3339Nano, again.str("checked_in_at"))
	if err != nil || at.Before(start) || at.After(time.Now()) || !strings.Contains(again.str("detail"), "checked in already, at ") {
		t.Errorf("a second check-in by id: %s", again.raw)
	}
	code := codeOf(tickets[1])
	first := s.must(200, s.call("POST", "/v1/check-ins", org, map[string]any{"code": code, "show_id": show}))
	second := problemOf(t, s.call("POST", "/v1/check-ins", org, map[string]any{"code": code, "show_id": show}), 409, "already-checked-in")
	if second.str("checked_in_at") == "" || second.str("checked_in_at") != first.str("checked_in_at") {
		t.Errorf("a second check-in by code: %s after %s", second.raw, first.raw)
	}
	s.audit()
}
