package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// Issue 14 (door): HTTP tests of codes, transfers, check-ins, scans and the
// organizer's lists, through the real server.

// doorUser is a user with a token, an id and an email (insertUser's).
type doorUser struct {
	token string
	id    uuid.UUID
	email string
}

// member registers a user of the role, as token does, and keeps its id.
func (s *server) member(role domain.Role) doorUser {
	s.t.Helper()
	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		s.t.Fatal(err)
	}
	id := uuid.New()
	registerUser(s.t, s.e.pool, id, role)
	tok, _, err := tokens.Issue(domain.Actor{UserID: id, Role: role})
	if err != nil {
		s.t.Fatal(err)
	}
	return doorUser{token: tok, id: id, email: id.String() + "@example.test"}
}

// buy holds n floor units of show for buyer and pays: it returns the
// tickets of the answer and the payment's position.
func (s *server) buy(buyer, show string, n int) ([]map[string]any, string) {
	s.t.Helper()
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": n}}}))
	paid := s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	var out []map[string]any
	for _, t := range paid.body["tickets"].([]any) {
		out = append(out, t.(map[string]any))
	}
	return out, paid.str("position")
}

// problemType returns the problem type of a response, failing the test
// unless it is problem+json with the wanted status.
func (s *server) problemType(want int, r resp) string {
	s.t.Helper()
	s.must(want, r)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		s.t.Fatalf("content type %q, want problem+json; body %s", ct, r.raw)
	}
	return strings.TrimPrefix(r.str("type"), "urn:problem:ticketing:")
}

// codesStored fails the test when any code appears in the events table or
// in the admin export of the log (the data the relay sends to Kafka).
func (s *server) codesStored(admin string, codes ...string) {
	s.t.Helper()
	rows, err := s.e.pool.Query(context.Background(), `select data::text || metadata::text from events`)
	if err != nil {
		s.t.Fatal(err)
	}
	var all strings.Builder
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			s.t.Fatal(err)
		}
		all.WriteString(d)
	}
	rows.Close()
	for _, raw := range []string{"", "&raw=true"} {
		for after := ""; ; {
			page := s.must(200, s.call("GET", "/v1/admin/events?limit=1000"+raw+"&cursor="+after, admin, nil))
			all.Write(page.raw)
			if after = page.str("next_cursor"); after == "" {
				break
			}
		}
	}
	for _, c := range codes {
		if c == "" || strings.Contains(all.String(), c) {
			s.t.Fatalf("ticket code %q is stored in the log or its export", c)
		}
	}
}

// doorShow starts an engine with a show on sale of the organizer org and n
// floor tickets of the buyer, projected.
func doorShow(t *testing.T, n int) (s *server, org string, buyer doorUser, show string, tickets []map[string]any) {
	t.Helper()
	s = startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer = s.token("organizer"), s.member(domain.RoleBuyer)
	show, _ = s.publishedShow(org, 10)
	tickets, pos := s.buy(buyer.token, show, n)
	s.read("/v1/me/tickets", buyer.token, pos)
	return s, org, buyer, show, tickets
}

func codeOf(t map[string]any) string { c, _ := t["code"].(string); return c }

