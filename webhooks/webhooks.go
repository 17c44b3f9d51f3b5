// Package webhooks delivers the domain's events to the HTTP endpoints that
// organizers (for their own shows) and admins (for every show) register:
// the endpoints and their validation (http or https, no loopback, private
// or link-local address unless allowed, checked again when connecting),
// the fanout that follows the global log with its own checkpoint and
// queues one delivery per endpoint and event, and the dispatcher that
// sends them signed as Stripe signs (package paysig), retries them with
// exponential backoff and jitter for a day, then disables the endpoint.
// Delivery is at least once: the payload and the Ticketing-Webhook-Id
// header carry the event's id, the same on every attempt, so that a
// receiver can deduplicate. It imports the domain and paysig; its storage
// is the Store port.
package webhooks

import (
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Headers of a delivery.
const (
	// SignatureHeader carries t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>,
	// one v1 per secret in use (two for a day after a rotation).
	SignatureHeader = "Ticketing-Webhook-Signature"
	// IDHeader carries the event's id: the same on every attempt and
	// redelivery, for deduplication.
	IDHeader = "Ticketing-Webhook-Id"
	// DeliveryHeader carries the delivery's id.
	DeliveryHeader = "Ticketing-Webhook-Delivery"
	// EventHeader carries the event's type.
	EventHeader = "Ticketing-Webhook-Event"
)

// Tolerance is the replay window receivers should verify signatures with
// (paysig.Verify): Stripe's five minutes.
const Tolerance = 5 * time.Minute

// EventTypes are the domain events an endpoint may subscribe to, under
// their stable names.
var EventTypes = []string{
	"order.placed", "order.confirmed", "order.cancelled", "order.expired", "order.refunded",
	"order.payment_failed", "order.ticket_checked_in", "order.ticket_transferred",
	"show.published", "show.details_changed", "show.cancelled",
}

// deliverable reports whether events of typ are delivered.
func deliverable(typ string) bool { return slices.Contains(EventTypes, typ) }

// Errors of the service; the APIs map them to HTTP.
var (
	// ErrNotFound: no such endpoint or delivery, or not one the actor may
	// see.
	ErrNotFound = errors.New("no such webhook endpoint or delivery")
	// ErrForbidden: only organizers and admins have endpoints.
	ErrForbidden = errors.New("only organizers and admins may manage webhook endpoints")
	// ErrDisabled: the endpoint is disabled; enable it first.
	ErrDisabled = errors.New("the webhook endpoint is disabled")
)

// Endpoint is a registered receiver of events.
type Endpoint struct {
	ID uuid.UUID
	// Seq orders endpoints by creation; lists page by it.
	Seq     int64
	OwnerID uuid.UUID
	// AllShows: the events of every show (an admin's endpoint); otherwise
	// those of the owner's shows.
	AllShows    bool
	URL         string
	Description string
	EventTypes  []string
	// Secret signs deliveries. PreviousSecret, until PreviousUntil, signs
	// them too, after a rotation.
	Secret         string
	PreviousSecret string
	PreviousUntil  time.Time
	Enabled        bool
	// DisabledReason and DisabledAt say why and when the endpoint was
	// disabled: by its owner, or after a delivery failed for the retry
	// horizon.
	DisabledReason string
	DisabledAt     time.Time
	CreatedAt      time.Time
}

// secrets returns the secrets that sign a delivery made at now.
func (e Endpoint) secrets(now time.Time) [][]byte {
	out := [][]byte{[]byte(e.Secret)}
	if e.PreviousSecret != "" && now.Before(e.PreviousUntil) {
		out = append(out, []byte(e.PreviousSecret))
	}
	return out
}

// Delivery states.
const (
	StatePending   = "pending"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Delivery is one event to send to one endpoint, and how that went.
type Delivery struct {
	ID uuid.UUID
	// Seq orders deliveries by creation; lists page by it.
	Seq        int64
	EndpointID uuid.UUID
	EventID    uuid.UUID
	EventType  string
	Position   string
	Payload    []byte
	State      string
	Attempts   int
	// DueAt is when the next attempt is due (pending only).
	DueAt time.Time
	// GiveUpAt: a failure after it fails the delivery and disables the
	// endpoint.
	GiveUpAt      time.Time
	LastStatus    int
	LastLatency   time.Duration
	LastError     string
	LastAttemptAt time.Time
	DeliveredAt   time.Time
	CreatedAt     time.Time
}

// Attempt is one try of a delivery.
type Attempt struct {
	DeliveryID uuid.UUID
	Attempt    int
	At         time.Time
	// Status is the receiver's HTTP status, 0 when none came back.
	Status  int
	Latency time.Duration
	Error   string
}

// Metrics observes delivery outcomes (succeeded, retrying, exhausted);
// a nil Metrics observes nothing.
type Metrics interface {
	// ObserveDelivery counts one attempt's outcome and how long it took.
	ObserveDelivery(outcome string, d time.Duration)
}

// Delivery outcomes, as Metrics sees them.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeRetrying  = "retrying"
	OutcomeExhausted = "exhausted"
)

func observe(m Metrics, outcome string, d time.Duration) {
	if m != nil {
		m.ObserveDelivery(outcome, d)
	}
}
