package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/paysig"
	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/webhooks"
)

// issue 16: webhooks. End-to-end tests of outbound webhooks: a receiver on
// loopback (allowed by AllowPrivate), the real server and database.

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a webhook receiver on loopback that answers the statuses of
// fail, in turn, then 200.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail []int
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{path: r.URL.Path, header: r.Header.Clone(), body: body, at: time.Now()})
		status := http.StatusOK
		if len(rc.fail) > 0 {
			status, rc.fail = rc.fail[0], rc.fail[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// wait returns the requests received once there are n of them.
func (rc *receiver) wait(t *testing.T, n int, within time.Duration) []received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d requests in %s, want %d", len(got), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastWebhooks allows loopback receivers and retries within ms.
func fastWebhooks(horizon time.Duration) func(*Config) {
	return func(c *Config) {
		c.Webhooks.AllowPrivate = true
		c.Webhooks.Interval = 20 * time.Millisecond
		c.Webhooks.Backoff = webhooks.Backoff{First: 40 * time.Millisecond, Max: 200 * time.Millisecond, Horizon: horizon}
	}
}

func (s *server) endpoint(token, url string, types ...string) resp {
	s.t.Helper()
	return s.must(201, s.call("POST", "/v1/webhooks/endpoints", token, map[string]any{"url": url, "event_types": types, "description": "test"}))
}

// verified checks a delivery's signature with secret and returns its
// payload.
func verified(t *testing.T, r received, secret string) webhooks.Payload {
	t.Helper()
	if err := paysig.Verify(r.header.Get(webhooks.SignatureHeader), r.body, [][]byte{[]byte(secret)}, time.Now(), webhooks.Tolerance); err != nil {
		t.Fatalf("signature of %s: %v", r.body, err)
	}
	var p webhooks.Payload
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if r.header.Get(webhooks.IDHeader) != p.ID.String() || r.header.Get(webhooks.EventHeader) != p.Type {
		t.Fatalf("headers %v do not match payload %s", r.header, r.body)
	}
	return p
}

// settled waits until the delivery log of endpoint has n deliveries, none
// pending.
func (s *server) settled(endpoint, token string, n int) {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		items, _ := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+endpoint+"/deliveries", token, nil)).body["items"].([]any)
		pending := 0
		for _, x := range items {
			if x.(map[string]any)["state"] == "pending" {
				pending++
			}
		}
		if len(items) == n && pending == 0 {
			return
		}
	}
	s.t.Fatalf("the deliveries of %s did not settle", endpoint)
}

