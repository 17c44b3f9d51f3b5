package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ticketing/ticketing/domain"
	opsmetrics "github.com/ticketing/ticketing/metrics"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/web"
)

// lag is how far something is behind the head of the global log.
type lag struct {
	Events  uint64
	Seconds float64 // age of the oldest event not yet processed
}

// progressReport is the head of the log and how far the relay and every
// projection are behind it, as recorded in the database.
type progressReport struct {
	Head        domain.Position
	Relay       *lag // nil when no relay ever ran
	RelayAt     domain.Position
	Projections []projectionReport
	// Refunds is the refund process's backlog, when asked for (issue 14).
	Refunds *projections.RefundBacklog
}

type projectionReport struct {
	projections.Progress
	Lag lag
}

// report reads the progress of the relay and the projections.
func report(ctx context.Context, store eventStore, q *projections.Queries) (progressReport, error) {
	var r progressReport
	head, err := store.Head(ctx)
	if err != nil {
		return r, err
	}
	r.Head = head
	relay, ok, err := q.RelayPosition(ctx)
	if err != nil {
		return r, err
	}
	if ok {
		l, err := lagBehind(ctx, store, head, relay)
		if err != nil {
			return r, err
		}
		r.Relay, r.RelayAt = &l, relay
	}
	progress, err := q.Progress(ctx)
	if err != nil {
		return r, err
	}
	for _, p := range progress {
		l, err := lagBehind(ctx, store, head, p.Position)
		if err != nil {
			return r, err
		}
		r.Projections = append(r.Projections, projectionReport{Progress: p, Lag: l})
	}
	return r, nil
}

// lagBehind measures the log after at: events (the PostgreSQL log is dense,
// so positions subtract) and the age of the first of them.
func lagBehind(ctx context.Context, store eventStore, head, at domain.Position) (lag, error) {
	if !at.Less(head) {
		return lag{}, nil
	}
	next, err := store.ReadAll(ctx, at, 1)
	if err != nil || len(next) == 0 {
		return lag{}, err
	}
	return lag{Events: head.Commit - at.Commit, Seconds: time.Since(next[0].RecordedAt).Seconds()}, nil
}

// metrics is what /metrics serves: HTTP traffic and the lag of the relay and
// the projections, on a registry of its own (not the global one, so that
// several engines can live in one test process).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	// signals are the domain signals (issue 16: ops), on reg.
	signals *opsmetrics.Signals
}

// newMetrics returns the metrics of an engine on store, q and pool.
func newMetrics(store eventStore, q *projections.Queries, pool *pgxpool.Pool, log *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketing_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ticketing_http_request_duration_seconds", Help: "HTTP request durations by method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	m.reg.MustRegister(m.requests, m.durations, &lagCollector{store: store, q: q, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		opsmetrics.NewPoolCollector(pool))
	m.signals = opsmetrics.New(m.reg)
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument counts and times requests, labelled by route template so that
// ids do not explode the label space.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := routeTemplate(r)
		web.SetRoute(r, route) // for the access log
		method := methodLabel(r.Method)
		m.requests.WithLabelValues(method, route, strconv.Itoa(sw.status)).Inc()
		m.durations.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	})
}

// methodLabel is method when it is one of HTTP's, else "other": a route
// without a method matcher (/livez) takes any token a client sends.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// routes gives the access log the route template of the ops listener's
// requests, which are not counted.
func (m *metrics) routes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.SetRoute(r, routeTemplate(r))
		next.ServeHTTP(w, r)
	})
}

// routeTemplate is the path template of the route gorilla/mux matched for
// r, or "unmatched".
func routeTemplate(r *http.Request) string {
	if cr := mux.CurrentRoute(r); cr != nil {
		if tpl, err := cr.GetPathTemplate(); err == nil {
			return tpl
		}
	}
	return "unmatched"
}

var (
	headDesc     = prometheus.NewDesc("ticketing_log_head_position", "Position of the last event of the global log.", nil, nil)
	relayEvents  = prometheus.NewDesc("ticketing_relay_lag_events", "Events committed to the store but not yet acknowledged by Kafka.", nil, nil)
	relaySeconds = prometheus.NewDesc("ticketing_relay_lag_seconds", "Age of the oldest event not yet published to Kafka.", nil, nil)
	projEvents   = prometheus.NewDesc("ticketing_projection_lag_events", "Events of the global log a projection has not applied (an upper bound through Kafka).", []string{"projection"}, nil)
	projSeconds  = prometheus.NewDesc("ticketing_projection_lag_seconds", "Age of the oldest event a projection has not applied.", []string{"projection"}, nil)
	projStalled  = prometheus.NewDesc("ticketing_projection_stalled", "1 when a projection is stalled on a failing event.", []string{"projection"}, nil)
	projParked   = prometheus.NewDesc("ticketing_projection_parked_streams", "Streams a projection parked at an event it cannot apply.", []string{"projection"}, nil)
	parkedEvent  = prometheus.NewDesc("ticketing_projection_parked_event", "1 for each parked stream, labelled with the event it is parked at and the error.",
		[]string{"projection", "stream", "version", "position", "type", "error"}, nil)
	scrapeFailure = prometheus.NewDesc("ticketing_progress_scrape_error", "1 when the progress could not be read from the database.", nil, nil)
)

// lagCollector reads the progress from the database at each scrape, so any
// replica reports the same figures.
type lagCollector struct {
	store eventStore
	q     *projections.Queries
	log   *slog.Logger
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{headDesc, relayEvents, relaySeconds, projEvents, projSeconds, projStalled, projParked, parkedEvent, scrapeFailure} {
		ch <- d
	}
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, err := report(ctx, c.store, c.q)
	if err != nil {
		c.log.Warn("metrics: reading progress failed", "err", err)
		ch <- prometheus.MustNewConstMetric(scrapeFailure, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeFailure, prometheus.GaugeValue, 0)
	ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(r.Head.Commit))
	if r.Relay != nil {
		ch <- prometheus.MustNewConstMetric(relayEvents, prometheus.GaugeValue, float64(r.Relay.Events))
		ch <- prometheus.MustNewConstMetric(relaySeconds, prometheus.GaugeValue, r.Relay.Seconds)
	}
	for _, p := range r.Projections {
		stalled := 0.0
		if p.State == projections.StateStalled {
			stalled = 1
		}
		ch <- prometheus.MustNewConstMetric(projEvents, prometheus.GaugeValue, float64(p.Lag.Events), p.Name)
		ch <- prometheus.MustNewConstMetric(projSeconds, prometheus.GaugeValue, p.Lag.Seconds, p.Name)
		ch <- prometheus.MustNewConstMetric(projStalled, prometheus.GaugeValue, stalled, p.Name)
		ch <- prometheus.MustNewConstMetric(projParked, prometheus.GaugeValue, float64(len(p.Parked)), p.Name)
		for i, s := range p.Parked {
			if i == maxParkedSeries {
				break
			}
			ch <- prometheus.MustNewConstMetric(parkedEvent, prometheus.GaugeValue, 1, p.Name, s.Stream,
				strconv.FormatInt(s.Version, 10), s.Position.String(), s.Type, truncate(s.Error, maxErrorLabel))
		}
	}
}

// Bounds of the parked-event series: parked streams should be few, and a
// label is no place for a long text.
const (
	maxParkedSeries = 100
	maxErrorLabel   = 200
)

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
