// Package simpay is an in-memory payment provider for tests and local runs.
// Its card tokens behave like Stripe's test tokens, so that a test can pick
// a card that succeeds or one that is declined for a given reason.
package simpay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ticketing/ticketing/commands"
)

// Test tokens that succeed.
const (
	TokenVisa       = "tok_visa"
	TokenMastercard = "tok_mastercard"
	TokenAmex       = "tok_amex"
)

// Test tokens that are declined, and their decline codes.
const (
	TokenDeclined                  = "tok_chargeDeclined"
	TokenDeclinedInsufficientFunds = "tok_chargeDeclinedInsufficientFunds"
	TokenDeclinedFraudulent        = "tok_chargeDeclinedFraudulent"
	TokenDeclinedExpiredCard       = "tok_chargeDeclinedExpiredCard"
)

// Decline codes, as Stripe names them.
const (
	DeclineGeneric           = "generic_decline"
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineFraudulent        = "fraudulent"
	DeclineExpiredCard       = "expired_card"
)

var declines = map[string]string{
	TokenDeclined:                  DeclineGeneric,
	TokenDeclinedInsufficientFunds: DeclineInsufficientFunds,
	TokenDeclinedFraudulent:        DeclineFraudulent,
	TokenDeclinedExpiredCard:       DeclineExpiredCard,
}

var approved = map[string]bool{TokenVisa: true, TokenMastercard: true, TokenAmex: true}

// ErrUnknownCharge means Refund was given a charge id the provider never
// issued.
var ErrUnknownCharge = errors.New("unknown charge")

// DeclineError is a refused card with its decline code. It matches
// commands.ErrPaymentDeclined with errors.Is.
type DeclineError struct {
	Code string
}

// Error returns the decline code in a sentence.
func (e *DeclineError) Error() string { return "payment declined: " + e.Code }

// DeclineCode returns the decline code, for commands.DeclineCoder.
func (e *DeclineError) DeclineCode() string { return e.Code }

var _ commands.DeclineCoder = (*DeclineError)(nil)

// Unwrap returns commands.ErrPaymentDeclined.
func (e *DeclineError) Unwrap() error { return commands.ErrPaymentDeclined }

// Charge is a successful charge: money taken from a card.
type Charge struct {
	ID            string
	Key           string // the idempotency key it was made with
	AmountCents   int64
	Token         string
	RefundedCents int64 // the sum of its refunds
	Refunded      bool  // refunded in full
}

// Refund is a refund of (part of) a charge.
type Refund struct {
	ID          string
	Key         string // the idempotency key it was made with
	ChargeID    string
	AmountCents int64
}

type outcome struct {
	chargeID string
	err      error
}

var _ commands.PaymentProvider = (*Provider)(nil)

// MaxRememberedFailures is how many failed charge attempts a Provider
// remembers, by key, to replay: about 20 MB at most, with keys of the
// engine's shape and payment tokens of at most 255 bytes.
const MaxRememberedFailures = 65536

// Provider is a simulated payment provider with a ledger of its charges
// and refunds. It is safe for concurrent use.
type Provider struct {
	mu    sync.Mutex
	byKey map[string]outcome // every successful charge, by idempotency key
	// failed are the charge attempts that failed, by idempotency key, the
	// most recent MaxRememberedFailures: a buyer can try any number of
	// tokens on a held order, and `ticketing serve` runs this provider, so
	// every failure kept for good was memory any client could grow. A
	// retry of a recent failure still gets its first answer.
	failed    *lru.Cache[string, outcome]
	byID      map[string]int // index into charges
	charges   []Charge
	refunds   []Refund
	refundKey map[string]outcome // every refund attempt, by idempotency key
	attempts  int
}

// New returns a Provider with no charges.
func New() *Provider {
	failed, err := lru.New[string, outcome](MaxRememberedFailures)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Provider{byKey: map[string]outcome{}, failed: failed, byID: map[string]int{}, refundKey: map[string]outcome{}}
}