func TestServe_WebhookDelivered(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, fastWebhooks(time.Minute))
	rc := newReceiver(t)
	org, other, buyer := s.token("organizer"), s.token("organizer"), s.token("buyer")
	ep := s.endpoint(org, rc.srv.URL+"/hook", "show.published", "order.confirmed")
	secret := ep.str("secret")
	if !strings.HasPrefix(secret, "whsec_") || ep.str("status") != "enabled" || ep.str("scope") != "own_shows" ||
		ep.header.Get("Location") != "/v1/webhooks/endpoints/"+ep.str("id") {
		t.Fatalf("created endpoint: %v %s", ep.header, ep.raw)
	}
	if got := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id"), org, nil)); got.str("secret") != "" || got.str("url") != rc.srv.URL+"/hook" {
		t.Fatalf("GET shows the secret or not the URL: %s", got.raw)
	}
	s.publishedShow(other, 5) // another organizer's show: not delivered
	show, _ := s.publishedShow(org, 5)
	order := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	s.must(200, s.call("POST", "/v1/orders/"+order.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))

	got := rc.wait(t, 2, 10*time.Second)
	time.Sleep(200 * time.Millisecond) // nothing else comes
	if got = rc.wait(t, 2, 0); len(got) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(got))
	}
	types := map[string]webhooks.Payload{}
	for _, r := range got {
		p := verified(t, r, secret)
		types[p.Type] = p
	}
	if p := types["show.published"]; !strings.Contains(string(p.Data), show) {
		t.Fatalf("show.published: %+v", p)
	}
	if p := types["order.confirmed"]; !strings.Contains(string(p.Data), order.str("id")) || p.Position == "" {
		t.Fatalf("order.confirmed: %+v", p)
	}

	// The delivery log, a page of one at a time, newest first, once the
	// dispatcher recorded both answers.
	s.settled(ep.str("id"), org, 2)
	log1 := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id")+"/deliveries?limit=1", org, nil))
	items, _ := log1.body["items"].([]any)
	if len(items) != 1 || log1.body["has_more"] != true || log1.str("next_cursor") == "" {
		t.Fatalf("first page: %s", log1.raw)
	}
	first := items[0].(map[string]any)
	if first["event_type"] != "order.confirmed" || first["state"] != "succeeded" || num(first["last_status_code"]) != 200 || num(first["attempts"]) != 1 {
		t.Fatalf("delivery: %v", first)
	}
	log2 := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id")+"/deliveries?limit=1&cursor="+log1.str("next_cursor"), org, nil))
	if items, _ := log2.body["items"].([]any); len(items) != 1 || log2.body["has_more"] != false || items[0].(map[string]any)["event_type"] != "show.published" {
		t.Fatalf("second page: %s", log2.raw)
	}

	// Ownership: another organizer sees none of it; a buyer may not.
	s.must(404, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id"), other, nil))
	s.must(404, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id")+"/deliveries", other, nil))
	s.must(404, s.call("POST", "/v1/webhooks/deliveries/"+first["id"].(string)+"/redeliver", other, nil))
	s.must(403, s.call("GET", "/v1/webhooks/endpoints", buyer, nil))
	if l := s.must(200, s.call("GET", "/v1/webhooks/endpoints", other, nil)); len(l.body["items"].([]any)) != 0 {
		t.Fatalf("another organizer's list: %s", l.raw)
	}

	// A redelivery carries the same event id and body.
	s.must(202, s.call("POST", "/v1/webhooks/deliveries/"+first["id"].(string)+"/redeliver", org, nil))
	again := rc.wait(t, 3, 10*time.Second)[2]
	if p := verified(t, again, secret); p.ID != types["order.confirmed"].ID || string(again.body) != string(got[1].body) && string(again.body) != string(got[0].body) {
		t.Fatalf("redelivery: %s", again.body)
	}
	s.audit()
}

func TestServe_WebhookRetriedThenDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, fastWebhooks(1500*time.Millisecond))
	flaky := newReceiver(t, 500, 503, 500) // then 200
	org := s.token("organizer")
	ep := s.endpoint(org, flaky.srv.URL, "show.published")
	s.publishedShow(org, 5)

	got := flaky.wait(t, 4, 10*time.Second)
	var id string
	for i, r := range got {
		p := verified(t, r, ep.str("secret"))
		if i == 0 {
			id = p.ID.String()
		} else if p.ID.String() != id {
			t.Fatalf("attempt %d carries event %s, want %s", i+1, p.ID, id)
		}
		// Equal jitter: at least half of 40 ms, 80 ms, 160 ms.
		if i > 0 {
			if gap, least := r.at.Sub(got[i-1].at), (40*time.Millisecond<<(i-1))/2; gap < least {
				t.Errorf("attempt %d came %s after the previous, want at least %s", i+1, gap, least)
			}
		}
	}
	deliveries := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep.str("id")+"/deliveries", org, nil)).body["items"].([]any)
	d := deliveries[0].(map[string]any)
	// The receiver has answered; the dispatcher records the answer next.
	var full resp
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if full = s.must(200, s.call("GET", "/v1/webhooks/deliveries/"+d["id"].(string), org, nil)); full.str("state") != "pending" {
			break
		}
	}
	log, _ := full.body["attempt_log"].([]any)
	if full.str("state") != "succeeded" || len(log) != 4 || num(log[3].(map[string]any)["status_code"]) != 500 ||
		num(log[0].(map[string]any)["status_code"]) != 200 || log[3].(map[string]any)["error"] != "the receiver answered 500" {
		t.Fatalf("delivery after 3 failures: %s", full.raw)
	}

	// A dead endpoint: retried for the horizon, then disabled, with why.
	dead := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)
	ep2 := s.endpoint(org, dead.srv.URL, "show.cancelled")
	show, _ := s.publishedShow(org, 5)
	s.must(200, s.call("POST", "/v1/shows/"+show+"/cancel", org, nil))
	var e resp
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if e = s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep2.str("id"), org, nil)); e.str("status") == "disabled" {
			break
		}
	}
	if e.str("status") != "disabled" || !strings.Contains(e.str("disabled_reason"), "last error: the receiver answered 500") {
		t.Fatalf("endpoint after the horizon: %s", e.raw)
	}
	if n := len(dead.wait(t, 2, 0)); n < 3 {
		t.Errorf("the dead endpoint was tried %d times, want several", n)
	}
	items := s.must(200, s.call("GET", "/v1/webhooks/endpoints/"+ep2.str("id")+"/deliveries", org, nil)).body["items"].([]any)
	failed := items[0].(map[string]any)
	if failed["state"] != "failed" {
		t.Fatalf("delivery: %v", failed)
	}
	p := s.must(409, s.call("POST", "/v1/webhooks/deliveries/"+failed["id"].(string)+"/redeliver", org, nil))
	if p.header.Get("Content-Type") != web.ProblemContentType {
		t.Fatalf("redeliver to a disabled endpoint: %v", p.header)
	}
	// Enabled again, a redelivery goes through, with the same event id.
	dead.mu.Lock()
	dead.fail = nil
	before := len(dead.got)
	dead.mu.Unlock()
	s.must(200, s.call("POST", "/v1/webhooks/endpoints/"+ep2.str("id")+"/enable", org, nil))
	s.must(202, s.call("POST", "/v1/webhooks/deliveries/"+failed["id"].(string)+"/redeliver", org, nil))
	last := dead.wait(t, before+1, 10*time.Second)[before]
	if pl := verified(t, last, ep2.str("secret")); pl.ID.String() != failed["event_id"] {
		t.Fatalf("redelivered event %s, want %s", pl.ID, failed["event_id"])
	}
	s.audit()
}

