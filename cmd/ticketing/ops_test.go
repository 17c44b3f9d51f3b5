package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/infra/simpay"
	"github.com/ticketing/ticketing/internal/testlog"
	opsmetrics "github.com/ticketing/ticketing/metrics"
	"github.com/ticketing/ticketing/web"
)

// issue 16: ops. The domain signals, the access log, request ids and CORS,
// through the real server.

// metricValue returns the value of the series line of /metrics text m
// that starts with series (name and labels exactly), or "" when none does.
func metricValue(m, series string) string {
	for _, line := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// wantMetrics fails the test for every series of want whose value in m
// is not the one wanted.
func wantMetrics(t *testing.T, m string, want map[string]string) {
	t.Helper()
	for series, v := range want {
		if got := metricValue(m, series); got != v {
			t.Errorf("%s = %q, want %q", series, got, v)
		}
	}
}

func hold(show string, n int) map[string]any {
	return map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": n}}}
}

func TestServe_DomainMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 2)
	key := uuid.NewString()
	paid := s.must(201, s.call("POST", "/v1/orders", buyer, hold(show, 1), "Idempotency-Key", key))
	s.must(201, s.call("POST", "/v1/orders", buyer, hold(show, 1), "Idempotency-Key", key)) // replayed
	declined := s.must(201, s.call("POST", "/v1/orders", buyer, hold(show, 1)))
	s.must(409, s.call("POST", "/v1/orders", buyer, hold(show, 1))) // sold out
	p := s.must(200, s.call("POST", "/v1/orders/"+paid.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	s.must(402, s.call("POST", "/v1/orders/"+declined.str("id")+"/pay", buyer,
		map[string]any{"payment_token": simpay.TokenDeclinedInsufficientFunds}))
	s.read("/v1/me/tickets", buyer, p.str("position"))
	ticket := p.body["tickets"].([]any)[0].(map[string]any)["id"].(string)
	s.must(200, s.call("POST", "/v1/tickets/"+ticket+"/check-in", org, nil))
	s.must(409, s.call("POST", "/v1/tickets/"+ticket+"/check-in", org, nil))
	s.must(404, s.call("POST", "/v1/tickets/"+uuid.NewString()+"/check-in", org, nil))

	// issue 16: openapi: every route has its methods now, so an unknown
	// one is a 405 that no route counts; the label still guards against it.
	if got := methodLabel("BREW"); got != "other" {
		t.Errorf(`methodLabel("BREW") = %q, want "other"`, got)
	}
	m := s.metrics()
	wantMetrics(t, m, map[string]string{
		`ticketing_holds_total{outcome="accepted"}`:                                       "2",
		`ticketing_holds_total{outcome="sold_out"}`:                                       "1",
		`ticketing_idempotent_replays_total`:                                              "1",
		`ticketing_payments_total{decline_class="",outcome="confirmed"}`:                  "1",
		`ticketing_payments_total{decline_class="insufficient_funds",outcome="declined"}`: "1",
		`ticketing_checkins_total{outcome="checked_in",via="ticket"}`:                     "1",
		`ticketing_checkins_total{outcome="already_checked_in",via="ticket"}`:             "1",
		`ticketing_checkins_total{outcome="not_found",via="ticket"}`:                      "1",
		`ticketing_events_appended_total{type="order.placed"}`:                            "2",
		`ticketing_events_appended_total{type="order.confirmed"}`:                         "1",
		`ticketing_event_append_conflicts_total`:                                          "0",
	})
	for _, want := range []string{
		`ticketing_event_append_duration_seconds_count{op="append",outcome="ok"}`,
		`ticketing_db_pool_acquires_total`, `ticketing_db_pool_acquired_conns`, `ticketing_db_pool_acquire_wait_seconds_total`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^ticketing_db_pool_max_conns [1-9]`).MatchString(m) {
		t.Errorf("/metrics lacks a positive ticketing_db_pool_max_conns")
	}
	checkSignalsDocumented(t, m)
	s.audit()
}

// checkSignalsDocumented fails the test for each engine metric of the
// /metrics text m that docs/ops-signals.md does not list, and for each
// metric the Grafana dashboard queries that it does not list.
func checkSignalsDocumented(t *testing.T, m string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/ops-signals.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`(?m)^# TYPE (ticketing_\w+)`).FindAllStringSubmatch(m, -1) {
		if !bytes.Contains(doc, []byte("`"+name[1]+"`")) {
			t.Errorf("docs/ops-signals.md lacks %s", name[1])
		}
	}
	raw, err := os.ReadFile("../../docs/grafana/ticketing.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana/ticketing.json: %v", err)
	}
	suffix := regexp.MustCompile(`_(bucket|count|sum)$`)
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			for _, name := range regexp.MustCompile(`ticketing_\w+`).FindAllString(q.Expr, -1) {
				if name = suffix.ReplaceAllString(name, ""); !bytes.Contains(doc, []byte("`"+name+"`")) {
					t.Errorf("panel %q queries %s, which docs/ops-signals.md does not list", p.Title, name)
				}
			}
		}
	}
}

