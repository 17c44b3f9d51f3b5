package simpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/paysig"
)

// Intent statuses, as Stripe names them.
const (
	IntentRequiresPayment = "requires_payment_method"
	IntentSucceeded       = "succeeded"
)

// ErrUnknownIntent means an intent id the provider never issued.
var ErrUnknownIntent = errors.New("unknown payment intent")

// IntentState is a payment intent as the simulated provider keeps it.
type IntentState struct {
	ID           string
	ClientSecret string
	Key          string
	Order        uuid.UUID
	AmountCents  int64
	Status       string
	ChargeID     string // of the successful attempt
	Attempts     int
}

var _ commands.PaymentIntents = (*Intents)(nil)

// Intents is a simulated provider of payment intents on top of a Provider,
// whose ledger holds their charges. It completes or fails an intent with a
// test token and delivers the signed webhook to the engine by a real HTTP
// POST (the one adapter that speaks HTTP: it plays the provider's side of
// the wire), as often and in whatever order a test wants. It is safe for
// concurrent use.
type Intents struct {
	p       *Provider
	secrets [][]byte
	client  *http.Client
	now     func() time.Time

	mu      sync.Mutex
	byKey   map[string]string // idempotency key → intent id
	intents map[string]*IntentState
	hooks   map[string]Webhook // intent id → its latest webhook
}

// Webhook is one webhook the provider made: its event and raw body.
type Webhook struct {
	Event paysig.Event
	Body  []byte
}

// NewIntents returns a provider of payment intents charging through p and
// signing its webhooks with every one of secrets (two during a rotation).
func NewIntents(p *Provider, secrets ...[]byte) *Intents {
	return &Intents{p: p, secrets: secrets, client: &http.Client{Timeout: 10 * time.Second}, now: time.Now,
		byKey: map[string]string{}, intents: map[string]*IntentState{}, hooks: map[string]Webhook{}}
}

// StartIntent opens an intent of amountCents for order; a repeated key
// returns the first intent.
func (s *Intents) StartIntent(ctx context.Context, key string, order uuid.UUID, amountCents int64) (commands.Intent, error) {
	if err := ctx.Err(); err != nil {
		return commands.Intent{}, fmt.Errorf("simpay intent: %w", err)
	}
	if key == "" || amountCents <= 0 {
		return commands.Intent{}, fmt.Errorf("simpay intent: want a key and a positive amount, got %q and %d", key, amountCents)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[key]; ok {
		in := s.intents[id]
		return commands.Intent{ID: in.ID, ClientSecret: in.ClientSecret}, nil
	}
	id := "pi_" + randomHex(12)
	in := &IntentState{ID: id, ClientSecret: id + "_secret_" + randomHex(12), Key: key, Order: order, AmountCents: amountCents, Status: IntentRequiresPayment}
	s.byKey[key], s.intents[id] = id, in
	return commands.Intent{ID: in.ID, ClientSecret: in.ClientSecret}, nil
}

// Intent returns the state of an intent.
func (s *Intents) Intent(id string) (IntentState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.intents[id]
	if !ok {
		return IntentState{}, false
	}
	return *in, true
}

// Complete makes an attempt to pay intent id with a test token, as the
// buyer's browser would, and returns the webhook that reports it:
// payment_intent.succeeded with a charge in the Provider's ledger for an
// approved token, payment_intent.payment_failed for a declined one. An
// amountCents other than 0 is taken instead of the intent's amount (a
// provider misbehaving). Completing a succeeded intent again returns its
// webhook again and charges nothing.
func (s *Intents) Complete(ctx context.Context, id, token string, amountCents int64) (Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.intents[id]
	if !ok {
		return Webhook{}, fmt.Errorf("simpay complete %q: %w", id, ErrUnknownIntent)
	}
	if in.Status == IntentSucceeded {
		return s.hooks[id], nil
	}
	if amountCents == 0 {
		amountCents = in.AmountCents
	}
	in.Attempts++
	charge, err := s.p.Charge(ctx, fmt.Sprintf("%s/attempt-%d", in.Key, in.Attempts), amountCents, token)
	obj := paysig.Intent{ID: id, Object: "payment_intent", Amount: amountCents, Status: IntentSucceeded, LatestCharge: charge,
		Metadata: paysig.IntentMetadata{OrderID: in.Order.String()}}
	typ := paysig.IntentSucceeded
	var decline *DeclineError
	switch {
	case errors.As(err, &decline):
		typ, obj.Status, obj.LatestCharge = paysig.IntentFailed, IntentRequiresPayment, "ch_"+randomHex(12)
		obj.LastPaymentError = &paysig.PaymentError{Code: "card_declined", DeclineCode: decline.Code}
	case err != nil:
		return Webhook{}, err
	default:
		in.Status, in.ChargeID = IntentSucceeded, charge
	}
	w, err := NewWebhook(typ, obj, s.now())
	if err != nil {
		return Webhook{}, err
	}
	s.hooks[id] = w
	return w, nil
}

// NewWebhook returns the webhook of an event of type typ about intent obj,
// created at.
func NewWebhook(typ string, obj paysig.Intent, at time.Time) (Webhook, error) {
	e := paysig.Event{ID: "evt_" + randomHex(12), Object: "event", Type: typ, Created: at.Unix(), Data: paysig.EventData{Object: obj}}
	body, err := json.Marshal(e)
	if err != nil {
		return Webhook{}, err
	}
	return Webhook{Event: e, Body: body}, nil
}

// Sign returns the Ticketing-Signature header of body signed at at.
func (s *Intents) Sign(body []byte, at time.Time) string { return paysig.Sign(at, body, s.secrets...) }

// Deliver POSTs webhook w to url, signed now, and returns the status of
// the answer. Deliver it twice, or an older one after a newer one, to play
// a provider's retries and reorderings.
func (s *Intents) Deliver(ctx context.Context, url string, w Webhook) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(paysig.Header, s.Sign(w.Body, s.now()))
	res, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("simpay deliver: %w", err)
	}
	defer res.Body.Close()
	return res.StatusCode, nil
}
