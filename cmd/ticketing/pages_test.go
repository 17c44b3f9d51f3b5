package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// seatState is the expression of a seat's shown state on the show page.
func seatState(key string) string {
	return fmt.Sprintf(`(document.querySelector('[data-key=%q]') || {dataset: {}}).dataset.state`, key)
}

// hallShow publishes a show with 8 rows of 12 seats and a standing
// section, where another buyer holds C5-C7 and bought D8-D9 and 20
// standing places; it returns the show and the position of the last write.
func hallShow(s *server) (string, string) {
	s.t.Helper()
	org, other := s.token("organizer"), s.token("buyer")
	var rows []any
	for _, label := range strings.Split("ABCDEFGH", "") {
		rows = append(rows, map[string]any{"row": label, "seat_count": 12})
	}
	id := s.must(201, s.call("POST", "/v1/shows", org, map[string]any{
		"title": "Night Gig", "venue": "Main Hall", "starts_at": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"sections": []any{map[string]any{"name": "stalls", "price_cents": 4500, "rows": rows},
			map[string]any{"name": "floor", "price_cents": 2500, "capacity": 200}}, "max_units_per_buyer": 40})).str("id")
	s.must(200, s.call("POST", "/v1/shows/"+id+"/publish", org, nil))
	seats := func(row string, from, to int) []any {
		var out []any
		for n := from; n <= to; n++ {
			out = append(out, map[string]any{"section": "stalls", "row": row, "seat": n})
		}
		return out
	}
	s.must(201, s.call("POST", "/v1/orders", other, map[string]any{"show_id": id, "seats": seats("C", 5, 7)}))
	bought := s.must(201, s.call("POST", "/v1/orders", other, map[string]any{"show_id": id, "seats": seats("D", 8, 9),
		"items": []any{map[string]any{"section": "floor", "quantity": 20}}}))
	return id, s.must(200, s.call("POST", "/v1/orders/"+bought.str("id")+"/pay", other, map[string]any{"payment_token": "tok_visa"})).str("position")
}