func TestServe_ExpiryMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), 200*time.Millisecond)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 5)
	o := s.must(201, s.call("POST", "/v1/orders", buyer, hold(show, 1)))
	s.waitOrder(o.str("id"), buyer, "expired", 10*time.Second)
	m := s.metrics()
	wantMetrics(t, m, map[string]string{
		`ticketing_hold_expiries_total`:                         "1",
		`ticketing_events_appended_total{type="order.expired"}`: "1",
	})
	if v := metricValue(m, "ticketing_expirer_last_run_timestamp_seconds"); v == "" || v == "0" {
		t.Errorf("ticketing_expirer_last_run_timestamp_seconds = %q, want a time", v)
	}
	if metricValue(m, "ticketing_expirer_backlog") == "" {
		t.Errorf("/metrics lacks ticketing_expirer_backlog")
	}
	s.audit()
}

// Without projectors the read models never reach a position: the read
// waits MinPositionWait, fails with 503, and the timeout is counted.
func TestServe_MinPositionTimeoutMetric(t *testing.T) {
	t.Parallel()
	s := startServerAs(t, pgtest.SchemaURL(t), time.Minute, roles{Write: true, Read: true}, quiet)
	org := s.token("organizer")
	show, pos := s.publishedShow(org, 5)
	s.must(503, s.call("GET", "/v1/shows/"+show, "", nil, "X-Min-Position", pos))
	m := s.metrics()
	wantMetrics(t, m, map[string]string{
		`ticketing_min_position_wait_seconds_count{outcome="timeout"}`: "1",
	})
	if strings.Contains(m, `ticketing_min_position_wait_seconds_count{outcome="caught_up"}`) {
		t.Errorf("a caught-up wait was counted:\n%s", m)
	}
	s.audit()
}

// accessLines returns the access log lines (JSON) of log.
func accessLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["msg"] == "http request" {
			out = append(out, line)
		}
	}
	return out
}

func TestServe_AccessLog(t *testing.T) {
	t.Parallel()
	var buf testlog.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := startServerAs(t, pgtest.SchemaURL(t), time.Minute, allRoles, log)
	org := s.token("organizer")
	show, pos := s.publishedShow(org, 5)
	r := s.must(200, s.call("GET", "/v1/shows/"+show, org, nil, "X-Min-Position", pos, web.RequestIDHeader, "trace-42.a_b"))
	if got := r.header.Get("X-Request-Id"); got != "trace-42.a_b" {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
	s.call("GET", "/v1/shows?api_key=query-secret-123", org, nil)
	s.must(404, s.call("GET", "/v1/nowhere/"+show, "", nil))
	lines := accessLines(t, buf.String())
	var found, unmatched bool
	for _, l := range lines {
		if l["level"] != "INFO" || l["method"] == nil || l["status"] == nil || l["duration_ms"] == nil || l["bytes"] == nil {
			t.Errorf("access log line lacks a field: %v", l)
		}
		if l["route"] == "/v1/shows/{id}" && l["request_id"] == "trace-42.a_b" && l["status"] == 200.0 && l["method"] == "GET" {
			found = true
		}
		if l["route"] == "unmatched" && l["status"] == 404.0 {
			unmatched = true
		}
		if id, _ := l["request_id"].(string); id == "" {
			t.Errorf("access log line without a request id: %v", l)
		}
	}
	if !found || !unmatched {
		t.Errorf("access log lacks the show read (%v) or the 404 (%v):\n%s", found, unmatched, buf.String())
	}
	for _, secret := range []string{org, "query-secret-123", show} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, buf.String())
		}
	}
	s.audit()
}

func TestServe_RequestIDHeader(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, c := range []struct{ name, id string }{
		{"none", ""},
		{"too long", strings.Repeat("a", web.MaxRequestIDLen+1)},
		{"a tab", "abc\tdef"},
		{"a space", "abc def"},
		{"a slash", "../../etc"},
		{"not ASCII", "id-\u00e9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.id != "" {
				h = []string{web.RequestIDHeader, c.id}
			}
			r := s.must(200, s.call("GET", "/livez", "", nil, h...))
			if got := r.header.Get("X-Request-Id"); !uuidRE.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want a new UUID", got)
			}
		})
	}
	// Other control characters never reach a handler: net/http refuses
	// the request (a problem+json 400), and echoes nothing.
	c := dialRaw(t, s.url)
	c.send("GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\x01\x1b[31mdef\r\n\r\n")
	if res := c.problem(http.StatusBadRequest); res.Header.Get("X-Request-Id") != "" {
		t.Errorf("X-Request-Id = %q on a refused request", res.Header.Get("X-Request-Id"))
	}
	ok := strings.Repeat("b", web.MaxRequestIDLen)
	if got := s.must(200, s.call("GET", "/livez", "", nil, web.RequestIDHeader, ok)).header.Get("X-Request-Id"); got != ok {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
}

