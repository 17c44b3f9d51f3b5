package simpay_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/infra/simpay"
)

// charged charges amountCents to tok_visa under key, failing t if it cannot.
func charged(t *testing.T, p *simpay.Provider, key string, amountCents int64) string {
	t.Helper()
	id, err := p.Charge(context.Background(), key, amountCents, "tok_visa")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestProvider_Charge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	for _, token := range []string{"tok_visa", "tok_mastercard", "tok_amex"} {
		t.Run("succeeds with "+token, func(t *testing.T) {
			t.Parallel()
			p := simpay.New()
			id, err := p.Charge(ctx, "k1", 4200, token)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(id, "ch_") || len(id) != len("ch_")+24 {
				t.Errorf("charge id = %q, want ch_ and 24 hex digits", id)
			}
			got := p.Charges()
			want := []simpay.Charge{{ID: id, Key: "k1", AmountCents: 4200, Token: token}}
			if len(got) != 1 || got[0] != want[0] {
				t.Errorf("Charges() = %+v, want %+v", got, want)
			}
		})
	}

	for token, code := range map[string]string{
		"tok_chargeDeclined":                  "generic_decline",
		"tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
		"tok_chargeDeclinedFraudulent":        "fraudulent",
		"tok_chargeDeclinedExpiredCard":       "expired_card",
	} {
		t.Run("declines "+token, func(t *testing.T) {
			t.Parallel()
			p := simpay.New()
			id, err := p.Charge(ctx, "k1", 4200, token)
			if !errors.Is(err, commands.ErrPaymentDeclined) {
				t.Fatalf("got (%q, %v), want ErrPaymentDeclined", id, err)
			}
			var de *simpay.DeclineError
			if !errors.As(err, &de) || de.Code != code {
				t.Errorf("decline code: got %v, want %q", err, code)
			}
			if id != "" {
				t.Errorf("charge id = %q, want none", id)
			}
			if got := p.Charges(); len(got) != 0 {
				t.Errorf("Charges() = %+v, want none", got)
			}
		})
	}

	for _, token := range []string{"", "tok_unknown", "tok_VISA", "4242424242424242", "tok_chargeDeclinedProcessingError"} {
		t.Run("rejects token "+token, func(t *testing.T) {
			t.Parallel()
			p := simpay.New()
			id, err := p.Charge(ctx, "k1", 4200, token)
			if !errors.Is(err, commands.ErrInvalidPaymentToken) {
				t.Fatalf("got (%q, %v), want ErrInvalidPaymentToken", id, err)
			}
			if errors.Is(err, commands.ErrPaymentDeclined) {
				t.Errorf("got %v, want it not to be a decline", err)
			}
			if got := p.Charges(); len(got) != 0 {
				t.Errorf("Charges() = %+v, want none", got)
			}
		})
	}

	t.Run("same key returns the first charge", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		first := charged(t, p, "order-1", 4200)
		// Even with other arguments: the key alone decides.
		for _, token := range []string{"tok_visa", "tok_amex", "tok_chargeDeclined"} {
			got, err := p.Charge(ctx, "order-1", 9900, token)
			if err != nil {
				t.Fatal(err)
			}
			if got != first {
				t.Errorf("%s: charge id = %q, want %q", token, got, first)
			}
		}
		if got := p.Charges(); len(got) != 1 || got[0].AmountCents != 4200 {
			t.Errorf("Charges() = %+v, want the first charge only", got)
		}
		if got, want := p.Attempts(), 1; got != want {
			t.Errorf("Attempts() = %d, want %d", got, want)
		}
	})
	t.Run("same key returns the first decline", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		_, first := p.Charge(ctx, "order-1", 4200, "tok_chargeDeclinedFraudulent")
		id, err := p.Charge(ctx, "order-1", 4200, "tok_visa")
		if err != first {
			t.Errorf("got (%q, %v), want the first error %v", id, err, first)
		}
		if got := p.Charges(); len(got) != 0 {
			t.Errorf("Charges() = %+v, want none", got)
		}
		if got, want := p.Attempts(), 1; got != want {
			t.Errorf("Attempts() = %d, want %d", got, want)
		}
	})
	t.Run("different keys make different charges", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		a := charged(t, p, "a", 100)
		b := charged(t, p, "b", 100)
		if a == b {
			t.Errorf("both charges have id %q", a)
		}
		if got := len(p.Charges()); got != 2 {
			t.Errorf("len(Charges()) = %d, want 2", got)
		}
	})
	t.Run("concurrent calls with one key charge once", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		const n = 20
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				id, err := p.Charge(ctx, "order-1", 4200, "tok_visa")
				if err != nil {
					t.Error(err)
				}
				ids[i] = id
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("charge ids differ: %v", ids)
			}
		}
		if got := len(p.Charges()); got != 1 {
			t.Errorf("len(Charges()) = %d, want 1", got)
		}
	})
	t.Run("invalid calls are not recorded", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := p.Charge(canceled, "k", 100, "tok_visa"); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled ctx: got %v, want context.Canceled", err)
		}
		for _, amount := range []int64{0, -100} {
			if _, err := p.Charge(ctx, "k", amount, "tok_visa"); err == nil {
				t.Errorf("amount %d: got nil error, want one", amount)
			}
		}
		if _, err := p.Charge(ctx, "", 100, "tok_visa"); err == nil {
			t.Error("empty key: got nil error, want one")
		}
		// The key is still free.
		if _, err := p.Charge(ctx, "k", 100, "tok_visa"); err != nil {
			t.Errorf("valid call after invalid ones: %v", err)
		}
		if got := len(p.Charges()); got != 1 {
			t.Errorf("len(Charges()) = %d, want 1", got)
		}
	})
}

