package main

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// keysOf returns the sorted keys of a JSON object.
func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// seatedShow is a show body with one seated section whose rows are rows.
func seatedShow(section map[string]any) map[string]any {
	show := gaShow(5)
	show["sections"] = []any{section}
	return show
}

// One name per thing, in and out (issue 16): the new input names, the old
// ones for one release, a kind that agrees with the rows.
func TestVocab_ShowInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	row := func(k1 string, v1 any, k2 string, v2 any) map[string]any { return map[string]any{k1: v1, k2: v2} }
	for _, c := range []struct {
		name    string
		section map[string]any
		status  int
		field   string
	}{
		{"new names", map[string]any{"name": "box", "price_cents": 100, "rows": []any{row("row", "A", "seat_count", 2)}}, 201, ""},
		{"old names, for one release", map[string]any{"name": "box", "price_cents": 100, "rows": []any{row("label", "A", "seats", 2)}}, 201, ""},
		{"kind seated with rows", map[string]any{"name": "box", "kind": "seated", "price_cents": 100, "rows": []any{row("row", "A", "seat_count", 2)}}, 201, ""},
		{"kind general_admission with a capacity", map[string]any{"name": "floor", "kind": "general_admission", "price_cents": 100, "capacity": 3}, 201, ""},
		{"kind seated without rows", map[string]any{"name": "floor", "kind": "seated", "price_cents": 100, "capacity": 3}, 422, "sections[0].rows"},
		{"kind general_admission with rows", map[string]any{"name": "box", "kind": "general_admission", "price_cents": 100, "rows": []any{row("row", "A", "seat_count", 2)}}, 422, "sections[0].kind"},
		{"an unknown kind", map[string]any{"name": "floor", "kind": "standing", "price_cents": 100, "capacity": 3}, 422, "sections[0].kind"},
		{"row and label both", map[string]any{"name": "box", "price_cents": 100, "rows": []any{map[string]any{"row": "A", "label": "A", "seat_count": 2}}}, 422, "sections[0].rows[0].row"},
		{"seat_count and seats both", map[string]any{"name": "box", "price_cents": 100, "rows": []any{map[string]any{"row": "A", "seats": 2, "seat_count": 2}}}, 422, "sections[0].rows[0].seat_count"},
		{"a bad seat_count names seat_count", map[string]any{"name": "box", "price_cents": 100, "rows": []any{row("row", "A", "seat_count", 0)}}, 422, "sections[0].rows[0].seat_count"},
		{"a bad old seats names seat_count", map[string]any{"name": "box", "price_cents": 100, "rows": []any{row("label", "A", "seats", 0)}}, 422, "sections[0].rows[0].seat_count"},
		{"an empty row names row", map[string]any{"name": "box", "price_cents": 100, "rows": []any{row("row", "", "seat_count", 1)}}, 422, "sections[0].rows[0].row"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := eventCount(t, s)
			r := s.call("POST", "/v1/shows", org, seatedShow(c.section))
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.raw)
			}
			if c.status == 201 {
				return
			}
			problemOf(t, r, 422, "validation")
			errs, _ := r.body["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Errorf("errors %v, want the first on %s", errs, c.field)
			}
			if after := eventCount(t, s); after != before {
				t.Errorf("%d events written", after-before)
			}
		})
	}
	s.audit()
}

