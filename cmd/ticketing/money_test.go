package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/infra/simpay"
	"github.com/ticketing/ticketing/projections"
)

// withPayments makes an engine charge and refund through p: the test owns
// the simulated provider's ledger, which outlives the engines that use it.
func withPayments(p commands.PaymentProvider) func(*Config) {
	return func(c *Config) { c.payments = p }
}

// paidOrder holds 2 floor units and seat balcony/A/1 for buyer and pays:
// it returns the order id, its ticket ids (floor, floor, seat) and the
// position of the payment.
func (s *server) paidOrder(show, buyer string) (string, []string, string) {
	s.t.Helper()
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show,
		"items": []any{map[string]any{"section": "floor", "quantity": 2}},
		"seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 1}}}))
	paid := s.must(200, s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	var ids []string
	var seat string
	for _, x := range paid.body["tickets"].([]any) {
		t := x.(map[string]any)
		if t["section"] == "balcony" {
			seat = t["id"].(string)
		} else {
			ids = append(ids, t["id"].(string))
		}
	}
	return held.str("id"), append(ids, seat), paid.str("position")
}

// eventsNow counts the events of the server's log.
func (s *server) eventsNow() int { return eventCount(s.t, s) }

// ledgerExact fails unless every charge of p is refunded in full, by one
// refund per decided refund and never more than the charge.
func ledgerExact(t *testing.T, p *simpay.Provider, wantCharges int) {
	t.Helper()
	charges := p.Charges()
	if len(charges) != wantCharges {
		t.Errorf("%d charges, want %d", len(charges), wantCharges)
	}
	refunded := map[string]int64{}
	for _, r := range p.Refunds() {
		refunded[r.ChargeID] += r.AmountCents
	}
	for _, c := range charges {
		if refunded[c.ID] != c.AmountCents || c.RefundedCents != c.AmountCents {
			t.Errorf("charge %s of %d: %d refunded (ledger says %d)", c.ID, c.AmountCents, refunded[c.ID], c.RefundedCents)
		}
	}
}

func TestMoney_RefundRoute(t *testing.T) {
	t.Parallel()
	pay := simpay.New()
	db := pgtest.SchemaURL(t)
	s := startServer(t, db, time.Minute, withPayments(pay))
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	order, tickets, pos := s.paidOrder(show, buyer)
	refund := "/v1/orders/" + order + "/refund"
	s.read("/v1/orders/"+order, buyer, pos)

	// Not the organizer, hostile bodies: refused, nothing written.
	before := s.eventsNow()
	s.must(403, s.call("POST", refund, s.token("organizer"), map[string]any{"reason": "mine"}))
	s.must(403, s.call("POST", refund, buyer, map[string]any{"reason": "mine"}))
	s.must(401, s.call("POST", refund, "", map[string]any{"reason": "x"}))
	for _, c := range []struct {
		body   any
		status int
		typ    string
	}{
		{`{"reason":"x","extra":1}`, 400, "malformed-request"},
		{`{"reason":"x","tickets":["not-a-uuid"]}`, 400, "malformed-request"},
		{`{"reason":"x"} {"reason":"y"}`, 400, "malformed-request"},
		{`{"reason":"x","restock":"yes"}`, 400, "malformed-request"},
		{map[string]any{}, 422, "validation"},
		{map[string]any{"reason": "a\u0000b"}, 422, "validation"},
		{map[string]any{"reason": string(make([]byte, 201))}, 422, "validation"},
		{map[string]any{"reason": "x", "tickets": []string{tickets[0], tickets[0]}}, 422, "validation"},
		{map[string]any{"reason": "x", "tickets": []string{order}}, 422, "validation"},
	} {
		problemOf(t, s.call("POST", refund, org, c.body), c.status, c.typ)
	}
	s.must(404, s.call("POST", "/v1/orders/"+tickets[0]+"/refund", org, map[string]any{"reason": "x"}))
	if after := s.eventsNow(); after != before || len(pay.Refunds()) != 0 {
		t.Fatalf("refused refunds wrote %d events and %d refunds", after-before, len(pay.Refunds()))
	}

	// The seat, restocked: 900 back, the seat on sale again; a retry with
	// the same key replays the answer and moves no money.
	body := map[string]any{"tickets": []string{tickets[2]}, "reason": "seat broken", "restock": true}
	one := s.must(200, s.call("POST", refund, org, body, "Idempotency-Key", "refund-1"))
	if num(one.body["amount_cents"]) != 900 || one.str("status") != "confirmed" || one.body["settled"] != true {
		t.Fatalf("refund of the seat: %s", one.raw)
	}
	again := s.must(200, s.call("POST", refund, org, body, "Idempotency-Key", "refund-1"))
	if again.str("refund_id") != one.str("refund_id") || len(pay.Refunds()) != 1 {
		t.Fatalf("a retry: %s, %d refunds", again.raw, len(pay.Refunds()))
	}
	if seats := seatMapStates(t, s, show, one.str("position")); seats["balcony/A/1"] != "available" {
		t.Fatalf("the refunded seat is %q, want available", seats["balcony/A/1"])
	}
	problemOf(t, s.call("POST", refund, org, body), 409, "already-refunded")
	problemOf(t, s.call("POST", "/v1/tickets/"+tickets[2]+"/check-in", org, nil), 409, "ticket-void")
	s.must(200, s.call("POST", "/v1/tickets/"+tickets[0]+"/check-in", org, nil))

	// The seat is for sale again; the rest refunded without restock.
	s.must(201, s.call("POST", "/v1/orders", s.token("buyer"), map[string]any{"show_id": show,
		"seats": []any{map[string]any{"section": "balcony", "row": "A", "seat": 1}}}))
	rest := s.must(200, s.call("POST", refund, s.token("admin"), map[string]any{"reason": "show moved"}))
	if num(rest.body["amount_cents"]) != 1000 || rest.str("status") != "refunded" {
		t.Fatalf("refund of the rest: %s", rest.raw)
	}
	problemOf(t, s.call("POST", refund, org, map[string]any{"reason": "once more"}), 409, "already-refunded")
	v := s.read("/v1/orders/"+order, buyer, rest.str("position"))
	voided := 0
	for _, x := range v.body["tickets"].([]any) {
		if x.(map[string]any)["voided_at"] != nil {
			voided++
		}
	}
	if v.str("status") != "refunded" || num(v.body["refunded_cents"]) != 1900 || voided != 3 {
		t.Errorf("order view after the refunds: %s", v.raw)
	}
	sales := s.read("/v1/shows/"+show+"/sales", org, rest.str("position"))
	if num(sales.body["units_sold"]) != 2 || num(sales.body["revenue_cents"]) != 0 {
		t.Errorf("sales after the refunds: %s", sales.raw)
	}
	ledgerExact(t, pay, 1)
	s.audit()

	// A replay rebuilds the same read models, refunds and returned seats
	// included, and settles nothing again.
	time.Sleep(refundGrace + 200*time.Millisecond) // the refund process marks the refunds settled
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := refundBacklog(context.Background(), s.e.queries); err != nil || b.Unsettled == 0 || time.Now().After(deadline) {
			break
		}
	}
	settle(t, s.e)
	models := dump(t, s.e.pool)
	if _, err := replay(context.Background(), replayPool(t, db), replayOptions{All: true, ExpectIdentical: true}, io.Discard, quiet); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if got := dump(t, s.e.pool); fmt.Sprint(got) != fmt.Sprint(models) {
		t.Errorf("after the replay:\n got %v\nwant %v", got, models)
	}
	if b, err := refundBacklog(context.Background(), s.e.queries); err != nil || b.Unsettled != 0 {
		t.Errorf("after the replay, refunds to settle again: %+v, %v", b, err)
	}

	// An unpaid order has nothing to refund.
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	problemOf(t, s.call("POST", "/v1/orders/"+held.str("id")+"/refund", org, map[string]any{"reason": "x"}), 409, "not-refundable")
}