func TestServe_CORS(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	const allowed = "https://shop.example"
	s := startServer(t, db, time.Minute, func(c *Config) { c.CORSOrigins = []string{allowed, "http://localhost:3000"} })
	off := startServer(t, db, time.Minute)
	preflight := func(s *server, origin string) resp {
		return s.call("OPTIONS", "/v1/orders", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	}
	r := preflight(s, allowed)
	if r.status/100 != 2 || r.header.Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "idempotency-key") {
		t.Errorf("preflight from %s: %d %v", allowed, r.status, r.header)
	}
	if r := s.call("GET", "/v1/shows", "", nil, "Origin", allowed); r.header.Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("GET from %s: %v", allowed, r.header)
	}
	for _, c := range []struct {
		name   string
		s      *server
		origin string
	}{{"another origin", s, "https://evil.example"}, {"CORS off", off, allowed}} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []resp{preflight(c.s, c.origin), c.s.call("GET", "/v1/shows", "", nil, "Origin", c.origin)} {
				for k := range r.header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s: %s", k, r.header.Get(k))
					}
				}
			}
		})
	}
	if r := preflight(off, allowed); r.status != http.StatusMethodNotAllowed {
		t.Errorf("preflight with CORS off: %d, want the router's 405", r.status)
	}
}

func TestLoadConfig_CORSOrigins(t *testing.T) {
	for _, c := range []struct {
		v    string
		want []string
		bad  bool
	}{
		{v: "", want: nil},
		{v: "https://shop.example, http://localhost:3000", want: []string{"https://shop.example", "http://localhost:3000"}},
		{v: "*", want: []string{"*"}},
		{v: "https://shop.example/path", bad: true},
		{v: "ftp://shop.example", bad: true},
		{v: "shop.example", bad: true},
		{v: "https://user@shop.example", bad: true},
		{v: "https://shop.example?x=1", bad: true},
		{v: strings.Repeat("https://a.example,", web.MaxCORSOrigins+1), bad: true},
	} {
		var cfg Config
		err := setCORSOrigins(&cfg, c.v)
		if (err != nil) != c.bad || (!c.bad && strings.Join(cfg.CORSOrigins, " ") != strings.Join(c.want, " ")) {
			t.Errorf("%q: %v, %v", c.v, cfg.CORSOrigins, err)
		}
	}
}

func TestServe_DoorMetrics(t *testing.T) {
	t.Parallel()
	s, org, _, show, tickets := doorShow(t, 2)
	checkIn := func(code string) resp {
		return s.call("POST", "/v1/check-ins", org, map[string]any{"code": code, "show_id": show})
	}
	s.must(200, checkIn(codeOf(tickets[0])))
	s.must(409, checkIn(codeOf(tickets[0])))
	checkIn("NOTACODE")
	other, _ := s.publishedShow(org, 5)
	s.call("POST", "/v1/check-ins", org, map[string]any{"code": codeOf(tickets[1]), "show_id": other})
	now := time.Now().UTC().Format(time.RFC3339Nano)
	s.must(200, s.call("POST", "/v1/shows/"+show+"/scans", org, map[string]any{"scans": []any{
		map[string]any{"code": codeOf(tickets[1]), "nonce": "n1", "scanned_at": now},
		map[string]any{"code": codeOf(tickets[1]), "nonce": "n1", "scanned_at": now},
	}}))
	wantMetrics(t, s.metrics(), map[string]string{
		`ticketing_checkins_total{outcome="checked_in",via="code"}`:         "1",
		`ticketing_checkins_total{outcome="already_checked_in",via="code"}`: "1",
		`ticketing_checkins_total{outcome="unknown_code",via="code"}`:       "1",
		`ticketing_checkins_total{outcome="wrong_show",via="code"}`:         "1",
		`ticketing_checkins_total{outcome="checked_in",via="scan"}`:         "1",
		`ticketing_checkins_total{outcome="duplicate",via="scan"}`:          "1",
	})
	s.audit()
}

// The measured store is still a MultiAppender, and counts a conflict of
// the real store. No projector runs: the test's events are of no
// registered type.
func TestMeasuredStore_Conflict(t *testing.T) {
	t.Parallel()
	s := startServerAs(t, pgtest.SchemaURL(t), time.Minute, roles{Write: true}, quiet)
	reg := prometheus.NewRegistry()
	store := measuredStore(s.e.store, opsmetrics.New(reg))
	if _, ok := store.(commands.MultiAppender); !ok {
		t.Fatal("the measured PostgreSQL store is no MultiAppender")
	}
	data := func() []domain.EventData {
		return []domain.EventData{{ID: uuid.New(), Type: "test.noted", Data: []byte(`{}`)}}
	}
	stream := "test-" + uuid.NewString()
	if _, err := store.Append(context.Background(), stream, domain.NoStream, data()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(context.Background(), stream, domain.NoStream, data()); !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("second append: %v, want a conflict", err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	wantMetrics(t, rec.Body.String(), map[string]string{
		"ticketing_event_append_conflicts_total":                                        "1",
		`ticketing_events_appended_total{type="test.noted"}`:                            "1",
		`ticketing_event_append_duration_seconds_count{op="append",outcome="conflict"}`: "1",
		`ticketing_event_append_duration_seconds_count{op="append",outcome="ok"}`:       "1",
	})
}
