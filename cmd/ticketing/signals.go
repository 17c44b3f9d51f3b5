package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/idempotency"
	opsmetrics "github.com/ticketing/ticketing/metrics"
)

// issue 16: ops. The domain signals are counted by decorating the ports
// the commands, the write API and the expirer already have: neither
// commands nor idempotency knows of metrics, and a command's outcome is
// counted once, where its answer leaves for the API.

// signalStore measures the appends of the command handler: latency,
// conflicts and the event types appended (expiries and refunds among
// them). An idempotent re-append of events already stored counts them
// again; that is rare (a lost answer retried).
type signalStore struct {
	eventStore
	signals *opsmetrics.Signals
}

func (s signalStore) Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	start := time.Now()
	res, err := s.eventStore.Append(ctx, stream, expected, events)
	s.signals.Append("append", eventTypes(nil, events), time.Since(start), err)
	return res, err
}

// signalMultiStore is a signalStore of a store that appends to several
// streams at once.
type signalMultiStore struct {
	signalStore
	multi commands.MultiAppender
}

func (s signalMultiStore) AppendMulti(ctx context.Context, parts []commands.StreamAppend) ([]commands.AppendResult, error) {
	start := time.Now()
	res, err := s.multi.AppendMulti(ctx, parts)
	var types []string
	for _, p := range parts {
		types = eventTypes(types, p.Events)
	}
	s.signals.Append("append_multi", types, time.Since(start), err)
	return res, err
}

var _ commands.MultiAppender = signalMultiStore{}

// measuredStore returns store measured into signals, still a
// MultiAppender when store is one.
func measuredStore(store eventStore, signals *opsmetrics.Signals) eventStore {
	s := signalStore{eventStore: store, signals: signals}
	if m, ok := store.(commands.MultiAppender); ok {
		return signalMultiStore{signalStore: s, multi: m}
	}
	return s
}

func eventTypes(types []string, events []domain.EventData) []string {
	for _, e := range events {
		types = append(types, e.Type)
	}
	return types
}

// PlaceOrder counts the hold's outcome.
func (c writeCommands) PlaceOrder(ctx context.Context, actor domain.Actor, p commands.PlaceOrder) (commands.OrderResult, error) {
	r, err := c.Handler.PlaceOrder(ctx, actor, p)
	c.signals.Hold(err)
	return r, err
}

// PayOrder counts the payment's outcome.
func (c writeCommands) PayOrder(ctx context.Context, actor domain.Actor, id uuid.UUID, token string) (commands.PayResult, error) {
	r, err := c.Handler.PayOrder(ctx, actor, id, token)
	c.signals.Payment(err)
	return r, err
}

// PaymentSucceeded counts a provider's report of a paid intent.
func (c writeCommands) PaymentSucceeded(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (commands.PaymentOutcome, error) {
	r, err := c.Handler.PaymentSucceeded(ctx, order, p)
	c.signals.AsyncPayment(r.Outcome, err)
	return r, err
}

// PaymentFailed counts a provider's report of a failed attempt.
func (c writeCommands) PaymentFailed(ctx context.Context, order uuid.UUID, p domain.PaymentReport) (commands.PaymentOutcome, error) {
	r, err := c.Handler.PaymentFailed(ctx, order, p)
	c.signals.AsyncPayment(r.Outcome, err)
	return r, err
}

// CheckIn counts a check-in by ticket id.
func (c writeCommands) CheckIn(ctx context.Context, actor domain.Actor, ticket uuid.UUID) (commands.Result, error) {
	r, err := c.Handler.CheckIn(ctx, actor, ticket)
	c.signals.CheckIn("ticket", err)
	return r, err
}

// CheckInCode counts a check-in by code.
func (c writeCommands) CheckInCode(ctx context.Context, actor domain.Actor, show uuid.UUID, code string) (commands.Admission, error) {
	r, err := c.Handler.CheckInCode(ctx, actor, show, code)
	c.signals.CheckIn("code", err)
	return r, err
}

// RecordScans counts each scan of an offline batch by its outcome, or the
// batch's failure once.
func (c writeCommands) RecordScans(ctx context.Context, actor domain.Actor, show uuid.UUID, scans []commands.Scan) ([]commands.ScanOutcome, error) {
	out, err := c.Handler.RecordScans(ctx, actor, show, scans)
	if err != nil {
		c.signals.CheckIn("scan", err)
	}
	for _, o := range out {
		c.signals.CheckInOutcome("scan", o.Outcome)
	}
	return out, err
}

// signalIdempotency counts the responses replayed for an Idempotency-Key.
type signalIdempotency struct {
	idempotency.Store
	signals *opsmetrics.Signals
}

func (s signalIdempotency) Begin(ctx context.Context, scope, key, fingerprint string, staleAfter time.Duration) (*idempotency.StoredResponse, error) {
	resp, err := s.Store.Begin(ctx, scope, key, fingerprint, staleAfter)
	if resp != nil && err == nil {
		s.signals.Replayed()
	}
	return resp, err
}

// signalHolds records each run of the expirer: the holds due, and when.
type signalHolds struct {
	commands.HoldIndex
	now     func() time.Time
	signals *opsmetrics.Signals
}

func (h signalHolds) DueHolds(ctx context.Context, now time.Time, limit int) ([]commands.HoldRef, error) {
	due, err := h.HoldIndex.DueHolds(ctx, now, limit)
	if err == nil {
		h.signals.ExpirerRun(len(due), h.now())
	}
	return due, err
}