// The read side's names: a row is "row" everywhere, counts are *_count,
// prices are price_cents, lists page with next_cursor and has_more, sales
// and analytics say units_ or orders_.
func TestVocab_ReadNames(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer, admin := s.token("organizer"), s.token("buyer"), s.token("admin")
	show, _ := s.publishedShow(org, 10)
	s.publishedShow(org, 10)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show,
		"items": []any{map[string]any{"section": "floor", "quantity": 2}}, "seats": []any{map[string]any{"section": "balcony", "row": "B", "seat": 1}}}))
	pos := held.str("position")

	order := s.read("/v1/orders/"+held.str("id"), buyer, pos)
	items, _ := order.body["items"].([]any)
	seats, _ := order.body["seats"].([]any)
	if len(items) != 1 || len(seats) != 1 {
		t.Fatalf("order %s", order.raw)
	}
	if got, want := keysOf(items[0]), []string{"price_cents", "quantity", "section"}; !reflect.DeepEqual(got, want) || num(items[0].(map[string]any)["price_cents"]) != 500 {
		t.Errorf("item %v, want keys %v and price_cents 500", items[0], want)
	}
	if got, want := keysOf(seats[0]), []string{"price_cents", "row", "seat", "section"}; !reflect.DeepEqual(got, want) {
		t.Errorf("seat keys %v, want %v", got, want)
	}

	m := s.read("/v1/shows/"+show+"/seats", "", pos)
	sec := m.body["sections"].([]any)[0]
	if got, want := keysOf(sec), []string{"available", "capacity", "held", "name", "row_count", "sold"}; !reflect.DeepEqual(got, want) || num(sec.(map[string]any)["row_count"]) != 2 {
		t.Errorf("seat map section %v, want keys %v and 2 rows", sec, want)
	}
	page := s.read("/v1/shows/"+show+"/seats?section=balcony&limit=3", "", pos)
	rows := page.body["rows"].([]any)
	if got, want := keysOf(rows[0]), []string{"row", "seats"}; !reflect.DeepEqual(got, want) || page.body["has_more"] != true || page.str("next_cursor") == "" {
		t.Errorf("seat page %s, want rows of %v and has_more", page.raw, want)
	}
	last := s.read("/v1/shows/"+show+"/seats?section=balcony&limit=3&cursor="+page.str("next_cursor"), "", pos)
	if last.body["has_more"] != false || last.str("next_cursor") != "" {
		t.Errorf("last seat page %s, want has_more false", last.raw)
	}

	for path, token := range map[string]string{"/v1/shows?limit=1": "", "/v1/me/shows?limit=1": org} {
		first := s.read(path, token, pos)
		if first.body["has_more"] != true || first.str("next_cursor") == "" {
			t.Errorf("%s: %s, want has_more and a next_cursor", path, first.raw)
		}
	}
	if l := s.read("/v1/shows?limit=10", "", pos); l.body["has_more"] != false {
		t.Errorf("a last page: %s, want has_more false", l.raw)
	}
	feed := s.read("/v1/admin/events?limit=1", admin, pos)
	if feed.body["has_more"] != true || feed.str("next_cursor") == "" || feed.body["next_after"] != nil {
		t.Errorf("admin feed %s, want next_cursor and has_more", feed.raw)
	}
	for _, param := range []string{"cursor", "after"} {
		next := s.read("/v1/admin/events?limit=1&"+param+"="+feed.str("next_cursor"), admin, pos)
		if e := next.body["events"].([]any); len(e) != 1 || e[0].(map[string]any)["position"] == feed.body["events"].([]any)[0].(map[string]any)["position"] {
			t.Errorf("%s: the next page %s", param, next.raw)
		}
	}

	sales := s.read("/v1/shows/"+show+"/sales", org, pos)
	if got, want := keysOf(sales.body), []string{"orders_cancelled", "orders_confirmed", "orders_expired", "revenue_cents", "show_id",
		"units_cancelled", "units_expired", "units_held", "units_sold"}; !reflect.DeepEqual(got, want) || num(sales.body["units_held"]) != 3 {
		t.Errorf("sales %s, want keys %v and 3 units held", sales.raw, want)
	}
	analytics := s.must(200, s.call("GET", "/v1/shows/"+show+"/analytics", org, nil))
	if got, want := keysOf(analytics.body["totals"]), []string{"conversion", "median_seconds_to_pay", "orders_cancelled", "orders_confirmed",
		"orders_expired", "orders_held", "orders_paid", "revenue_cents", "units_held", "units_sold"}; !reflect.DeepEqual(got, want) {
		t.Errorf("analytics totals keys %v, want %v", got, want)
	}
	s.audit()
}