// checkCall refuses a call of op (charge, refund) that is not to be
// recorded: a done ctx, an empty key or a non-positive amount.
func checkCall(ctx context.Context, op, key string, amountCents int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simpay %s: %w", op, err)
	}
	if key == "" {
		return fmt.Errorf("simpay %s: empty idempotency key", op)
	}
	if amountCents <= 0 {
		return fmt.Errorf("simpay %s: amount must be positive, got %d", op, amountCents)
	}
	return nil
}

// Charge takes amountCents from the test card behind token. The tok_visa,
// tok_mastercard and tok_amex tokens succeed; tok_chargeDeclined* tokens
// fail with a *DeclineError (commands.ErrPaymentDeclined); any other token
// fails with commands.ErrInvalidPaymentToken. A repeated key returns the
// first call's charge id or error and charges nothing. A non-positive
// amount, an empty key or a done ctx fails without being recorded.
func (p *Provider) Charge(ctx context.Context, key string, amountCents int64, token string) (string, error) {
	if err := checkCall(ctx, "charge", key, amountCents); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.byKey[key]; ok {
		return o.chargeID, o.err
	}
	if o, ok := p.failed.Get(key); ok {
		return o.chargeID, o.err
	}
	p.attempts++
	var o outcome
	switch {
	case approved[token]:
		o.chargeID = "ch_" + randomHex(12)
		p.byID[o.chargeID] = len(p.charges)
		p.charges = append(p.charges, Charge{ID: o.chargeID, Key: key, AmountCents: amountCents, Token: token})
	case declines[token] != "":
		o.err = fmt.Errorf("simpay charge: %w", &DeclineError{Code: declines[token]})
	default:
		o.err = fmt.Errorf("simpay charge: token %q: %w", token, commands.ErrInvalidPaymentToken)
	}
	if o.err != nil {
		p.failed.Add(key, o)
	} else {
		p.byKey[key] = o
	}
	return o.chargeID, o.err
}

// Refund returns amountCents of chargeID. A repeated key returns the first
// call's refund id or error and moves no money. An id the provider never
// issued fails with ErrUnknownCharge, refunds past the charge with
// commands.ErrRefundExceedsCharge (both recorded under the key); an empty
// key, a non-positive amount or a done ctx fail without being recorded.
func (p *Provider) Refund(ctx context.Context, key, chargeID string, amountCents int64) (string, error) {
	if err := checkCall(ctx, "refund", key, amountCents); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.refundKey[key]; ok {
		return o.chargeID, o.err
	}
	var o outcome
	i, ok := p.byID[chargeID]
	switch {
	case !ok:
		o.err = fmt.Errorf("simpay refund %q: %w", chargeID, ErrUnknownCharge)
	case amountCents > p.charges[i].AmountCents-p.charges[i].RefundedCents:
		o.err = fmt.Errorf("simpay refund %q of %d, %d left: %w", chargeID, amountCents,
			p.charges[i].AmountCents-p.charges[i].RefundedCents, commands.ErrRefundExceedsCharge)
	default:
		o.chargeID = "re_" + randomHex(12)
		c := &p.charges[i]
		c.RefundedCents += amountCents
		c.Refunded = c.RefundedCents == c.AmountCents
		p.refunds = append(p.refunds, Refund{ID: o.chargeID, Key: key, ChargeID: chargeID, AmountCents: amountCents})
	}
	p.refundKey[key] = o
	return o.chargeID, o.err
}

// Charges returns a copy of the successful charges, oldest first, with
// their refund state.
func (p *Provider) Charges() []Charge {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Charge(nil), p.charges...)
}

// Refunds returns a copy of the refunds made, oldest first.
func (p *Provider) Refunds() []Refund {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Refund(nil), p.refunds...)
}

// Attempts returns how many distinct charge attempts reached the card
// network: successes and declines, not replays of a known key.
func (p *Provider) Attempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
