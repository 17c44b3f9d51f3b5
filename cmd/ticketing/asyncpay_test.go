package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/infra/simpay"
	"github.com/ticketing/ticketing/paysig"
)

// intents returns the engine's simulated provider of payment intents and
// the ledger of its charges.
func (s *server) intents() (*simpay.Intents, *simpay.Provider) {
	s.t.Helper()
	in, ok1 := s.e.commands.Intents.(*simpay.Intents)
	pay, ok2 := s.e.commands.Payments.(*simpay.Provider)
	if !ok1 || !ok2 {
		s.t.Fatal("the engine does not run the simulated provider")
	}
	return in, pay
}

// delivered POSTs w to the engine's webhook route, signed by the
// provider, and wants a 200 with outcome, and reason unless it is "".
func (s *server) delivered(w simpay.Webhook, outcome, reason string) resp {
	s.t.Helper()
	in, _ := s.intents()
	r := s.must(200, s.call("POST", "/v1/webhooks/payments", "", string(w.Body), paysig.Header, in.Sign(w.Body, time.Now())))
	if r.str("outcome") != outcome || reason != "" && r.str("reason") != reason {
		s.t.Fatalf("webhook %s: %s, want outcome %s %s", w.Event.Type, r.raw, outcome, reason)
	}
	return r
}