// A buyer opens a show, picks two seats (by mouse and by keyboard), holds
// them, sees the countdown, pays with a test card and sees two tickets with
// QR codes; a second browser on the same show sees the seats turn taken
// within a second of the hold, and sold after the payment.
func TestPages_BuyerFlow(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), 5*time.Minute)
	buyer, watcher := newBrowser(t), newBrowser(t)
	show, pos := hallShow(s)
	s.read("/v1/shows", "", pos)

	buyer.do(chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="show-link"]`)))
	buyer.shot("storefront-catalog")
	buyer.checkAccessible("the catalog")
	buyer.do(chromedp.Click(chromedp.CSS(`[data-testid="show-link"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-key="stalls/A/1"]`)))
	watcher.do(chromedp.Navigate(s.url+"/#/shows/"+show), chromedp.WaitVisible(chromedp.CSS(`[data-key="stalls/A/1"]`)))
	buyer.signUpThroughPage("buyer-" + show[:8] + "@example.com")

	// One seat by mouse, the next by keyboard: arrow right, then Space.
	buyer.do(chromedp.Click(chromedp.CSS(`[data-key="stalls/A/1"]`)),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(" "))
	if got := eval[string](buyer, seatState("stalls/A/2")); got != "selected" {
		t.Fatalf("balcony A2 after the keyboard = %q, want selected", got)
	}
	if got := eval[string](buyer, `document.activeElement.getAttribute("aria-label")`); !strings.Contains(got, "Row A seat 2") || !strings.Contains(got, "selected") {
		t.Errorf("focused seat's name = %q", got)
	}
	buyer.shot("storefront-show-selected")
	buyer.checkAccessible("the show page")
	buyer.do(chromedp.Click(chromedp.ID("hold")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="countdown"]`)))
	heldAt := eval[float64](buyer, `performance.getEntriesByType("resource").filter(e => e.name.endsWith("/v1/orders")).map(e => performance.timeOrigin + e.responseEnd)[0] || 0`)
	seenAt := waitFor[float64](watcher, fmt.Sprintf(`%s !== "available" && %s !== "available" && Date.now()`, seatState("stalls/A/1"), seatState("stalls/A/2")), 5*time.Second)
	if heldAt == 0 {
		t.Fatal("no hold request seen by the buyer's page")
	}
	// Pushed, a change shows in about 100 ms on a quiet machine; the bound is
	// loose (a CI run at load 32 took 1.15 s), since whether it was pushed
	// is checked below by the page's live mode, not by the clock. Polled
	// twice a second, half a second more.
	within := 3 * time.Second
	if eval[string](watcher, `document.querySelector('[data-testid="live-mode"]').dataset.mode`) == "polling" {
		within += 500 * time.Millisecond
	}
	if d := time.Duration((seenAt - heldAt) * float64(time.Millisecond)); d > within {
		t.Errorf("the watcher saw the held seats %v after the hold, want within %v", d, within)
	} else {
		t.Logf("the watcher saw the held seats %v after the hold", d.Round(time.Millisecond))
	}
	if got := eval[string](buyer, `document.querySelector('[data-testid="countdown"]').textContent`); !regexp.MustCompile(`^(5:00|4:[0-5][0-9]) left$`).MatchString(got) {
		t.Errorf("countdown = %q, want about 5:00 left", got)
	}
	buyer.shot("storefront-pay")
	buyer.checkAccessible("the payment page")

	// A declined card: the page says so, and the order stays held.
	buyer.do(chromedp.SetValue(chromedp.ID("card"), "tok_chargeDeclined"), chromedp.Click(chromedp.ID("pay")))
	waitFor[bool](buyer, `document.querySelector('form [role="alert"]')?.textContent.length > 0 && !document.getElementById("pay").disabled`, 10*time.Second)
	if got := eval[string](buyer, `document.querySelector('[data-testid="order-status"]').textContent`); got != "held" {
		t.Errorf("order status after a declined card = %q, want held", got)
	}
	buyer.do(chromedp.SetValue(chromedp.ID("card"), "tok_visa"), chromedp.Click(chromedp.ID("pay")))
	waitFor[bool](buyer, `document.querySelectorAll('[data-testid="ticket"] img[data-testid="qr"]').length === 2 &&
		[...document.querySelectorAll('img[data-testid="qr"]')].every(i => i.complete && i.naturalWidth > 20)`, 10*time.Second)
	if got := eval[string](buyer, `document.querySelector('[data-testid="order-status"]').textContent`); got != "confirmed" {
		t.Errorf("order status on the page = %q", got)
	}
	buyer.shot("storefront-tickets")
	buyer.checkAccessible("the tickets")
	buyer.do(chromedp.Click(chromedp.CSS(`a[href="/#/tickets"]`)))
	waitFor[bool](buyer, `document.querySelectorAll('[data-testid="ticket"] img[data-testid="qr"]').length === 2 &&
		document.querySelector('[data-testid="ticket-count"]')?.textContent === "2"`, 10*time.Second)
	buyer.shot("storefront-my-tickets")
	waitFor[bool](watcher, fmt.Sprintf(`%s === "sold" && %s === "sold"`, seatState("stalls/A/1"), seatState("stalls/A/2")), 5*time.Second)
	if got := eval[string](watcher, seatState("stalls/A/3")); got != "available" {
		t.Errorf("balcony A3 on the watcher's page = %q, want available", got)
	}
	watcher.shot("storefront-show-live")
	mode := eval[string](watcher, `document.querySelector('[data-testid="live-mode"]').dataset.mode`)
	if want := "polling"; hasLiveStream(t, s, show) {
		if mode != "live" {
			t.Errorf("the engine serves /v1/shows/{id}/live but the page is %q, want live", mode)
		}
	} else if mode != want {
		t.Errorf("without a live stream the page is %q, want %s", mode, want)
	}
	t.Logf("the watcher's page followed the show by %s", mode)
	// The same page on a phone-sized screen.
	watcher.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`[data-key="stalls/A/1"]`)))
	if w := eval[float64](watcher, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the show page is %v px wide on a 390 px screen", w)
	}
	watcher.shot("storefront-show-phone")
	s.audit()
}

// The pages and their files are served with their policy; other paths keep
// the API's problem+json 404.
func TestPages_Served(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	for _, c := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html", 200},
		{"/organizer", "text/html", 200},
		{"/ops", "text/html", 200},
		{"/static/js/store.js", "text/javascript", 200},
		{"/static/css/app.css", "text/css", 200},
		{"/static/vendor/qrcode-generator-2.0.4.mjs", "text/javascript", 200},
		{"/static/", "application/problem+json", 404},
		{"/static/js/", "application/problem+json", 404},
		{"/static/nope.js", "application/problem+json", 404},
		{"/static/js/nope.js", "application/problem+json", 404},
		{"/index.html", "application/problem+json", 404},
		{"/static/shell.html", "application/problem+json", 404},
		{"/v1/nope", "application/problem+json", 404},
	} {
		r := s.call("GET", c.path, "", nil)
		if r.status != c.status || !strings.HasPrefix(r.header.Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s = %d %s, want %d %s", c.path, r.status, r.header.Get("Content-Type"), c.status, c.ctype)
		}
		if c.status == 200 && !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy = %q", c.path, r.header.Get("Content-Security-Policy"))
		}
	}
	if r := s.call("POST", "/", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", r.status)
	}
	page := string(s.call("GET", "/", "", nil).raw)
	for _, external := range []string{"http://", "https://", "//"} {
		if strings.Contains(strings.ReplaceAll(page, "<!doctype html>", ""), `src="`+external) || strings.Contains(page, `href="`+external) {
			t.Errorf("the storefront loads something from elsewhere (%s)", external)
		}
	}
}

