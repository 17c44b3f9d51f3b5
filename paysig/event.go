package paysig

// Types of the webhook events about payment intents, as Stripe names them.
const (
	IntentSucceeded = "payment_intent.succeeded"
	IntentFailed    = "payment_intent.payment_failed"
)

// Event is the body of a webhook: Stripe's event object, reduced to what
// the engine reads of a payment intent.
type Event struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"` // "event"
	Type    string    `json:"type"`
	Created int64     `json:"created"` // unix seconds
	Data    EventData `json:"data"`
}

// EventData holds the object an event is about.
type EventData struct {
	Object Intent `json:"object"`
}

// Intent is a payment intent as a webhook shows it.
type Intent struct {
	ID     string `json:"id"`
	Object string `json:"object"` // "payment_intent"
	// Amount is in cents; for a succeeded intent, what was taken.
	Amount int64  `json:"amount"`
	Status string `json:"status"`
	// LatestCharge is the charge of the latest attempt.
	LatestCharge     string         `json:"latest_charge,omitempty"`
	Metadata         IntentMetadata `json:"metadata"`
	LastPaymentError *PaymentError  `json:"last_payment_error,omitempty"`
}

// IntentMetadata is what the engine asked the provider to keep with the
// intent.
type IntentMetadata struct {
	OrderID string `json:"order_id"`
}

// PaymentError says why the latest attempt failed.
type PaymentError struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code,omitempty"`
}