// complete pays intent id with token at the provider and returns its webhook.
func (s *server) complete(id, token string, amountCents int64) simpay.Webhook {
	s.t.Helper()
	in, _ := s.intents()
	w, err := in.Complete(context.Background(), id, token, amountCents)
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// holdWithIntent holds two floor units (1000 cents) for buyer and starts
// their payment; it returns the order and intent ids.
func (s *server) holdWithIntent(buyer, show string) (order, intent string) {
	s.t.Helper()
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	started := s.must(201, s.call("POST", "/v1/orders/"+held.str("id")+"/payment-intents", buyer, nil))
	return held.str("id"), started.str("id")
}

func TestServe_AsyncPayment(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	in, ledger := s.intents()
	org, buyer, other := s.token("organizer"), s.token("buyer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	order := held.str("id")

	s.must(404, s.call("POST", "/v1/orders/"+order+"/payment-intents", other, nil))
	s.must(401, s.call("POST", "/v1/orders/"+order+"/payment-intents", "", nil))
	first := s.must(201, s.call("POST", "/v1/orders/"+order+"/payment-intents", buyer, nil))
	intent := first.str("id")
	if !strings.HasPrefix(intent, "pi_") || !strings.HasPrefix(first.str("client_secret"), intent+"_secret_") || num(first.body["amount_cents"]) != 1000 {
		t.Fatalf("intent: %s", first.raw)
	}
	again := s.must(200, s.call("POST", "/v1/orders/"+order+"/payment-intents", buyer, nil))
	if again.str("id") != intent || again.str("client_secret") != first.str("client_secret") {
		t.Fatalf("a second call opened another intent: %s", again.raw)
	}
	if st, _ := in.Intent(intent); st.AmountCents != 1000 || st.Order.String() != order {
		t.Fatalf("the provider's intent: %+v", st)
	}

	w := s.complete(intent, simpay.TokenVisa, 0)
	got := s.delivered(w, "confirmed", "")
	if got.str("order_id") != order {
		t.Fatalf("webhook answer: %s", got.raw)
	}
	view := s.read("/v1/orders/"+order, buyer, got.str("position"))
	if tickets, _ := view.body["tickets"].([]any); view.str("status") != "confirmed" || len(tickets) != 2 {
		t.Fatalf("order after the webhook: %s", view.raw)
	}
	if items, _ := s.read("/v1/me/tickets", buyer, got.str("position")).body["items"].([]any); len(items) != 2 {
		t.Fatalf("my tickets: %v", items)
	}

	// Duplicates, and a failure delivered after the success: harmless.
	before := eventCount(t, s)
	s.delivered(w, "confirmed", "") // a duplicate
	obj := w.Event.Data.Object
	obj.Status, obj.LatestCharge, obj.LastPaymentError = simpay.IntentRequiresPayment, "ch_late", &paysig.PaymentError{Code: "card_declined"}
	late, err := simpay.NewWebhook(paysig.IntentFailed, obj, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.delivered(late, "ignored", "")
	if n := eventCount(t, s); n != before {
		t.Fatalf("duplicates wrote %d events", n-before)
	}
	if ch := ledger.Charges(); len(ch) != 1 || ch[0].Refunded || len(ledger.Refunds()) != 0 {
		t.Fatalf("ledger: %+v, refunds %v", ch, ledger.Refunds())
	}
	// The order is paid: no more intents.
	s.must(409, s.call("POST", "/v1/orders/"+order+"/payment-intents", buyer, nil))
	s.audit()
}

func TestServe_AsyncPaymentFailedThenSucceeded(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	order, intent := s.holdWithIntent(buyer, show)

	failed := s.complete(intent, simpay.TokenDeclinedInsufficientFunds, 0)
	s.delivered(failed, "recorded", "")
	s.delivered(failed, "ignored", "")
	s.waitOrder(order, buyer, "held", 5*time.Second)
	ok := s.complete(intent, simpay.TokenMastercard, 0)
	s.delivered(ok, "confirmed", "")
	// The failure again, out of order.
	s.delivered(failed, "ignored", "")
	s.waitOrder(order, buyer, "confirmed", 5*time.Second)
	wantMetrics(t, s.metrics(), map[string]string{ // issue 16: ops: reports count as payments
		`ticketing_payments_total{decline_class="",outcome="recorded"}`:  "1",
		`ticketing_payments_total{decline_class="",outcome="ignored"}`:   "2",
		`ticketing_payments_total{decline_class="",outcome="confirmed"}`: "1",
	})
	s.audit()
}

func TestServe_AsyncPaymentLate(t *testing.T) {
	t.Parallel()
	const holdTTL = time.Second
	s := startServer(t, pgtest.SchemaURL(t), holdTTL)
	_, ledger := s.intents()
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)

	// Succeeded after the hold expired: refunded in full.
	order, intent := s.holdWithIntent(buyer, show)
	s.waitOrder(order, buyer, "expired", holdTTL+3*time.Second)
	w := s.complete(intent, simpay.TokenVisa, 0)
	for range 2 { // the second is a duplicate
		s.delivered(w, "refunded", "hold_expired")
	}
	charge := w.Event.Data.Object.LatestCharge
	if refunds := ledger.Refunds(); len(refunds) != 1 || refunds[0].ChargeID != charge {
		t.Fatalf("refunds %v, want [%s]", refunds, charge)
	}

	// A wrong amount: refused and refunded; the hold stays.
	order2, intent2 := s.holdWithIntent(buyer, show)
	wrong := s.complete(intent2, simpay.TokenVisa, 999)
	s.delivered(wrong, "refunded", "amount_mismatch")
	if r := s.call("GET", "/v1/orders/"+order2, buyer, nil); r.str("status") == "confirmed" {
		t.Fatalf("confirmed by a wrong amount: %s", r.raw)
	}
	if n := len(ledger.Refunds()); n != 2 {
		t.Fatalf("%d refunds, want 2", n)
	}
	for _, ch := range ledger.Charges() {
		if !ch.Refunded {
			t.Errorf("charge %s of %d kept", ch.ID, ch.AmountCents)
		}
	}

	// A cancelled order: no intent, and a payment for it is refunded.
	order3, intent3 := s.holdWithIntent(buyer, show)
	s.must(200, s.call("POST", "/v1/orders/"+order3+"/cancel", buyer, nil))
	s.must(409, s.call("POST", "/v1/orders/"+order3+"/payment-intents", buyer, nil))
	s.delivered(s.complete(intent3, simpay.TokenVisa, 0), "refunded", "order_cancelled")
	s.waitOrder(order2, buyer, "expired", holdTTL+3*time.Second)
	s.audit()
}

func TestServe_PaymentWebhookHostile(t *testing.T) {
	t.Parallel()
	current, old := []byte("whsec_current_current_current_32b"), []byte("whsec_previous_previous_previous!")
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.WebhookSecrets = [][]byte{current, old} })
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	order, intent := s.holdWithIntent(buyer, show)
	w := s.complete(intent, simpay.TokenVisa, 0)
	now := time.Now()
	signed := func(body string, secrets ...[]byte) string { return paysig.Sign(now, []byte(body), secrets...) }
	event := func(mutate func(e map[string]any)) string {
		var e map[string]any
		_ = json.Unmarshal(w.Body, &e)
		mutate(e)
		b, _ := json.Marshal(e)
		return string(b)
	}
	object := func(e map[string]any) map[string]any { return e["data"].(map[string]any)["object"].(map[string]any) }
	body := string(w.Body)
	before := eventCount(t, s)
	for _, c := range []struct {
		name, body, header string
		status             int
	}{
		{"no signature", body, "", 400},
		{"wrong secret", body, signed(body, []byte("whsec_wrong_wrong_wrong_wrong_32")), 400},
		{"old timestamp", body, paysig.Sign(now.Add(-10*time.Minute), w.Body, current), 400},
		{"malformed header", body, "v1=deadbeef", 400},
		{"body altered", strings.Replace(body, `"amount":1000`, `"amount":1`, 1), signed(body, current), 400},
		{"signed, not JSON", "{", signed("{", current), 400},
		{"signed, an unknown field", event(func(e map[string]any) { e["extra"] = 1 }), "", 400},
		{"signed, a duplicate key", strings.Replace(body, `"type":`, `"type":"x","type":`, 1), "", 400},
		{"signed, unknown order", event(func(e map[string]any) {
			object(e)["metadata"] = map[string]any{"order_id": "0190c2d3-0000-7000-8000-000000000000"}
		}), "", 422},
		{"signed, not an order id", event(func(e map[string]any) { object(e)["metadata"] = map[string]any{"order_id": "x"} }), "", 422},
		{"signed, another intent", event(func(e map[string]any) { object(e)["id"] = "pi_other" }), "", 422},
		{"signed, a hostile charge id", event(func(e map[string]any) { object(e)["latest_charge"] = "ch_\u0000<script>" }), "", 422},
		{"signed, no amount", event(func(e map[string]any) { object(e)["amount"] = 0 }), "", 422},
		{"signed, a huge body", `{"id":"` + strings.Repeat("x", 70<<10) + `"}`, "", 413},
	} {
		header := c.header
		if header == "" && c.status != 400 || c.name == "signed, an unknown field" || c.name == "signed, a duplicate key" {
			header = signed(c.body, current)
		}
		r := s.call("POST", "/v1/webhooks/payments", "", c.body, paysig.Header, header)
		if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want %d problem+json", c.name, r.status, r.header.Get("Content-Type"), r.raw, c.status)
		}
	}
	if n := eventCount(t, s); n != before {
		t.Fatalf("hostile webhooks wrote %d events", n-before)
	}
	s.must(405, s.call("GET", "/v1/webhooks/payments", "", nil))
	// Another event type is acknowledged and changes nothing.
	other := event(func(e map[string]any) { e["type"] = "charge.updated" })
	if r := s.must(200, s.call("POST", "/v1/webhooks/payments", "", other, paysig.Header, signed(other, old))); r.str("outcome") != "ignored" {
		t.Fatalf("another event type: %s", r.raw)
	}
	// Signed with the previous secret only (a rotation): accepted.
	r := s.must(200, s.call("POST", "/v1/webhooks/payments", "", body, paysig.Header, signed(body, old)))
	if r.str("outcome") != "confirmed" {
		t.Fatalf("signed with the previous secret: %s", r.raw)
	}
	s.waitOrder(order, buyer, "confirmed", 5*time.Second)
	s.audit()
}

