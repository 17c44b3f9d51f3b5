package main

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// hotShow is a published show with a GA section and a seated one of three
// rows of four seats.
func hotShow(t *testing.T, s *server, org string) string {
	t.Helper()
	body := map[string]any{
		"title": "Hot Gig", "venue": "Main Hall", "starts_at": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"sections": []any{
			map[string]any{"name": "floor", "price_cents": 500, "capacity": 40},
			map[string]any{"name": "stalls", "price_cents": 900, "rows": []any{
				map[string]any{"label": "A", "seats": 4}, map[string]any{"label": "B", "seats": 4}, map[string]any{"label": "C", "seats": 4}}},
		},
	}
	id := s.must(201, s.call("POST", "/v1/shows", org, body)).str("id")
	s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil))
	return id
}

// hotBody reads path from memory once the server keeps its show there (its
// answer says Cache-Control: no-cache) and reflects pos; it fails the test
// otherwise.
func hotBody(t *testing.T, s *server, path, pos string) resp {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.must(200, s.call("GET", path, "", nil, "X-Min-Position", pos))
		if r.header.Get("Cache-Control") == "no-cache" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never answered from memory", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// head returns the position of the last event of the log.
func (s *server) head() string {
	s.t.Helper()
	p, err := s.e.store.Head(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	return p.String()
}

// TestHot_MatchesReadModels runs random holds, payments, cancellations and
// expiries against a show, and compares, after each round, what two
// processes answer from memory with what a third, which keeps nothing in
// memory, answers from the read models at the same position.
func TestHot_MatchesReadModels(t *testing.T) {
	t.Parallel()
	testHotMatches(t)
}

// TestHot_MatchesReadModelsThroughKafka is TestHot_MatchesReadModels with
// the projections fed by the real broker of the run: the two processes
// load the show at the versions of its stream the read models record, not
// at a checkpoint (issue 17: reads).
func TestHot_MatchesReadModelsThroughKafka(t *testing.T) {
	t.Parallel()
	testHotMatches(t, withKafka(t, 4))
}

func testHotMatches(t *testing.T, options ...func(*Config)) {
	db := pgtest.SchemaURL(t)
	const ttl = 600 * time.Millisecond
	a, b := startServer(t, db, ttl, options...), startServer(t, db, ttl, options...)
	cold := startServer(t, db, ttl, append(options, func(c *Config) { c.Hot.Shows = 0 })...)
	org := a.token("organizer")
	show := hotShow(t, a, org)
	buyers := []string{a.token("buyer"), a.token("buyer"), a.token("buyer")}
	rng := rand.New(rand.NewPCG(17, 18))
	paths := []string{"/v1/shows/" + show, "/v1/shows/" + show + "/seats"}
	compare := func(round int) {
		t.Helper()
		time.Sleep(ttl + 300*time.Millisecond) // the holds left open expire
		pos := a.head()
		for _, p := range paths {
			want := cold.read(p, "", pos)
			if want.header.Get("Cache-Control") != "" {
				t.Fatalf("the cold server answered from memory")
			}
			// The head may have moved on (an expiry): read again until
			// all three agree on one log.
			for _, s := range []*server{a, b} {
				got := hotBody(t, s, p, pos)
				if !bytes.Equal(got.raw, want.raw) {
					t.Fatalf("round %d: %s from memory:\n%s\nfrom the read models at %s:\n%s", round, p, got.raw, pos, want.raw)
				}
				if w := want.header.Get("ETag"); p == paths[0] && got.header.Get("ETag") != w {
					t.Fatalf("round %d: ETag %s from memory, %s from the read models", round, got.header.Get("ETag"), w)
				}
			}
		}
	}
	compare(0)
	for round := 1; round <= 4; round++ {
		for range 12 {
			s := []*server{a, b}[rng.IntN(2)]
			tok := buyers[rng.IntN(len(buyers))]
			var hold map[string]any
			if rng.IntN(2) == 0 {
				hold = map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1 + rng.IntN(3)}}}
			} else {
				hold = map[string]any{"show_id": show, "seats": []any{map[string]any{"section": "stalls", "row": string(rune('A' + rng.IntN(3))), "seat": 1 + rng.IntN(4)}}}
			}
			r := s.call("POST", "/v1/orders", tok, hold)
			if r.status == 409 {
				continue // a seat taken
			}
			s.must(201, r)
			switch id := r.str("id"); rng.IntN(3) {
			case 0:
				s.must(200, s.call("POST", "/v1/orders/"+id+"/pay", tok, map[string]any{"payment_token": "tok_visa"}))
			case 1:
				s.must(200, s.call("POST", "/v1/orders/"+id+"/cancel", tok, nil))
			} // else left to expire
		}
		compare(round)
	}
	for _, s := range []*server{a, b} {
		if st := s.e.hot.Stats(); st.Applied == 0 || st.Loads > 3 {
			t.Errorf("hot views: %+v, want events applied in memory, few loads", st)
		}
	}
	a.audit()
}