func TestProvider_Refund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("refunds once by key", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		kept := charged(t, p, "a", 100)
		id, err := p.Charge(ctx, "b", 200, "tok_amex")
		if err != nil {
			t.Fatal(err)
		}
		var first string
		for i := range 2 {
			rid, err := p.Refund(ctx, "r1", id, 200)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = rid
			} else if rid != first {
				t.Errorf("a replayed key got refund %q, want %q", rid, first)
			}
		}
		if got := p.Refunds(); len(got) != 1 || got[0].ChargeID != id || got[0].AmountCents != 200 || got[0].ID != first {
			t.Errorf("Refunds() = %v, want one of 200 of %s", got, id)
		}
		got := map[string]bool{}
		for _, c := range p.Charges() {
			got[c.ID] = c.Refunded
		}
		if want := map[string]bool{kept: false, id: true}; len(got) != 2 || got[kept] != want[kept] || got[id] != want[id] {
			t.Errorf("refunded by charge id = %v, want %v", got, want)
		}
	})
	t.Run("partial refunds never exceed the charge", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		id := charged(t, p, "a", 100)
		for _, step := range []struct {
			key    string
			amount int64
			err    error
		}{{"r1", 60, nil}, {"r2", 50, commands.ErrRefundExceedsCharge}, {"r3", 40, nil}, {"r4", 1, commands.ErrRefundExceedsCharge}} {
			if _, err := p.Refund(ctx, step.key, id, step.amount); !errors.Is(err, step.err) {
				t.Errorf("refund %s of %d: got %v, want %v", step.key, step.amount, err, step.err)
			}
		}
		if c := p.Charges()[0]; c.RefundedCents != 100 || !c.Refunded || len(p.Refunds()) != 2 {
			t.Errorf("charge = %+v, refunds %v; want 100 refunded in two", c, p.Refunds())
		}
	})
	t.Run("unknown charge", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		if _, err := p.Refund(ctx, "k", "ch_nope", 1); !errors.Is(err, simpay.ErrUnknownCharge) {
			t.Errorf("got %v, want ErrUnknownCharge", err)
		}
		if got := p.Refunds(); len(got) != 0 {
			t.Errorf("Refunds() = %v, want none", got)
		}
	})
	t.Run("inspection returns copies", func(t *testing.T) {
		t.Parallel()
		p := simpay.New()
		id := charged(t, p, "a", 100)
		if _, err := p.Refund(ctx, "r", id, 100); err != nil {
			t.Fatal(err)
		}
		p.Charges()[0].AmountCents = 1
		p.Refunds()[0].ChargeID = "changed"
		if got := p.Charges()[0].AmountCents; got != 100 {
			t.Errorf("AmountCents = %d, want 100", got)
		}
		if got := p.Refunds()[0].ChargeID; got != id {
			t.Errorf("Refunds()[0].ChargeID = %q, want %q", got, id)
		}
	})
}