// The same webhook delivered at once, twice to each of two engines on one
// database: every delivery is answered confirmed, the order is confirmed
// once, the show sells once.
func TestServe_PaymentWebhookTwoEngines(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	secret := func(c *Config) { c.WebhookSecrets = [][]byte{[]byte("whsec_shared_shared_shared_shared!")} }
	a, b := startServer(t, db, time.Minute, secret), startServer(t, db, time.Minute, secret)
	org, buyer := a.token("organizer"), a.token("buyer")
	show, _ := a.publishedShow(org, 10)
	order, intent := a.holdWithIntent(buyer, show)
	w := a.complete(intent, simpay.TokenVisa, 0)
	in, _ := a.intents()
	var wg sync.WaitGroup
	outcomes := make(chan string, 4)
	for _, s := range []*server{a, b, a, b} {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", s.url+"/v1/webhooks/payments", strings.NewReader(string(w.Body)))
			req.Header.Set(paysig.Header, in.Sign(w.Body, time.Now()))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				outcomes <- err.Error()
				return
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			outcomes <- fmt.Sprint(res.StatusCode, " ", body["outcome"])
		})
	}
	wg.Wait()
	close(outcomes)
	for o := range outcomes {
		if o != "200 confirmed" {
			t.Errorf("a delivery: %s, want 200 confirmed", o)
		}
	}
	b.waitOrder(order, buyer, "confirmed", 5*time.Second)
	var confirmations int
	if err := a.e.pool.QueryRow(context.Background(), "select count(*) from events where type = 'order.confirmed'").Scan(&confirmations); err != nil {
		t.Fatal(err)
	}
	if confirmations != 1 {
		t.Fatalf("%d confirmations, want 1", confirmations)
	}
	a.audit()
}