// TestHot_ETagAndCacheControl: a hot read names its position in its ETag,
// says it must be revalidated, and answers If-None-Match with a 304 until
// the show changes.
func TestHot_ETagAndCacheControl(t *testing.T) {
	t.Parallel()
	testHotETag(t)
}

// TestHot_ETagAndCacheControlThroughKafka is TestHot_ETagAndCacheControl
// with the projections fed by the real broker of the run.
func TestHot_ETagAndCacheControlThroughKafka(t *testing.T) {
	t.Parallel()
	testHotETag(t, withKafka(t, 4))
}

func testHotETag(t *testing.T, options ...func(*Config)) {
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, options...)
	org, buyer := s.token("organizer"), s.token("buyer")
	show := hotShow(t, s, org)
	path := "/v1/shows/" + show
	first := hotBody(t, s, path, s.head())
	etag := first.header.Get("ETag")
	if cc := first.header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("Cache-Control = %q, want no-cache", cc)
	}
	if r := s.call("GET", path, "", nil, "If-None-Match", etag); r.status != http.StatusNotModified || len(r.raw) != 0 {
		t.Fatalf("If-None-Match %s: %d %s", etag, r.status, r.raw)
	}
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	r := s.must(200, s.call("GET", path, "", nil, "If-None-Match", etag, "X-Min-Position", held.str("position")))
	if r.header.Get("ETag") == etag {
		t.Fatalf("ETag after the hold: %q, as before it", etag)
	}
	if f := section(t, r, "floor"); num(f["held"]) != 2 || num(f["available"]) != 38 {
		t.Fatalf("floor after the hold: %v", f)
	}
	// The ETag is the show's version, which PATCH takes in If-Match.
	s.must(200, s.call("PATCH", path, org, map[string]any{"title": "Hotter Gig"}, "If-Match", r.header.Get("ETag")))
	// A made-up id is not found, and takes no place in memory.
	ghost := uuid.New()
	s.must(404, s.call("GET", "/v1/shows/"+ghost.String(), "", nil))
	s.must(404, s.call("GET", "/v1/shows/"+ghost.String()+"/live", "", nil))
	if s.e.hot.Kept(ghost) {
		t.Errorf("a show that does not exist is kept in memory")
	}
	// Beyond the head: refused as the read models refuse it.
	s.must(400, s.call("GET", path, "", nil, "X-Min-Position", "999999999.999999999"))
	// Routed ahead of the other routes (hotFirst), a hot read keeps the
	// middleware's work: a request id, and the metrics by route template.
	if r.header.Get("X-Request-Id") == "" {
		t.Errorf("a hot read without X-Request-Id")
	}
	m := s.metrics()
	for _, want := range []string{
		`ticketing_http_requests_total{code="304",method="GET",route="/v1/shows/{id}"} 1`,
		`ticketing_http_requests_total{code="200",method="PATCH",route="/v1/shows/{id}"} 1`,
		`ticketing_http_requests_total{code="404",method="GET",route="/v1/shows/{id}/live"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	s.audit()
}

func TestHot_Path(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	for path, want := range map[string]bool{
		"/v1/shows/" + id:                  true,
		"/v1/shows/" + id + "/seats":       true,
		"/v1/shows/" + id + "/":            false,
		"/v1/shows/" + id + "/live":        false,
		"/v1/shows/" + id + "/seats/x":     false,
		"/v1/shows/" + id[:35]:             false,
		"/v1/shows":                        false,
		"/v1/orders/" + id:                 false,
		"/v1/shows/" + id + "x":            false,
		"/v1/shows/" + strings.ToUpper(id): true,
	} {
		if got := hotPath(path); got != want {
			t.Errorf("hotPath(%q) = %v, want %v", path, got, want)
		}
	}
}