func TestServe_WebhookEndpointRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute) // no private addresses
	org, buyer := s.token("organizer"), s.token("buyer")
	s.publishedShow(org, 5) // for the auditor: the log is not empty
	for _, url := range []string{"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
		"http://[::1]:9000/", "http://localhost:8080/", "ftp://example.com/hook", "https://user:pw@example.com/", "not a url", "",
		"http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://192.168.1.1/"} {
		p := s.must(422, s.call("POST", "/v1/webhooks/endpoints", org, map[string]any{"url": url, "event_types": []string{"order.confirmed"}}))
		if p.header.Get("Content-Type") != web.ProblemContentType || !strings.Contains(string(p.raw), `"field":"url"`) {
			t.Errorf("%s: %v %s", url, p.header, p.raw)
		}
	}
	ok := map[string]any{"url": "https://example.com/hook", "event_types": []string{"order.confirmed"}}
	for name, c := range map[string]struct {
		token  string
		body   any
		status int
	}{
		"unknown type":  {org, map[string]any{"url": "https://93.184.215.14/", "event_types": []string{"show.seats_held"}}, 422},
		"no types":      {org, map[string]any{"url": "https://93.184.215.14/", "event_types": []string{}}, 422},
		"unknown field": {org, `{"url":"https://93.184.215.14/","event_types":["order.confirmed"],"secret":"mine"}`, 400},
		"duplicate key": {org, `{"url":"https://93.184.215.14/","url":"http://127.0.0.1/","event_types":["order.confirmed"]}`, 400},
		"buyer":         {buyer, ok, 403},
		"no token":      {"", ok, 401},
		"control chars": {org, map[string]any{"url": "https://93.184.215.14/", "event_types": []string{"order.confirmed"}, "description": "a\x00b"}, 422},
	} {
		if r := s.call("POST", "/v1/webhooks/endpoints", c.token, c.body); r.status != c.status || r.header.Get("Content-Type") != web.ProblemContentType {
			t.Errorf("%s: status %d, want %d problem+json; %s", name, r.status, c.status, r.raw)
		}
	}
	var n int
	if err := s.e.pool.QueryRow(t.Context(), "select count(*) from webhook_endpoints").Scan(&n); err != nil || n != 0 {
		t.Fatalf("endpoints written: %d, %v", n, err)
	}
	s.must(404, s.call("GET", "/v1/webhooks/endpoints/nope", org, nil))
	s.must(400, s.call("GET", "/v1/webhooks/endpoints?cursor=bad", org, nil))
	s.must(400, s.call("GET", "/v1/webhooks/endpoints?limit=201", org, nil))
	s.audit()
}