// An organizer signs up, creates a show with a seated and a standing
// section and publishes it, all through the organizer page; the show is on
// sale in the API as the form described it; a buyer's purchase shows up in
// the sales and the hourly chart live; the organizer refunds it and
// cancels the show.
func TestPages_Organizer(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), 5*time.Minute)
	b := newBrowser(t)
	b.do(chromedp.Navigate(s.url + "/organizer"))
	b.signUpThroughPage("org-" + uuid.NewString()[:8] + "@example.com")
	b.do(chromedp.WaitVisible(chromedp.ID("create-show")),
		chromedp.SendKeys(chromedp.ID("show-title"), "Quartet at Dusk"),
		chromedp.SendKeys(chromedp.ID("show-venue"), "Small Hall"),
		chromedp.SetValue(chromedp.ID("sec-1-rows"), "2"), chromedp.SetValue(chromedp.ID("sec-1-seats"), "4"),
		chromedp.Click(chromedp.ID("add-section")), chromedp.WaitVisible(chromedp.ID("sec-2-name")),
		chromedp.SendKeys(chromedp.ID("sec-2-name"), "standing"), chromedp.SetValue(chromedp.ID("sec-2-price"), "12.50"),
		chromedp.SetValue(chromedp.ID("sec-2-kind"), "ga"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sec-2-kind").dispatchEvent(new Event("change"))`),
		chromedp.SetValue(chromedp.ID("sec-2-capacity"), "40"))
	b.shot("organizer-create")
	b.checkAccessible("the show form")
	b.do(chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("publish")))
	show := waitFor[string](b, `document.querySelector('[data-testid="show-status"]').dataset.showId`, 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("publish")))
	waitFor[bool](b, `document.querySelector('[data-testid="show-status"]').dataset.status === "on_sale"`, 5*time.Second)

	got := s.must(200, s.call("GET", "/v1/shows/"+show, "", nil))
	if got.str("title") != "Quartet at Dusk" || got.str("status") != "on_sale" {
		t.Fatalf("the show made through the page: %s", got.raw)
	}
	if st := section(t, got, "stalls"); st["kind"] != "seated" || num(st["capacity"]) != 8 || num(st["price_cents"]) != 2500 {
		t.Errorf("stalls: %v", st)
	}
	if ga := section(t, got, "standing"); ga["kind"] != "general_admission" || num(ga["capacity"]) != 40 || num(ga["price_cents"]) != 1250 {
		t.Errorf("standing: %v", ga)
	}

	// A sale shows up live, then is refunded from the page.
	buyer := s.token("buyer")
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "standing", "quantity": 3}}}))
	s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	waitFor[bool](b, `(document.querySelector('[data-testid="sold"]') || {}).textContent === "3" &&
		document.querySelectorAll('[data-testid="hour-chart"] rect[data-series="orders_confirmed"]').length > 0 &&
		document.querySelector('[data-testid="order-row"] button') !== null`, 10*time.Second)
	b.shot("organizer-show")
	b.checkAccessible("the show's dashboard")
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="order-row"] button`)))
	waitFor[bool](b, `[...document.querySelectorAll('[data-testid="order-row"]')].some(r => r.textContent.includes("refunded"))`, 10*time.Second)

	// Cancelling asks first (the test accepts), then the show is cancelled.
	b.do(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.ID("cancel-show")))
	waitFor[bool](b, `document.querySelector('[data-testid="show-status"]').dataset.status === "cancelled"`, 10*time.Second)
	if st := s.must(200, s.call("GET", "/v1/shows/"+show, "", nil)).str("status"); st != "cancelled" {
		t.Errorf("status after cancelling on the page = %q", st)
	}
	s.audit()
}

// stallable is a projector that fails every event while stalled is set.
type stallable struct {
	projections.Projector
	stalled atomic.Bool
}

func (p *stallable) Apply(ctx context.Context, db projections.DB, rec domain.RecordedEvent, e domain.Event) error {
	if p.stalled.Load() {
		return errors.New("projector bug: the sales projection cannot go on")
	}
	return p.Projector.Apply(ctx, db, rec, e)
}

// The ops page shows each projection's state and lag live: a stalled
// projection turns up as stalled, with its lag growing and its error, and
// a parked stream is listed.
func TestPages_OpsStalled(t *testing.T) {
	t.Parallel()
	sales := &stallable{Projector: projections.Sales{}}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) {
		c.projectors = []projections.Projector{projections.Shows{}, projections.Orders{}, sales, projections.Holds{}, projections.Analytics{},
			projections.Refunds{}, projections.Waitlist{}}
	})
	b := newBrowser(t)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	b.do(chromedp.Navigate(s.url + "/ops"))
	b.signInAs(s.token("admin"), "admin", "ops@example.com")
	waitFor[bool](b, `(document.querySelector('[data-testid="state-sales"]') || {}).textContent === "live"`, 10*time.Second)

	sales.stalled.Store(true)
	appendPoisonShow(t, s.e)
	for range 3 {
		s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	}
	waitFor[bool](b, `document.querySelector('[data-testid="state-sales"]').textContent.includes("stalled") &&
		Number(document.querySelector('[data-testid="lag-events-sales"]').textContent) > 0 &&
		document.querySelector('table[data-testid="parked"]') !== null`, 15*time.Second)
	row := eval[string](b, `document.querySelector('[data-testid="projection-sales"]').textContent`)
	if !strings.Contains(row, "projector bug") {
		t.Errorf("the sales row does not show its error: %q", row)
	}
	b.shot("ops")
	b.checkAccessible("the ops view")
	sales.stalled.Store(false)
	s.audit()
}

// GET /v1/admin/status: what `projections status --json` prints, for
// admins only; no query parameters.
func TestAdminStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	_, pos := s.publishedShow(s.token("organizer"), 5)
	s.read("/v1/shows", "", pos)
	s.must(401, s.call("GET", "/v1/admin/status", "", nil))
	s.must(401, s.call("GET", "/v1/admin/status", "not-a-token", nil))
	s.must(403, s.call("GET", "/v1/admin/status", s.token("buyer"), nil))
	admin := s.token("admin")
	s.must(400, s.call("GET", "/v1/admin/status?x=1", admin, nil))
	s.must(405, s.call("POST", "/v1/admin/status", admin, nil))
	r := s.must(200, s.call("GET", "/v1/admin/status", admin, nil))
	if r.str("head") != pos || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("head = %q, want %q; %s", r.str("head"), pos, r.raw)
	}
	names := map[string]bool{}
	for _, p := range r.body["projections"].([]any) {
		names[p.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"shows", "orders", "sales", "holds", "analytics"} {
		if !names[want] {
			t.Errorf("no projection %s in %s", want, r.raw)
		}
	}
	if _, ok := r.body["singletons"]; !ok {
		t.Errorf("no singletons (the expirer's leader) in %s", r.raw)
	}
	s.audit()
}

// hasLiveStream tells whether the engine serves the show's event stream.
func hasLiveStream(t *testing.T, s *server, show string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/shows/"+show+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	return res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
}

// A buyer holds standing places and lets the hold run out: the countdown
// ends, the page says the tickets went back on sale and offers no payment,
// and the show page counts the places available again.
func TestPages_HoldExpires(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), 3*time.Second)
	show, pos := s.publishedShow(s.token("organizer"), 10)
	s.read("/v1/shows/"+show, "", pos)
	b := newBrowser(t)
	b.do(chromedp.Navigate(s.url + "/#/shows/" + show))
	b.signInAs(s.token("buyer"), "buyer", "buyer@example.com")
	b.do(chromedp.WaitVisible(chromedp.ID("qty-floor")), chromedp.Clear(chromedp.ID("qty-floor")), chromedp.SendKeys(chromedp.ID("qty-floor"), "2"))
	waitFor[bool](b, `document.getElementById("selection").textContent.includes("2 × floor")`, 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("hold")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="countdown"]`)))
	waitFor[bool](b, `document.querySelector('form [role="alert"]')?.textContent.includes("ran out") && document.getElementById("pay").disabled`, 10*time.Second)
	if got := eval[string](b, `document.querySelector('[data-testid="countdown"]').textContent`); got != "0:00 left" {
		t.Errorf("countdown at the end = %q", got)
	}
	b.do(chromedp.Navigate(s.url + "/#/shows/" + show))
	waitFor[bool](b, `document.querySelector('[data-testid="ga-counts-floor"]')?.textContent.startsWith("10 available, 0 held")`, 10*time.Second)
	s.audit()
}