// If-Match on a show: the ETag is the show's version; a stale one is a 412
// that writes nothing.
func TestVocab_IfMatch(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	created := s.must(201, s.call("POST", "/v1/shows", org, gaShow(10)))
	show := created.str("id")
	if created.header.Get("ETag") != `"1"` {
		t.Errorf("create: ETag %q, want \"1\"", created.header.Get("ETag"))
	}
	get := s.read("/v1/shows/"+show, org, created.str("position"))
	etag := get.header.Get("ETag")
	if etag != `"1"` {
		t.Fatalf("GET: ETag %q, want \"1\"", etag)
	}
	edited := s.must(200, s.call("PATCH", "/v1/shows/"+show, org, map[string]any{"title": "Later Gig"}, "If-Match", etag))
	if want := `"` + strconv.Itoa(num(edited.body["version"])) + `"`; edited.header.Get("ETag") != want || want == etag {
		t.Errorf("PATCH: ETag %q, version %v", edited.header.Get("ETag"), edited.body["version"])
	}
	if got := s.read("/v1/shows/"+show, org, edited.str("position")).header.Get("ETag"); got != edited.header.Get("ETag") {
		t.Errorf("GET after PATCH: ETag %q, want %q", got, edited.header.Get("ETag"))
	}
	for _, c := range []struct {
		name, ifMatch string
		status        int
		slug          string
	}{
		{"a stale ETag", etag, 412, "precondition-failed"},
		{"a list of stale ETags", `"0", ` + etag, 412, "precondition-failed"},
		{"not an entity tag", "1", 400, "malformed-request"},
		{"a weak tag", `W/"2"`, 400, "malformed-request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := eventCount(t, s)
			r := problemOf(t, s.call("PATCH", "/v1/shows/"+show, org, map[string]any{"title": "Lost Gig"}, "If-Match", c.ifMatch), c.status, c.slug)
			if c.status == 412 && (r.str("detail") != `the show is at version 2 (ETag "2"), not the one If-Match names: GET /v1/shows/{id} again and retry` ||
				r.header.Get("ETag") != `"2"`) {
				t.Errorf("detail %q, ETag %q", r.str("detail"), r.header.Get("ETag"))
			}
			if after := eventCount(t, s); after != before {
				t.Errorf("%d events written", after-before)
			}
		})
	}
	problemOf(t, s.call("POST", "/v1/shows/"+show+"/publish", org, nil, "If-Match", etag), 412, "precondition-failed")
	s.must(200, s.call("PATCH", "/v1/shows/"+show, org, map[string]any{"venue": "Small Hall"}, "If-Match", "*"))
	s.must(200, s.call("PATCH", "/v1/shows/"+show, org, map[string]any{"venue": "Big Hall"})) // If-Match is optional
	// Another organizer is refused for who they are, not for the version.
	problemOf(t, s.call("PATCH", "/v1/shows/"+show, s.token("organizer"), map[string]any{"title": "X"}, "If-Match", `"99"`), 403, "forbidden")
	s.audit()
}

// A no-op write answers the current position, not "0"; an idempotent
// replay keeps its Location; a new user has no Location that would 404.
func TestVocab_PositionAndLocation(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	show, pos := s.publishedShow(org, 10)
	again := s.must(200, s.call("POST", "/v1/shows/"+show+"/publish", org, nil))
	head, err := s.e.store.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if again.str("position") == "0" || again.str("position") != head.String() {
		t.Errorf("a second publish answers position %q, want the head %s (the first was %s)", again.str("position"), head, pos)
	}
	s.read("/v1/shows/"+show, "", again.str("position")) // a position reads wait for

	key := uuid.NewString()
	// One body for both: gaShow's starts_at is time.Now() to the second,
	// so two calls across a second's edge are different requests (422).
	body := gaShow(3)
	first := s.must(201, s.call("POST", "/v1/shows", org, body, "Idempotency-Key", key))
	replay := s.must(201, s.call("POST", "/v1/shows", org, body, "Idempotency-Key", key))
	if want := "/v1/shows/" + first.str("id"); first.header.Get("Location") != want || replay.header.Get("Location") != want ||
		replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Location %q then %q (replayed %q), want %s twice", first.header.Get("Location"), replay.header.Get("Location"),
			replay.header.Get("Idempotent-Replayed"), want)
	}
	buyer := s.token("buyer")
	hold := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}
	o1 := s.must(201, s.call("POST", "/v1/orders", buyer, hold, "Idempotency-Key", key))
	o2 := s.must(201, s.call("POST", "/v1/orders", buyer, hold, "Idempotency-Key", key))
	if want := "/v1/orders/" + o1.str("id"); o1.header.Get("Location") != want || o2.header.Get("Location") != want {
		t.Errorf("order Location %q then %q, want %s", o1.header.Get("Location"), o2.header.Get("Location"), want)
	}
	s.read(o1.header.Get("Location"), buyer, o1.str("position"))

	user := s.must(201, s.call("POST", "/v1/users", "", map[string]any{"email": "new-" + key[:8] + "@example.com",
		"password": "correct horse battery", "role": string(domain.RoleBuyer)}))
	if loc := user.header.Get("Location"); loc != "" {
		t.Errorf("a new user's Location %q points at no route", loc)
	}
	s.audit()
}
