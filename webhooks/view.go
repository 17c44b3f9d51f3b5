package webhooks

import (
	"time"

	"github.com/google/uuid"
)

// EndpointView is an endpoint as both APIs answer it. Secret is shown only
// by the answers that make one (creation, rotation).
type EndpointView struct {
	ID             uuid.UUID  `json:"id"`
	OwnerID        uuid.UUID  `json:"owner_id"`
	Scope          string     `json:"scope"` // own_shows or all_shows
	URL            string     `json:"url"`
	Description    string     `json:"description"`
	EventTypes     []string   `json:"event_types"`
	Status         string     `json:"status"` // enabled or disabled
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	Secret         string     `json:"secret,omitempty"`
	// PreviousSecretUntil is when the secret before a rotation stops
	// signing.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

// ViewEndpoint returns e's view, with its secret when withSecret.
func ViewEndpoint(e Endpoint, withSecret bool) EndpointView {
	v := EndpointView{ID: e.ID, OwnerID: e.OwnerID, Scope: "own_shows", URL: e.URL, Description: e.Description,
		EventTypes: e.EventTypes, Status: "enabled", DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt.UTC()}
	if e.AllShows {
		v.Scope = "all_shows"
	}
	if !e.Enabled {
		v.Status, v.DisabledAt = "disabled", timePtr(e.DisabledAt)
	}
	if withSecret {
		v.Secret = e.Secret
	}
	if e.PreviousSecret != "" {
		v.PreviousSecretUntil = timePtr(e.PreviousUntil)
	}
	return v
}

// DeliveryView is a delivery as the APIs answer it: its state and its
// last attempt.
type DeliveryView struct {
	ID            uuid.UUID     `json:"id"`
	EndpointID    uuid.UUID     `json:"endpoint_id"`
	EventID       uuid.UUID     `json:"event_id"`
	EventType     string        `json:"event_type"`
	Position      string        `json:"position"`
	State         string        `json:"state"` // pending, succeeded or failed
	Attempts      int           `json:"attempts"`
	NextAttemptAt *time.Time    `json:"next_attempt_at,omitempty"`
	GiveUpAt      *time.Time    `json:"give_up_at,omitempty"`
	LastStatus    int           `json:"last_status_code,omitempty"`
	LastLatencyMS int64         `json:"last_latency_ms"`
	LastError     string        `json:"last_error,omitempty"`
	LastAttemptAt *time.Time    `json:"last_attempt_at,omitempty"`
	DeliveredAt   *time.Time    `json:"delivered_at,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	AttemptLog    []AttemptView `json:"attempt_log,omitempty"`
}

// AttemptView is one attempt of a delivery.
type AttemptView struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	LatencyMS  int64     `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
}

// ViewDelivery returns d's view, with attempts (newest first) if any.
func ViewDelivery(d Delivery, attempts []Attempt) DeliveryView {
	v := DeliveryView{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Position: d.Position,
		State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus, LastLatencyMS: d.LastLatency.Milliseconds(),
		LastError: d.LastError, LastAttemptAt: timePtr(d.LastAttemptAt), DeliveredAt: timePtr(d.DeliveredAt), CreatedAt: d.CreatedAt.UTC()}
	if d.State == StatePending {
		v.NextAttemptAt, v.GiveUpAt = timePtr(d.DueAt), timePtr(d.GiveUpAt)
	}
	for _, a := range attempts {
		v.AttemptLog = append(v.AttemptLog, AttemptView{Attempt: a.Attempt, At: a.At.UTC(), StatusCode: a.Status,
			LatencyMS: a.Latency.Milliseconds(), Error: a.Error})
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