func TestServe_DoorCheckInByCode(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.member(domain.RoleBuyer)
	show, _ := s.publishedShow(org, 10)
	other, _ := s.publishedShow(org, 10)
	tickets, pos := s.buy(buyer.token, show, 2)
	code := codeOf(tickets[0])
	if len(code) != domain.TicketCodeLen || code == codeOf(tickets[1]) {
		t.Fatalf("codes %q, %q", code, codeOf(tickets[1]))
	}
	mine := s.read("/v1/me/tickets", buyer.token, pos)
	item := mine.body["items"].([]any)[0].(map[string]any)
	if codeOf(item) != code || item["show_title"] != "Night Gig" || item["show_starts_at"] == "" {
		t.Fatalf("my tickets: %s", mine.raw)
	}
	if o := s.read("/v1/me/orders", buyer.token, pos).body["items"].([]any)[0].(map[string]any); o["show_title"] != "Night Gig" {
		t.Fatalf("my orders: %v", o)
	}
	checkIn := func(tok, show, code string) resp {
		return s.call("POST", "/v1/check-ins", tok, map[string]any{"code": code, "show_id": show})
	}
	s.problemType(403, checkIn(buyer.token, show, code))
	s.problemType(403, checkIn(s.token("organizer"), show, code))
	ok := s.must(200, checkIn(org, show, code))
	if tk := ok.body["ticket"].(map[string]any); tk["id"] != tickets[0]["id"] || tk["section"] != "floor" || ok.str("checked_in_at") == "" {
		t.Fatalf("check-in: %s", ok.raw)
	}
	again := checkIn(org, show, code)
	if typ := s.problemType(409, again); typ != "already-checked-in" || again.str("code") != domain.RefusedAlreadyCheckedIn ||
		again.str("checked_in_at") != ok.str("checked_in_at") || again.body["ticket"] == nil {
		t.Fatalf("second check-in: %s", again.raw)
	}
	if typ := s.problemType(409, checkIn(org, other, codeOf(tickets[1]))); typ != "wrong-show" {
		t.Fatalf("wrong show: %s", typ)
	}
	forged := []byte(codeOf(tickets[1]))
	forged[len(forged)-1] = map[bool]byte{true: 'A', false: 'B'}[forged[len(forged)-1] != 'A']
	for _, bad := range []string{string(forged), "NOTACODE", strings.Repeat("A", domain.TicketCodeLen)} {
		if typ := s.problemType(404, checkIn(org, show, bad)); typ != "unknown-code" {
			t.Fatalf("code %q: %s", bad, typ)
		}
	}
	// The check-in by id still works for one release.
	old := s.must(200, s.call("POST", "/v1/tickets/"+tickets[1]["id"].(string)+"/check-in", org, nil))
	if old.header.Get("Deprecation") != "true" || !strings.Contains(old.header.Get("Link"), "/v1/check-ins") {
		t.Errorf("the check-in by id is not marked deprecated: %v", old.header)
	}
	s.codesStored(s.token("admin"), code, codeOf(tickets[1]))
	s.audit()
}

