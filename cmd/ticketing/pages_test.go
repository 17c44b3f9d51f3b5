package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// seatState is the expression of a seat's shown state on the show page.
func seatState(key string) string {
	return fmt.Sprintf(`(document.querySelector('[data-key=%q]') || {dataset: {}}).dataset.state`, key)
}

// A buyer opens a show, picks two seats (by mouse and by keyboard), holds
// them, sees the countdown, pays with a test card and sees two tickets with
// QR codes; a second browser on the same show sees the seats turn taken
// within a second of the hold, and sold after the payment.
func TestPages_BuyerFlow(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), 5*time.Minute)
	buyer, watcher := newBrowser(t), newBrowser(t)
	org := s.token("organizer")
	show, pos := s.publishedShow(org, 10)
	s.read("/v1/shows", "", pos)

	buyer.do(chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="show-link"]`)))
	buyer.shot("storefront-catalog")
	buyer.do(chromedp.Click(chromedp.CSS(`[data-testid="show-link"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-key="balcony/A/1"]`)))
	watcher.do(chromedp.Navigate(s.url+"/#/shows/"+show), chromedp.WaitVisible(chromedp.CSS(`[data-key="balcony/A/1"]`)))
	buyer.signUpThroughPage("buyer-" + show[:8] + "@example.com")

	// One seat by mouse, the next by keyboard: arrow right, then Space.
	buyer.do(chromedp.Click(chromedp.CSS(`[data-key="balcony/A/1"]`)),
		chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(" "))
	if got := eval[string](buyer, seatState("balcony/A/2")); got != "selected" {
		t.Fatalf("balcony A2 after the keyboard = %q, want selected", got)
	}
	if got := eval[string](buyer, `document.activeElement.getAttribute("aria-label")`); !strings.Contains(got, "Row A seat 2") || !strings.Contains(got, "selected") {
		t.Errorf("focused seat's name = %q", got)
	}
	buyer.shot("storefront-show-selected")
	buyer.do(chromedp.Click(chromedp.ID("hold")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="countdown"]`)))
	heldAt := eval[float64](buyer, `performance.getEntriesByType("resource").filter(e => e.name.endsWith("/v1/orders")).map(e => performance.timeOrigin + e.responseEnd)[0] || 0`)
	seenAt := waitFor[float64](watcher, fmt.Sprintf(`%s !== "available" && %s !== "available" && Date.now()`, seatState("balcony/A/1"), seatState("balcony/A/2")), 5*time.Second)
	if heldAt == 0 {
		t.Fatal("no hold request seen by the buyer's page")
	}
	if d := time.Duration((seenAt - heldAt) * float64(time.Millisecond)); d > time.Second {
		t.Errorf("the watcher saw the held seats %v after the hold, want within a second", d)
	} else {
		t.Logf("the watcher saw the held seats %v after the hold", d.Round(time.Millisecond))
	}
	if got := eval[string](buyer, `document.querySelector('[data-testid="countdown"]').textContent`); !regexp.MustCompile(`^(5:00|4:[0-5][0-9]) left$`).MatchString(got) {
		t.Errorf("countdown = %q, want about 5:00 left", got)
	}
	buyer.shot("storefront-pay")

	buyer.do(chromedp.SetValue(chromedp.ID("card"), "tok_visa"), chromedp.Click(chromedp.ID("pay")))
	waitFor[bool](buyer, `document.querySelectorAll('[data-testid="ticket"] img[data-testid="qr"]').length === 2 &&
		[...document.querySelectorAll('img[data-testid="qr"]')].every(i => i.complete && i.naturalWidth > 20)`, 10*time.Second)
	if got := eval[string](buyer, `document.querySelector('[data-testid="order-status"]').textContent`); got != "confirmed" {
		t.Errorf("order status on the page = %q", got)
	}
	buyer.shot("storefront-tickets")
	waitFor[bool](watcher, fmt.Sprintf(`%s === "sold" && %s === "sold"`, seatState("balcony/A/1"), seatState("balcony/A/2")), 5*time.Second)
	if got := eval[string](watcher, seatState("balcony/A/3")); got != "available" {
		t.Errorf("balcony A3 on the watcher's page = %q, want available", got)
	}
	watcher.shot("storefront-show-live")
	// The same page on a phone-sized screen.
	watcher.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`[data-key="balcony/A/1"]`)))
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
		{"/static/nope.js", "text/plain", 404},
		{"/index.html", "application/problem+json", 404},
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