func TestServe_WebhookRotateAndDisable(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, fastWebhooks(time.Minute))
	rc := newReceiver(t)
	org, admin := s.token("organizer"), s.token("admin")
	ep := s.endpoint(org, rc.srv.URL, "show.published", "show.cancelled")
	all := s.endpoint(admin, rc.srv.URL+"/all", "show.published")
	if all.str("scope") != "all_shows" {
		t.Fatalf("an admin's endpoint: %s", all.raw)
	}
	rot := s.must(200, s.call("POST", "/v1/webhooks/endpoints/"+ep.str("id")+"/rotate-secret", org, nil))
	if rot.str("secret") == "" || rot.str("secret") == ep.str("secret") || rot.str("previous_secret_until") == "" {
		t.Fatalf("rotation: %s", rot.raw)
	}
	show, _ := s.publishedShow(org, 5)
	got := rc.wait(t, 2, 10*time.Second)
	for _, r := range got {
		if r.header.Get("Ticketing-Webhook-Event") != "show.published" {
			t.Fatalf("delivery: %v", r.header)
		}
		if r.header.Get(webhooks.DeliveryHeader) == "" {
			t.Fatalf("no delivery id: %v", r.header)
		}
	}
	// The organizer's delivery verifies with the new secret and, for a
	// day, with the old one; the admin's with the admin's.
	for _, r := range got {
		secrets := []string{rot.str("secret"), ep.str("secret")}
		if strings.Contains(r.path, "/all") {
			secrets = []string{all.str("secret")}
		}
		for _, secret := range secrets {
			verified(t, r, secret)
		}
	}

	// Disabled by its owner: nothing more is sent to it; an admin sees it.
	off := s.must(200, s.call("DELETE", "/v1/webhooks/endpoints/"+ep.str("id"), org, nil))
	if off.str("status") != "disabled" || !strings.HasPrefix(off.str("disabled_reason"), "disabled by organizer") {
		t.Fatalf("disabled: %s", off.raw)
	}
	s.must(200, s.call("POST", "/v1/shows/"+show+"/cancel", org, nil))
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.wait(t, 2, 0)); n != 2 {
		t.Fatalf("%d deliveries, want 2: a disabled endpoint got one", n)
	}
	l := s.must(200, s.call("GET", "/v1/webhooks/endpoints", admin, nil))
	if items, _ := l.body["items"].([]any); len(items) != 2 {
		t.Fatalf("an admin's list: %s", l.raw)
	}
	s.audit()
}

// A receiver that never answers holds back neither another endpoint's
// deliveries nor the projections.
func TestServe_WebhookDeadEndpointHoldsNoOne(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, fastWebhooks(time.Minute), func(c *Config) { c.Webhooks.Timeout = 30 * time.Second })
	rc := newReceiver(t)
	org := s.token("organizer")
	s.endpoint(org, hung.URL, "show.published")
	s.endpoint(org, rc.srv.URL, "show.published")
	var pos string
	for range 8 { // more than the hung endpoint's deliveries in flight
		_, pos = s.publishedShow(org, 5)
	}
	s.read("/v1/me/shows", org, pos) // the projections are not held back
	rc.wait(t, 8, 10*time.Second)    // nor is the other endpoint, while the hung one's wait 30 s
	s.audit()
}