func TestServe_DoorTransfer(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, from, to, stranger := s.token("organizer"), s.member(domain.RoleBuyer), s.member(domain.RoleBuyer), s.member(domain.RoleBuyer)
	show, _ := s.publishedShow(org, 10)
	tickets, pos := s.buy(from.token, show, 2)
	id, old := tickets[0]["id"].(string), codeOf(tickets[0])
	transfer := func(tok, id, email string) resp {
		return s.call("POST", "/v1/tickets/"+id+"/transfer", tok, map[string]any{"email": email})
	}
	s.read("/v1/me/tickets", from.token, pos)
	s.problemType(404, transfer(stranger.token, id, to.email))
	s.problemType(422, transfer(from.token, id, "nobody@example.test"))
	s.problemType(422, transfer(from.token, id, "a\x00b@example.test")) // a NUL reached PostgreSQL: a 500 once
	s.problemType(422, transfer(from.token, id, "not an address"))
	s.problemType(422, transfer(from.token, id, from.email))
	s.problemType(422, transfer(from.token, id, s.member(domain.RoleOrganizer).email))
	done := s.must(200, transfer(from.token, id, strings.ToUpper(to.email)))
	if num(done.body["generation"]) != 1 || done.str("to_user_id") != to.id.String() {
		t.Fatalf("transfer: %s", done.raw)
	}
	pos = done.str("position")
	// The sender sees it transferred out, without a code; the recipient
	// has it with a new code.
	var sent map[string]any
	for _, x := range s.read("/v1/me/tickets", from.token, pos).body["items"].([]any) {
		if x.(map[string]any)["id"] == id {
			sent = x.(map[string]any)
		}
	}
	if sent == nil || sent["transferred_out"] != true || codeOf(sent) != "" || sent["holder_id"] != to.id.String() {
		t.Fatalf("sender's view: %v", sent)
	}
	got := s.read("/v1/me/tickets", to.token, pos).body["items"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["id"] != id {
		t.Fatalf("recipient's view: %v", got)
	}
	fresh := codeOf(got[0].(map[string]any))
	if fresh == "" || fresh == old || got[0].(map[string]any)["transferred_out"] == true {
		t.Fatalf("recipient's code %q (old %q)", fresh, old)
	}
	if o := s.read("/v1/me/orders", from.token, pos).body["items"].([]any)[0].(map[string]any); codeOf(o["tickets"].([]any)[0].(map[string]any)) != "" {
		t.Fatalf("the sender's order still shows the code: %v", o)
	}
	checkIn := func(code string) resp {
		return s.call("POST", "/v1/check-ins", org, map[string]any{"code": code, "show_id": show})
	}
	if typ := s.problemType(409, checkIn(old)); typ != "ticket-transferred" {
		t.Fatalf("old code: %s", typ)
	}
	s.problemType(404, transfer(from.token, id, stranger.email)) // no longer theirs
	// Offline, the old code scanned first does not hide the new one.
	now := time.Now().UTC()
	scans := s.must(200, s.call("POST", "/v1/shows/"+show+"/scans", org, map[string]any{"scans": []any{
		map[string]any{"code": fresh, "nonce": "b", "scanned_at": now.Add(-time.Minute)},
		map[string]any{"code": old, "nonce": "a", "scanned_at": now.Add(-2 * time.Minute)},
		map[string]any{"code": fresh, "nonce": "c", "scanned_at": now}}}))
	var outcomes []string
	for _, x := range scans.body["results"].([]any) {
		outcomes = append(outcomes, x.(map[string]any)["outcome"].(string))
	}
	if fmt.Sprint(outcomes) != "[checked_in transferred duplicate]" {
		t.Fatalf("offline outcomes %v: %s", outcomes, scans.raw)
	}
	if typ := s.problemType(409, checkIn(fresh)); typ != "already-checked-in" {
		t.Fatalf("new code after the offline check-in: %s", typ)
	}
	if typ := s.problemType(409, transfer(to.token, id, stranger.email)); typ != "already-checked-in" {
		t.Fatalf("transfer of a checked-in ticket: %s", typ)
	}
	s.codesStored(s.token("admin"), old, fresh, codeOf(tickets[1]))
	s.audit()
}

func TestServe_DoorScans(t *testing.T) {
	t.Parallel()
	s, org, _, show, tickets := doorShow(t, 3)
	s.must(200, s.call("POST", "/v1/check-ins", org, map[string]any{"code": codeOf(tickets[2]), "show_id": show}))
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	scan := func(code, nonce string, at time.Duration) map[string]any {
		return map[string]any{"code": code, "nonce": nonce, "scanned_at": t0.Add(at).Format(time.RFC3339Nano)}
	}
	batch := map[string]any{"scans": []any{
		scan(codeOf(tickets[0]), "late", 2*time.Minute), // ticket 0 again: the earlier scan wins
		scan(codeOf(tickets[0]), "early", time.Minute),
		scan(codeOf(tickets[1]), "one", 0),
		scan(codeOf(tickets[1]), "one", 0), // the same nonce twice
		scan("NOTACODE", "bad", 0),
		scan(codeOf(tickets[2]), "door", 0), // checked in online already
	}}
	want := []string{"duplicate", "checked_in", "checked_in", "duplicate", "unknown_code", "already_checked_in"}
	outcomes := func(r resp) []string {
		var out []string
		for _, x := range r.body["results"].([]any) {
			out = append(out, x.(map[string]any)["outcome"].(string))
		}
		return out
	}
	r := s.must(200, s.call("POST", "/v1/shows/"+show+"/scans", org, batch))
	if got := outcomes(r); fmt.Sprint(got) != fmt.Sprint(want) || num(r.body["checked_in"]) != 2 {
		t.Fatalf("outcomes %v, want %v: %s", got, want, r.raw)
	}
	// The same upload again writes nothing.
	n := eventCount(t, s)
	r = s.must(200, s.call("POST", "/v1/shows/"+show+"/scans", org, batch))
	// late's nonce was never recorded: its ticket is checked in already.
	want = []string{"already_checked_in", "duplicate", "duplicate", "duplicate", "unknown_code", "already_checked_in"}
	if got := outcomes(r); fmt.Sprint(got) != fmt.Sprint(want) || eventCount(t, s) != n {
		t.Fatalf("again: outcomes %v, want %v", got, want)
	}
	var scannedAt time.Time
	if err := s.e.pool.QueryRow(context.Background(), `select (data->>'scanned_at')::timestamptz from events
		where type = 'order.ticket_checked_in' and data->>'nonce' = 'early'`).Scan(&scannedAt); err != nil || !scannedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("the event of nonce early: scanned at %v, %v; want %v", scannedAt, err, t0.Add(time.Minute))
	}
	s.problemType(403, s.call("POST", "/v1/shows/"+show+"/scans", s.token("organizer"), batch))
	s.audit()
}

