package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/paysig"
)

// maxResponseBytes bounds how much of a receiver's answer is read (and
// thrown away), and maxErrorBytes the error recorded of an attempt.
const (
	maxResponseBytes = 64 << 10
	maxErrorBytes    = 300
)

// Dispatcher sends due deliveries. Each endpoint has at most PerEndpoint
// deliveries in flight and a failed one waits its backoff in the table, so
// a slow or dead endpoint holds back neither the others nor the
// projections, which it never touches. Several dispatchers may run on one
// Store: claims are leased.
type Dispatcher struct {
	Store   Store
	Guard   *Guard
	Backoff Backoff
	// Timeout bounds each attempt, connection to last byte read.
	Timeout time.Duration
	// Interval is how often the table is scanned when nothing woke the
	// dispatcher.
	Interval time.Duration
	// Workers bounds the deliveries in flight; PerEndpoint those of one
	// endpoint.
	Workers, PerEndpoint int
	Now                  func() time.Time
	Metrics              Metrics
	Log                  *slog.Logger

	once sync.Once
	wake chan struct{}
}

func (d *Dispatcher) init() {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
}

// Wake has the dispatcher scan the table now: the fanout queued work.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends deliveries until ctx ends; it waits for those in flight.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	client := d.Guard.Client(d.Timeout)
	var (
		mu       sync.Mutex
		inflight = map[uuid.UUID]int{}
		wg       sync.WaitGroup
	)
	defer wg.Wait()
	// more: the last claim may have left due deliveries behind (it filled
	// every free slot or an endpoint's share), so a finished attempt
	// scans again at once; otherwise the fanout's Wake or the interval
	// does.
	var more atomic.Bool
	for {
		mu.Lock()
		free, skip := d.Workers, make([]uuid.UUID, 0, len(inflight))
		for id, n := range inflight {
			free -= n
			skip = append(skip, id)
		}
		mu.Unlock()
		if free > 0 {
			claimed, err := d.Store.Claim(ctx, d.Now(), free, d.PerEndpoint, skip, d.Timeout+30*time.Second)
			if err != nil && ctx.Err() == nil {
				d.Log.Warn("webhooks: claim failed", "err", err)
			}
			more.Store(len(claimed) == free || capped(claimed, d.PerEndpoint))
			for _, c := range claimed {
				mu.Lock()
				inflight[c.Endpoint.ID]++
				mu.Unlock()
				wg.Go(func() {
					d.attempt(ctx, client, c)
					mu.Lock()
					if inflight[c.Endpoint.ID]--; inflight[c.Endpoint.ID] == 0 {
						delete(inflight, c.Endpoint.ID)
					}
					mu.Unlock()
					if more.Load() {
						d.Wake()
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.wake:
		case <-time.After(d.Interval):
		}
	}
}

// capped reports whether an endpoint got its whole share of claimed.
func capped(claimed []Claimed, share int) bool {
	n := map[uuid.UUID]int{}
	for _, c := range claimed {
		if n[c.Endpoint.ID]++; n[c.Endpoint.ID] >= share {
			return true
		}
	}
	return false
}

// attempt sends c once and records how it went. An attempt cut short by
// ctx is not recorded: its lease runs out and it is sent again.
func (d *Dispatcher) attempt(ctx context.Context, client *http.Client, c Claimed) {
	at := d.Now()
	status, latency, errText := d.send(ctx, client, c, at)
	if ctx.Err() != nil {
		return
	}
	a := Attempt{DeliveryID: c.Delivery.ID, Attempt: c.Delivery.Attempts + 1, At: at, Status: status, Latency: latency, Error: errText}
	done, next, reason, outcome := errText == "", time.Time{}, "", OutcomeSucceeded
	if !done {
		end := d.Now()
		if end.Before(c.Delivery.GiveUpAt) {
			outcome, next = OutcomeRetrying, end.Add(d.Backoff.Delay(a.Attempt))
			if next.After(c.Delivery.GiveUpAt) {
				next = c.Delivery.GiveUpAt // one last attempt at the horizon
			}
		} else {
			outcome = OutcomeExhausted
			reason = fmt.Sprintf("disabled at %s: delivery %s of event %s failed for %s; last error: %s",
				end.UTC().Format(time.RFC3339), c.Delivery.ID, c.Delivery.EventID, d.Backoff.Horizon, errText)
			d.Log.Warn("webhooks: endpoint disabled", "endpoint", c.Endpoint.ID, "reason", reason)
		}
	}
	observe(d.Metrics, outcome, latency)
	if err := d.Store.Record(context.WithoutCancel(ctx), c, a, done, next, reason); err != nil {
		d.Log.Error("webhooks: record attempt failed", "delivery", c.Delivery.ID, "err", err)
	}
}

// send makes one HTTP attempt of c, signed at at, and returns the status
// (0 for none), how long it took and, unless it succeeded (2xx), why not.
func (d *Dispatcher) send(ctx context.Context, client *http.Client, c Claimed, at time.Time) (int, time.Duration, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint.URL, bytes.NewReader(c.Delivery.Payload))
	if err != nil {
		return 0, 0, clip("request: " + err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ticketing-webhooks/1")
	req.Header.Set(SignatureHeader, paysig.Sign(at, c.Delivery.Payload, c.Endpoint.secrets(at)...))
	req.Header.Set(IDHeader, c.Delivery.EventID.String())
	req.Header.Set(DeliveryHeader, c.Delivery.ID.String())
	req.Header.Set(EventHeader, c.Delivery.EventType)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, ErrAddressRefused) {
			return 0, time.Since(start), "refused to connect: " + ErrAddressRefused.Error()
		}
		return 0, time.Since(start), clip(err.Error())
	}
	_, rerr := io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseBytes))
	_ = res.Body.Close()
	latency := time.Since(start)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, latency, fmt.Sprintf("the receiver answered %d", res.StatusCode)
	}
	if rerr != nil {
		return res.StatusCode, latency, clip("reading the answer: " + rerr.Error())
	}
	return res.StatusCode, latency, ""
}

func clip(s string) string {
	if len(s) > maxErrorBytes {
		return strings.ToValidUTF8(s[:maxErrorBytes], "")
	}
	return s
}