// waitRefunds polls a show's page until its refunds are done.
func (s *server) waitRefunds(show string, within time.Duration) resp {
	s.t.Helper()
	var head int64
	if err := s.e.pool.QueryRow(context.Background(), "select coalesce(max(position), 0) from events").Scan(&head); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		// Every event so far projected: no confirmation is left out.
		r := s.call("GET", "/v1/shows/"+show, "", nil, "X-Min-Position", strconv.FormatInt(head, 10))
		if rf, _ := r.body["refunds"].(map[string]any); r.status == 200 && rf["state"] == "done" {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the refunds of show %s are not done: %s", show, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashingPayments lets through the first n refunds, then fails every
// call as a dead process would make none, and says so on crashed.
type crashingPayments struct {
	*simpay.Provider
	left    atomic.Int64
	once    sync.Once
	crashed chan struct{}
}

var errCrashed = errors.New("the process died")

func (p *crashingPayments) Refund(ctx context.Context, key, charge string, amount int64) (string, error) {
	if p.left.Add(-1) < 0 {
		p.once.Do(func() { close(p.crashed) })
		return "", errCrashed
	}
	return p.Provider.Refund(ctx, key, charge, amount)
}

// A cancelled show's refunds survive a crash half way: the first engine
// dies after 3 of 8 refunds (its process manager stopped mid-way, some
// refunds decided but not paid out); a fresh engine on the same database
// resumes from the refunds projection's checkpoint and ends with every
// order refunded exactly once, in the ledger and in the log.
func TestMoney_CancellationRefundsSurviveACrash(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	ledger := simpay.New()
	crashing := &crashingPayments{Provider: ledger, crashed: make(chan struct{})}
	crashing.left.Store(1 << 30) // the sales go through
	a := startServer(t, db, time.Minute, withPayments(crashing))
	org := a.token("organizer")
	show, _ := a.publishedShow(org, 30)
	const orders = 8
	for range orders {
		buyer := a.token("buyer")
		held := a.must(201, a.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
		a.must(200, a.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"}))
	}
	late := a.token("buyer")
	open := a.must(201, a.call("POST", "/v1/orders", late, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
	crashing.left.Store(3)
	cancelled := a.must(200, a.call("POST", "/v1/shows/"+show+"/cancel", org, nil))
	select {
	case <-crashing.crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("the refund process never reached its fourth refund")
	}
	// The stuck process shows: on the show's page and in the status.
	var backlog *projections.RefundBacklog
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		if backlog, err = refundBacklog(context.Background(), a.e.queries); err != nil {
			t.Fatal(err)
		}
		if backlog.Failing > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var status strings.Builder
	printRefundProcess(&status, backlog)
	if !strings.Contains(status.String(), "failing") || backlog.Unsettled == 0 {
		t.Errorf("status of the stuck refund process: %+v\n%s", backlog, status.String())
	}
	rf, _ := a.call("GET", "/v1/shows/"+show, "", nil).body["refunds"].(map[string]any)
	if rf["state"] != "in_progress" || num(rf["failing"]) == 0 {
		t.Errorf("the show's refunds while stuck: %v", rf)
	}
	a.stop()
	if got := len(ledger.Refunds()); got != 3 {
		t.Fatalf("%d refunds before the crash, want 3", got)
	}

	b := startServer(t, db, time.Minute, withPayments(ledger))
	page := b.waitRefunds(show, 30*time.Second)
	rf = page.body["refunds"].(map[string]any)
	if num(rf["orders"]) != orders || num(rf["refunded"]) != orders {
		t.Errorf("refunds after the restart: %v", rf)
	}
	ledgerExact(t, ledger, orders)
	if got := len(ledger.Refunds()); got != orders {
		t.Errorf("%d refunds in the ledger, want %d: one per order", got, orders)
	}
	// The cancelled show left the catalog; its page stays readable; its
	// open hold cannot be paid.
	catalog := b.read("/v1/shows", "", cancelled.str("position"))
	if items, _ := catalog.body["items"].([]any); len(items) != 0 {
		t.Errorf("the catalog lists the cancelled show: %s", catalog.raw)
	}
	b.waitOrder(open.str("id"), late, "cancelled", 10*time.Second)
	b.must(409, b.call("POST", "/v1/orders/"+open.str("id")+"/pay", late, map[string]any{"payment_token": "tok_visa"}))
	b.audit()
}

// Payments race a cancellation through two engines: whatever the
// interleaving, every payment is refunded (the payment lost the race and
// was refunded at once, or confirmed and the refund process refunded it),
// and the auditor finds no paid order of the cancelled show.
func TestMoney_PayVersusCancel(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	ledger := simpay.New()
	a, b := startServer(t, db, time.Minute, withPayments(ledger)), startServer(t, db, time.Minute, withPayments(ledger))
	org := a.token("organizer")
	show, _ := a.publishedShow(org, 60)
	type hold struct{ id, buyer string }
	holds := make([]hold, 40)
	for i := range holds {
		buyer := a.token("buyer")
		h := a.must(201, a.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}))
		holds[i] = hold{h.str("id"), buyer}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i, h := range holds {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		wg.Go(func() {
			r := srv.call("POST", "/v1/orders/"+h.id+"/pay", h.buyer, map[string]any{"payment_token": "tok_visa"})
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		})
		if i == len(holds)/2 {
			wg.Go(func() { b.must(200, b.call("POST", "/v1/shows/"+show+"/cancel", org, nil)) })
		}
	}
	wg.Wait()
	if codes[200]+codes[409] != len(holds) {
		t.Fatalf("statuses %v, want only 200 and 409", codes)
	}
	a.waitRefunds(show, 30*time.Second)
	charges := ledger.Charges()
	ledgerExact(t, ledger, len(charges))
	t.Logf("statuses %v, %d charges, all refunded", codes, len(charges))
	a.audit()
}

// pausedCharges holds every charge until release is closed, telling
// charging first: a payment can be made to straddle a cancellation.
type pausedCharges struct {
	*simpay.Provider
	charging, release chan struct{}
}

func (p *pausedCharges) Charge(ctx context.Context, key string, amount int64, token string) (string, error) {
	p.charging <- struct{}{}
	<-p.release
	return p.Provider.Charge(ctx, key, amount, token)
}

// The interleaving of issue 14: a payment checks the show (on sale),
// the show is cancelled, the payment confirms. The log has the
// confirmation after the cancellation; the refund process refunds it.
func TestMoney_ConfirmedAfterTheCancellationIsRefunded(t *testing.T) {
	t.Parallel()
	ledger := simpay.New()
	paused := &pausedCharges{Provider: ledger, charging: make(chan struct{}, 1), release: make(chan struct{})}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withPayments(paused))
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	held := s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 2}}}))
	paid := make(chan resp, 1)
	go func() {
		paid <- s.call("POST", "/v1/orders/"+held.str("id")+"/pay", buyer, map[string]any{"payment_token": "tok_visa"})
	}()
	<-paused.charging
	s.must(200, s.call("POST", "/v1/shows/"+show+"/cancel", org, nil))
	close(paused.release)
	s.must(200, <-paid)
	var cancelledAt, confirmedAt int64
	for typ, at := range map[string]*int64{"show.cancelled": &cancelledAt, "order.confirmed": &confirmedAt} {
		if err := s.e.pool.QueryRow(context.Background(), "select position from events where type = $1", typ).Scan(at); err != nil {
			t.Fatal(err)
		}
	}
	if confirmedAt < cancelledAt {
		t.Fatalf("order.confirmed at %d before show.cancelled at %d: not the interleaving under test", confirmedAt, cancelledAt)
	}
	rf := s.waitRefunds(show, 20*time.Second).body["refunds"].(map[string]any)
	if num(rf["orders"]) != 1 || num(rf["refunded"]) != 1 {
		t.Errorf("refunds: %v", rf)
	}
	ledgerExact(t, ledger, 1)
	s.audit()
}