func TestServe_DoorLists(t *testing.T) {
	t.Parallel()
	s, org, buyer, show, tickets := doorShow(t, 2)
	more, pos := s.buy(buyer.token, show, 1)
	s.read("/v1/me/tickets", buyer.token, pos)
	in := s.must(200, s.call("POST", "/v1/check-ins", org, map[string]any{"code": codeOf(more[0]), "show_id": show}))
	pos = in.str("position")
	var got []map[string]any
	cursor := ""
	for range 10 {
		page := s.read("/v1/shows/"+show+"/attendees?limit=2&cursor="+cursor, org, pos)
		for _, x := range page.body["items"].([]any) {
			got = append(got, x.(map[string]any))
		}
		if cursor = page.str("next_cursor"); cursor == "" {
			break
		}
	}
	if len(got) != 3 || got[0]["ticket_id"] != tickets[0]["id"] || got[2]["checked_in"] != true || got[0]["checked_in"] != false ||
		got[0]["holder_id"] != buyer.id.String() || got[0]["code"] != nil {
		t.Fatalf("attendees: %v", got)
	}
	orders := s.read("/v1/shows/"+show+"/orders", org, pos)
	items := orders.body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["show_title"] != "Night Gig" {
		t.Fatalf("orders: %s", orders.raw)
	}
	if strings.Contains(string(orders.raw), codeOf(tickets[0])) {
		t.Fatalf("the organizer's order list shows codes: %s", orders.raw)
	}
	for _, path := range []string{"/attendees", "/orders"} {
		s.problemType(403, s.call("GET", "/v1/shows/"+show+path, buyer.token, nil))
		s.problemType(403, s.call("GET", "/v1/shows/"+show+path, s.token("organizer"), nil))
		s.problemType(401, s.call("GET", "/v1/shows/"+show+path, "", nil))
		s.problemType(404, s.call("GET", "/v1/shows/"+uuid.NewString()+path, org, nil))
		s.problemType(400, s.call("GET", "/v1/shows/"+show+path+"?cursor=nope", org, nil))
		s.problemType(400, s.call("GET", "/v1/shows/"+show+path+"?color=red", org, nil))
	}
	s.must(200, s.call("GET", "/v1/shows/"+show+"/attendees", s.token("admin"), nil))
	s.audit()
}

func TestServe_DoorHostileInput(t *testing.T) {
	t.Parallel()
	s, org, buyer, show, tickets := doorShow(t, 1)
	code, id := codeOf(tickets[0]), tickets[0]["id"].(string)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	now := time.Now().UTC().Format(time.RFC3339)
	tooMany := make([]any, 501)
	for i := range tooMany {
		tooMany[i] = map[string]any{"code": code, "nonce": fmt.Sprint("n", i), "scanned_at": now}
	}
	cases := []struct {
		path, token string
		body        any
		status      int
	}{
		{"/v1/check-ins", org, `{"code":"` + code + `","show_id":"` + show + `","extra":1}`, 400},
		{"/v1/check-ins", org, `{"code":"` + code + `","code":"x","show_id":"` + show + `"}`, 400},
		{"/v1/check-ins", org, `{"code":1,"show_id":"` + show + `"}`, 400},
		{"/v1/check-ins", org, `{"code":"` + code + `"}`, 422},
		{"/v1/check-ins", org, map[string]any{"code": strings.Repeat("A", 10000), "show_id": show}, 422},
		{"/v1/check-ins", org, `{"code":"` + code + `","show_id":"not-a-uuid"}`, 400},
		{"/v1/check-ins", org, `not json`, 400},
		{"/v1/check-ins", "", map[string]any{"code": code, "show_id": show}, 401},
		{"/v1/check-ins?x=1", org, map[string]any{"code": code, "show_id": show}, 400},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{}}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": tooMany}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": "a b", "scanned_at": now}}}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": strings.Repeat("n", 65), "scanned_at": now}}}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": "n"}}}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": "n", "scanned_at": future}}}, 422},
		{"/v1/shows/" + show + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": "n", "scanned_at": now, "x": 1}}}, 400},
		{"/v1/shows/" + show + "/scans", org, `{"scans":{}}`, 400},
		{"/v1/shows/not-an-id/scans", org, map[string]any{"scans": []any{}}, 404},
		{"/v1/shows/" + uuid.NewString() + "/scans", org, map[string]any{"scans": []any{map[string]any{"code": code, "nonce": "n", "scanned_at": now}}}, 404},
		{"/v1/tickets/" + id + "/transfer", buyer.token, map[string]any{}, 422},
		{"/v1/tickets/" + id + "/transfer", buyer.token, map[string]any{"email": strings.Repeat("a", 300) + "@example.test"}, 422},
		{"/v1/tickets/" + id + "/transfer", buyer.token, map[string]any{"email": 5}, 400},
		{"/v1/tickets/" + id + "/transfer", buyer.token, map[string]any{"email": "x@example.test", "to": "y"}, 400},
		{"/v1/tickets/nope/transfer", buyer.token, map[string]any{"email": "x@example.test"}, 404},
		{"/v1/tickets/" + uuid.NewString() + "/transfer", buyer.token, map[string]any{"email": s.member(domain.RoleBuyer).email}, 404},
		{"/v1/tickets/" + id + "/transfer", "", map[string]any{"email": "x@example.test"}, 401},
	}
	n := eventCount(t, s)
	for _, c := range cases {
		r := s.call("POST", c.path, c.token, c.body)
		if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
			b, _ := json.Marshal(c.body)
			t.Errorf("POST %s %.80s: %d %s, want %d problem+json", c.path, b, r.status, r.raw, c.status)
		}
	}
	if got := eventCount(t, s); got != n {
		t.Errorf("hostile requests wrote %d events", got-n)
	}
	s.audit()
}

