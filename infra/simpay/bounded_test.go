package simpay

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/ticketing/ticketing/commands"
)

// A buyer may try any number of tokens: the failed attempts the provider
// remembers stay at MaxRememberedFailures, the most recent still replay,
// and successful charges are all kept.
func TestProvider_FailuresBounded(t *testing.T) {
	p, ctx := New(), context.Background()
	ok, err := p.Charge(ctx, "order-a/"+TokenVisa, 100, TokenVisa)
	if err != nil {
		t.Fatal(err)
	}
	const n = MaxRememberedFailures + 1000
	for i := range n {
		if _, err := p.Charge(ctx, "order-a/bad-"+strconv.Itoa(i), 100, "bad-"+strconv.Itoa(i)); !errors.Is(err, commands.ErrInvalidPaymentToken) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if got := p.failed.Len(); got != MaxRememberedFailures {
		t.Errorf("failures remembered: %d, want %d", got, MaxRememberedFailures)
	}
	if got := p.Attempts(); got != n+1 {
		t.Errorf("attempts: %d, want %d", got, n+1)
	}
	// The last failure replays without a new attempt; the success is kept.
	if _, err := p.Charge(ctx, "order-a/bad-"+strconv.Itoa(n-1), 100, "bad-"+strconv.Itoa(n-1)); !errors.Is(err, commands.ErrInvalidPaymentToken) || p.Attempts() != n+1 {
		t.Errorf("replay of the last failure: %v, attempts %d", err, p.Attempts())
	}
	if id, err := p.Charge(ctx, "order-a/"+TokenVisa, 100, TokenVisa); err != nil || id != ok || p.Attempts() != n+1 {
		t.Errorf("replay of the charge: %q, %v, attempts %d; want %q", id, err, p.Attempts(), ok)
	}
	if c := p.Charges(); len(c) != 1 {
		t.Errorf("charges: %d, want 1", len(c))
	}
}
