// Package metrics holds the engine's domain signals for Prometheus: holds,
// payments, check-ins, expiries, refunds, idempotent replays, read waits,
// the expirer, webhook deliveries, the database pool and event appends.
// The packages that raise these signals never import it, nor Prometheus:
// cmd/ticketing decorates their ports (or passes a Signals to the small
// interface they declare) and this package counts. Every label is an enum
// or a name from code, never a client's text, so the series stay few.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Signals counts the domain signals of one engine. The zero value is not
// usable: call New. A nil *Signals is a no-op on every method, so a port
// left unset costs nothing.
type Signals struct {
	holds      *prometheus.CounterVec
	payments   *prometheus.CounterVec
	checkIns   *prometheus.CounterVec
	expiries   prometheus.Counter
	refunds    prometheus.Counter
	replays    prometheus.Counter
	minPosWait *prometheus.HistogramVec
	backlog    prometheus.Gauge
	lastRun    prometheus.Gauge
	deliveries *prometheus.CounterVec
	deliverDur *prometheus.HistogramVec
	appendDur  *prometheus.HistogramVec
	conflicts  prometheus.Counter
	appended   *prometheus.CounterVec
}

// latencyBuckets suit database round trips: 0.5 ms to 2.5 s.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// New returns the signals of one engine, registered on reg.
func New(reg prometheus.Registerer) *Signals {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	}
	s := &Signals{
		holds:    counter("ticketing_holds_total", "Hold requests (PlaceOrder) by outcome.", "outcome"),
		payments: counter("ticketing_payments_total", "Payments by outcome and, for a decline, the class of its decline code.", "outcome", "decline_class"),
		checkIns: counter("ticketing_checkins_total", "Check-ins by outcome and by how the ticket came (ticket id, code, offline scan).", "outcome", "via"),
		expiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "ticketing_hold_expiries_total", Help: "Orders expired (order.expired appended by this process)."}),
		refunds:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ticketing_refunds_total", Help: "Refunds decided (order.refunded appended by this process)."}),
		replays:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ticketing_idempotent_replays_total", Help: "Write requests answered from a stored Idempotency-Key response."}),
		minPosWait: histogram("ticketing_min_position_wait_seconds", "Reads that waited for their X-Min-Position, by outcome (caught_up or timeout).",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 2.5}, "outcome"),
		backlog:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ticketing_expirer_backlog", Help: "Holds due at the expirer's last run (at most one batch, 500)."}),
		lastRun:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ticketing_expirer_last_run_timestamp_seconds", Help: "Unix time of the expirer's last run in this process."}),
		deliveries: counter("ticketing_webhook_deliveries_total", "Webhook delivery attempts by outcome.", "outcome"),
		deliverDur: histogram("ticketing_webhook_delivery_duration_seconds", "Webhook delivery attempt durations by outcome.",
			[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "outcome"),
		appendDur: histogram("ticketing_event_append_duration_seconds", "Event store appends of the commands, by operation (append, append_multi) and outcome (ok, conflict, error).",
			latencyBuckets, "op", "outcome"),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "ticketing_event_append_conflicts_total", Help: "Appends refused for a wrong expected version (optimistic concurrency)."}),
		appended:  counter("ticketing_events_appended_total", "Events appended by the commands of this process, by event type.", "type"),
	}
	reg.MustRegister(s.holds, s.payments, s.checkIns, s.expiries, s.refunds, s.replays, s.minPosWait, s.backlog, s.lastRun,
		s.deliveries, s.deliverDur, s.appendDur, s.conflicts, s.appended)
	return s
}

// Hold counts the outcome of a hold request that ended with err.
func (s *Signals) Hold(err error) {
	if s != nil {
		s.holds.WithLabelValues(HoldOutcome(err)).Inc()
	}
}

// Payment counts a payment that ended with err (nil: confirmed).
func (s *Signals) Payment(err error) {
	if s != nil {
		outcome, class := PaymentOutcome(err)
		s.payments.WithLabelValues(outcome, class).Inc()
	}
}

// AsyncPayment counts a provider's report of a payment intent: outcome is
// commands.PaymentOutcome's (confirmed, refunded, recorded, ignored), or
// "error" when handling it failed.
func (s *Signals) AsyncPayment(outcome string, err error) {
	if s == nil {
		return
	}
	if err != nil {
		outcome, _ = PaymentOutcome(err)
	}
	s.payments.WithLabelValues(oneOf(outcome, asyncPaymentOutcomes), "").Inc()
}

// CheckIn counts a check-in that ended with err, arrived via ("ticket",
// "code" or "scan").
func (s *Signals) CheckIn(via string, err error) {
	if s != nil {
		s.CheckInOutcome(via, CheckInOutcome(err))
	}
}

// CheckInOutcome counts a check-in of a known outcome (a scan's).
func (s *Signals) CheckInOutcome(via, outcome string) {
	if s != nil {
		s.checkIns.WithLabelValues(oneOf(outcome, checkInOutcomes), oneOf(via, checkInVias)).Inc()
	}
}

// Replayed counts a response replayed for an Idempotency-Key.
func (s *Signals) Replayed() {
	if s != nil {
		s.replays.Inc()
	}
}

// MinPositionWait observes a read that waited d for its X-Min-Position and
// reached it (caughtUp) or gave up.
func (s *Signals) MinPositionWait(d time.Duration, caughtUp bool) {
	if s == nil {
		return
	}
	outcome := "caught_up"
	if !caughtUp {
		outcome = "timeout"
	}
	s.minPosWait.WithLabelValues(outcome).Observe(d.Seconds())
}

// ExpirerRun records a run of the expirer at at that found backlog holds due.
func (s *Signals) ExpirerRun(backlog int, at time.Time) {
	if s != nil {
		s.backlog.Set(float64(backlog))
		s.lastRun.Set(float64(at.UnixNano()) / 1e9)
	}
}

// Webhook delivery outcomes, the values ObserveDelivery labels by (those
// of the webhooks package); any other is counted as "other".
const (
	DeliverySucceeded = "succeeded" // the endpoint answered 2xx
	DeliveryRetrying  = "retrying"  // the attempt failed; another is scheduled
	DeliveryExhausted = "exhausted" // the attempt failed and the retries ran out
)

// ObserveDelivery counts a webhook delivery attempt of outcome (one of the
// Delivery constants) that took d. It implements webhooks.Metrics: the
// engine sets its Dispatcher's Metrics to its *Signals.
func (s *Signals) ObserveDelivery(outcome string, d time.Duration) {
	if s == nil {
		return
	}
	outcome = oneOf(outcome, deliveryOutcomes)
	s.deliveries.WithLabelValues(outcome).Inc()
	s.deliverDur.WithLabelValues(outcome).Observe(d.Seconds())
}

// Append observes an append of the event types types by op ("append" or
// "append_multi") that took d and ended with err.
func (s *Signals) Append(op string, types []string, d time.Duration, err error) {
	if s == nil {
		return
	}
	outcome := AppendOutcome(err)
	s.appendDur.WithLabelValues(op, outcome).Observe(d.Seconds())
	if outcome == appendConflict {
		s.conflicts.Inc()
	}
	if err != nil {
		return
	}
	for _, t := range types {
		s.appended.WithLabelValues(eventTypeLabel(t)).Inc()
		switch t {
		case "order.expired":
			s.expiries.Inc()
		case "order.refunded":
			s.refunds.Inc()
		}
	}
}