// Two engines on one database check one code in at once, by code and by
// an offline batch: exactly one check-in.
func TestServe_DoorCheckInRace(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	a, b := startServer(t, db, time.Minute), startServer(t, db, time.Minute)
	org, buyer := a.token("organizer"), a.member(domain.RoleBuyer)
	show, _ := a.publishedShow(org, 50)
	const n = 5
	tickets, pos := a.buy(buyer.token, show, n)
	a.read("/v1/me/tickets", buyer.token, pos)
	b.read("/v1/me/tickets", buyer.token, pos)
	var mu sync.Mutex
	admitted := map[string]int{}
	var wg sync.WaitGroup
	for _, tk := range tickets {
		code := codeOf(tk)
		for i, srv := range []*server{a, b, a, b} {
			wg.Go(func() {
				var ok bool
				if i < 2 {
					r := srv.call("POST", "/v1/check-ins", org, map[string]any{"code": code, "show_id": show})
					ok = r.status == 200
					if r.status != 200 && r.str("code") != domain.RefusedAlreadyCheckedIn {
						t.Errorf("check-in: %d %s", r.status, r.raw)
					}
				} else {
					r := srv.call("POST", "/v1/shows/"+show+"/scans", org, map[string]any{"scans": []any{
						map[string]any{"code": code, "nonce": fmt.Sprint("race-", i, "-", code[:8]), "scanned_at": time.Now().UTC().Format(time.RFC3339Nano)}}})
					if r.status != 200 {
						t.Errorf("scans: %d %s", r.status, r.raw)
						return
					}
					ok = r.body["results"].([]any)[0].(map[string]any)["outcome"] == "checked_in"
				}
				if ok {
					mu.Lock()
					admitted[code]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, tk := range tickets {
		if got := admitted[codeOf(tk)]; got != 1 {
			t.Errorf("ticket %v admitted %d times, want once", tk["id"], got)
		}
	}
	var events int
	if err := a.e.pool.QueryRow(context.Background(), "select count(*) from events where type = 'order.ticket_checked_in'").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != n {
		t.Errorf("%d check-in events, want %d", events, n)
	}
	a.audit()
}

func TestLoadConfig_TicketKey(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env{}.get)
	if err != nil || !c.DevTicketKey || string(c.TicketKey) != domain.DevTicketKey {
		t.Fatalf("unset: %v, dev %v", err, c.DevTicketKey)
	}
	key := strings.Repeat("k", domain.MinTicketKeyLen)
	c, err = LoadConfig(env{"TICKETING_TICKET_KEY": key}.get)
	if err != nil || c.DevTicketKey || string(c.TicketKey) != key {
		t.Fatalf("set: %v, dev %v", err, c.DevTicketKey)
	}
	// Two engines with one key agree on codes; another key's are unknown.
	id := uuid.New()
	if ticketCodes(c).Code(id, 0) != ticketCodes(c).Code(id, 0) {
		t.Error("one key, two codes")
	}
	if _, _, err := ticketCodes(c).Verify(ticketCodes(Config{}).Code(id, 0)); err == nil {
		t.Error("a code of the development key verifies under another key")
	}
	if _, err := LoadConfig(env{"TICKETING_TICKET_KEY": key[1:]}.get); err == nil || !strings.Contains(err.Error(), "TICKETING_TICKET_KEY") {
		t.Errorf("a short key: %v", err)
	}
}
