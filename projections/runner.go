package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Projection states reported by Runner.Status.
const (
	// StateStarting: the projection has not read its checkpoint yet.
	StateStarting = "starting"
	// StateLive: the projection follows the log without error.
	StateLive = "live"
	// StateStalled: the projection failed and waits to retry from its
	// checkpoint.
	StateStalled = "stalled"
)

// Backoff bounds of a stalled projection.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// DefaultMaxBatch is the most events applied in one transaction when
// Runner.MaxBatch is zero.
const DefaultMaxBatch = 2000

// ApplyError says that a projection failed to apply one event.
type ApplyError struct {
	Projection string
	Stream     string
	Version    int64
	Position   domain.Position
	Type       string
	Err        error
}

// Error names the projection, the event and the failure.
func (e *ApplyError) Error() string {
	return fmt.Sprintf("projection %s: %s %s@%d (position %s): %v", e.Projection, e.Type, e.Stream, e.Version, e.Position, e.Err)
}

// Unwrap returns the failure, for errors.Is and errors.As.
func (e *ApplyError) Unwrap() error { return e.Err }

// ProjectionStatus is how far a projection got and whether it is healthy.
type ProjectionStatus struct {
	Name string
	// Position is the checkpoint: the last event applied.
	Position domain.Position
	// State is StateStarting, StateLive or StateStalled.
	State string
	// LastError is the error of the last failure, kept after recovery.
	LastError string
	// Failures counts the failures since the last applied batch.
	Failures int
	// Parked are the streams the projection parked, as its last batch
	// found them: each waits at an event the projector cannot apply, while
	// the other streams go on (see IsPoison and Retry).
	Parked []ParkedStream
}

// MarshalJSON renders the status with the position as its token.
func (s ProjectionStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name      string         `json:"name"`
		Position  string         `json:"position"`
		State     string         `json:"state"`
		LastError string         `json:"last_error,omitempty"`
		Failures  int            `json:"failures"`
		Parked    []ParkedStream `json:"parked,omitempty"`
	}{s.Name, s.Position.String(), s.State, s.LastError, s.Failures, s.Parked})
}

// Runner feeds every projector the global log from its checkpoint, each in
// its own goroutine, applying each batch of events and the new checkpoint in
// one transaction of the Store. An event that fails with a poison failure
// (IsPoison) parks its stream: the stream's later events wait behind it and
// every other stream goes on, until Retry resumes it. A projector that fails
// otherwise is retried from its checkpoint with a growing backoff. No event
// is ever skipped.
type Runner struct {
	Feed       Feed
	Store      Store
	Registry   *domain.Registry
	Projectors []Projector
	// Log receives failures; nil discards them.
	Log *slog.Logger
	// MaxBatch caps the events applied in one transaction; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// Reporter, if set, records state changes for other processes.
	Reporter StatusReporter
	// Written, if set, has events this process appended, not to be decoded
	// again.
	Written *Written

	mu      sync.Mutex
	status  map[string]*ProjectionStatus
	decoded decodeCache
	// shared, if set, has the events of a rebuild's SharedLog decoded.
	shared *SharedReader
}

// Run runs the projectors until ctx ends; it then returns nil. It fails at
// once when the runner is misconfigured.
func (r *Runner) Run(ctx context.Context) error {
	if r.Feed == nil || r.Store == nil || r.Registry == nil {
		return errors.New("projections: runner needs a feed, a store and a registry")
	}
	seen := map[string]bool{}
	for _, p := range r.Projectors {
		if seen[p.Name()] {
			return fmt.Errorf("projections: projection %q given twice", p.Name())
		}
		seen[p.Name()] = true
	}
	r.mu.Lock()
	r.status = map[string]*ProjectionStatus{}
	for _, p := range r.Projectors {
		r.status[p.Name()] = &ProjectionStatus{Name: p.Name(), State: StateStarting}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range r.Projectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx, p)
		}()
	}
	wg.Wait()
	return nil
}

// Status returns the state of every projection, in the order of Projectors.
func (r *Runner) Status() []ProjectionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ProjectionStatus, 0, len(r.Projectors))
	for _, p := range r.Projectors {
		if s, ok := r.status[p.Name()]; ok {
			out = append(out, *s)
		} else {
			out = append(out, ProjectionStatus{Name: p.Name(), State: StateStarting})
		}
	}
	return out
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// update changes the status of name and reports a change of state or error
// to the Reporter, if any.
func (r *Runner) update(name string, fn func(*ProjectionStatus)) {
	r.mu.Lock()
	if r.status == nil {
		r.status = map[string]*ProjectionStatus{}
	}
	s := r.status[name]
	if s == nil {
		s = &ProjectionStatus{Name: name, State: StateStarting}
		r.status[name] = s
	}
	before := *s
	fn(s)
	after := *s
	r.mu.Unlock()
	if r.Reporter != nil && (before.State != after.State || before.LastError != after.LastError) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := r.Reporter.ReportStatus(ctx, after); err != nil {
			r.logger().Warn("projection status not recorded", "projection", name, "err", err)
		}
	}
}

// StatusReporter records projection states where other processes (ops
// tools, the metrics of other replicas) can read them.
type StatusReporter interface {
	// ReportStatus records the state, error and failure count of a
	// projection; it is called when its state or error changes.
	ReportStatus(ctx context.Context, s ProjectionStatus) error
}

// run follows the log for one projector until ctx ends.
func (r *Runner) run(ctx context.Context, p Projector) {
	name := p.Name()
	backoff := minBackoff
	for ctx.Err() == nil {
		err := r.follow(ctx, p, func() { backoff = minBackoff })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("feed ended")
		}
		attrs := []any{"projection", name, "error", err, "retry_in", backoff}
		if ae, ok := errors.AsType[*ApplyError](err); ok {
			attrs = append(attrs, "stream", ae.Stream, "version", ae.Version, "position", ae.Position.String(), "type", ae.Type)
		}
		r.logger().Error("projection stalled", attrs...)
		r.update(name, func(s *ProjectionStatus) {
			s.State, s.LastError = StateStalled, err.Error()
			s.Failures++
		})
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// follow applies the log from the projection's checkpoint until ctx ends or
// a batch fails. applied is called after each committed batch.
func (r *Runner) follow(ctx context.Context, p Projector, applied func()) error {
	name := p.Name()
	from, err := r.Store.Checkpoint(ctx, name)
	if err != nil {
		return fmt.Errorf("projection %s: read checkpoint: %w", name, err)
	}
	r.update(name, func(s *ProjectionStatus) {
		s.Position = from
		if s.State == StateStarting {
			s.State = StateLive
		}
	})
	max := r.MaxBatch
	if max <= 0 {
		max = DefaultMaxBatch
	}
	handle := func(ctx context.Context, batch []domain.RecordedEvent, events []domain.Event, errs []error) error {
		for len(batch) > 0 {
			n := min(len(batch), max)
			d := decodedBatch{}
			if events != nil {
				d, events, errs = decodedBatch{events[:n], errs[:n]}, events[n:], errs[n:]
			}
			if err := r.applyDecoded(ctx, p, batch[:n], d); err != nil {
				return err
			}
			last := batch[n-1].Position
			r.update(name, func(s *ProjectionStatus) {
				s.Position, s.State, s.Failures = last, StateLive, 0
			})
			applied()
			batch = batch[n:]
		}
		return nil
	}
	if df, ok := r.Feed.(DecodedFeed); ok { // issue 17: feed: decoded once for every follower
		return df.FollowDecoded(ctx, from, handle)
	}
	return r.Feed.Follow(ctx, from, func(ctx context.Context, batch []domain.RecordedEvent) error {
		return handle(ctx, batch, nil, nil)
	})
}

// decodedBatch is a batch's events as a DecodedFeed handed them; empty when
// the Runner decodes them itself.
type decodedBatch struct {
	events []domain.Event
	errs   []error
}

// split returns the events of the first n and of the other events.
func (d decodedBatch) split(n int) (decodedBatch, decodedBatch) {
	if d.events == nil {
		return d, d
	}
	return decodedBatch{d.events[:n], d.errs[:n]}, decodedBatch{d.events[n:], d.errs[n:]}
}

// apply applies the events of a batch after the checkpoint, and the batch's
// last position as the new checkpoint, atomically. A BatchProjector gets
// the events in one ApplyBatch, up to the first that cannot be decoded.
// Events of a parked stream wait behind it. When the batch fails with a
// poison failure (IsPoison), apply narrows it down: it applies each half of
// the batch in turn, in transactions of their own, halving again what
// fails, and parks the stream of an event that fails alone, so that the
// other streams' events of the batch are applied (a poison event costs
// about 2·log2(len(batch)) transactions). Any other failure is returned:
// the projection stalls and retries.
func (r *Runner) apply(ctx context.Context, p Projector, batch []domain.RecordedEvent) error {
	return r.applyDecoded(ctx, p, batch, decodedBatch{})
}

// applyDecoded is apply, with the events decoded in d, or d empty.
func (r *Runner) applyDecoded(ctx context.Context, p Projector, batch []domain.RecordedEvent, d decodedBatch) error {
	err := r.applyOnce(ctx, p, batch, d)
	if err == nil || !IsPoison(err) || ctx.Err() != nil {
		return err
	}
	if len(batch) == 1 {
		return r.park(ctx, p.Name(), batch[0], err)
	}
	half := len(batch) / 2
	first, second := d.split(half)
	if err := r.applyDecoded(ctx, p, batch[:half], first); err != nil {
		return err
	}
	return r.applyDecoded(ctx, p, batch[half:], second)
}

// park parks the stream of rec, which failed with cause, in the
// transaction that moves the checkpoint past rec.
func (r *Runner) park(ctx context.Context, name string, rec domain.RecordedEvent, cause error) error {
	var parked ParkedStream
	err := r.Store.Apply(ctx, name, rec.Position, func(db DB, after domain.Position) error {
		var err error
		parked, err = park(ctx, db, name, rec, cause)
		return err
	})
	if err != nil {
		return fmt.Errorf("projection %s: park %s: %w", name, rec.StreamID, err)
	}
	r.parked(name, parked, cause)
	return nil
}

// parked logs and records in the status that the projection name parked a
// stream.
func (r *Runner) parked(name string, s ParkedStream, cause error) {
	if s.Stream == "" {
		return // another runner parked it
	}
	r.logger().Error("projection parked a stream", "projection", name, "stream", s.Stream, "version", s.Version,
		"position", s.Position.String(), "type", s.Type, "error", cause)
	r.update(name, func(st *ProjectionStatus) {
		if !slices.ContainsFunc(st.Parked, func(p ParkedStream) bool { return p.Stream == s.Stream }) {
			st.Parked = append(slices.Clip(st.Parked), s)
		}
	})
}

// setParked records the parked streams of a projection, as a batch found
// them.
func (r *Runner) setParked(name string, parked []ParkedStream) {
	r.update(name, func(st *ProjectionStatus) { st.Parked = parked })
}

// applyOnce is one attempt of apply, in one transaction; d has the events
// decoded, or is empty.
func (r *Runner) applyOnce(ctx context.Context, p Projector, batch []domain.RecordedEvent, d decodedBatch) error {
	decoded, failed := d.events, d.errs
	if decoded == nil {
		decoded, failed = r.decode(batch)
	}
	return r.Store.Apply(ctx, p.Name(), batch[len(batch)-1].Position, func(db DB, after domain.Position) error {
		recs, events, errs := batch, decoded, failed
		if slices.ContainsFunc(batch, func(rec domain.RecordedEvent) bool { return !after.Less(rec.Position) }) {
			// Events at or before after were applied by another runner of
			// the projection.
			recs, events, errs = nil, nil, nil
			for i, rec := range batch {
				if after.Less(rec.Position) {
					recs, events, errs = append(recs, rec), append(events, decoded[i]), append(errs, failed[i])
				}
			}
		}
		parked, err := loadParked(ctx, db, p.Name())
		if err != nil {
			return err
		}
		r.setParked(p.Name(), parked)
		if recs, events, errs, err = holdBack(ctx, db, p.Name(), parked, recs, events, errs); err != nil {
			return err
		}
		return applyEvents(ctx, db, p, recs, events, errs)
	})
}

// applyEvents applies recs, decoded as events or failed to decode with
// errs, to p: with ApplyBatch when p has it, up to the first event that
// failed to decode, or one by one with Apply. A failure is an *ApplyError
// naming the failing event.
func applyEvents(ctx context.Context, db DB, p Projector, recs []domain.RecordedEvent, events []domain.Event, errs []error) error {
	bp, ok := p.(BatchProjector)
	if !ok {
		for i, rec := range recs {
			var err error
			if errs[i] != nil {
				err = &DecodeError{errs[i]}
			} else {
				err = p.Apply(ctx, db, rec, events[i])
			}
			if err != nil {
				return applyError(p.Name(), rec, err)
			}
		}
		return nil
	}
	n := slices.IndexFunc(errs, func(err error) bool { return err != nil })
	if n < 0 {
		n = len(recs)
	}
	if n > 0 {
		if err := bp.ApplyBatch(ctx, db, recs[:n], events[:n]); err != nil {
			rec := recs[n-1]
			if be, ok := errors.AsType[*BatchError](err); ok && be.Index >= 0 && be.Index < n {
				rec, err = recs[be.Index], be.Err
			}
			return applyError(p.Name(), rec, err)
		}
	}
	if n < len(recs) {
		return applyError(p.Name(), recs[n], &DecodeError{errs[n]})
	}
	return nil
}

// decode decodes the events of a batch, each once for all the projectors of
// the runner.
func (r *Runner) decode(batch []domain.RecordedEvent) ([]domain.Event, []error) {
	if events, errs, ok := r.shared.decoded(batch); ok {
		return events, errs
	}
	if len(r.Projectors) > 1 {
		return r.decoded.decode(r.decodeOne, batch)
	}
	events, errs := make([]domain.Event, len(batch)), make([]error, len(batch))
	for i, rec := range batch {
		events[i], errs[i] = r.decodeOne(rec)
	}
	return events, errs
}

// decodeOne returns the event rec records: as this process appended it, if
// Written has it, or decoded.
func (r *Runner) decodeOne(rec domain.RecordedEvent) (domain.Event, error) {
	return r.Written.Decode(r.Registry, rec)
}

func applyError(projection string, rec domain.RecordedEvent, err error) *ApplyError {
	return &ApplyError{Projection: projection, Stream: rec.StreamID, Version: rec.Version, Position: rec.Position, Type: rec.Type, Err: err}
}

// Deliver applies runs of events that a broker delivered, each from one
// partition, to the projection name, exactly once in effect and in one
// transaction (see Store.ApplyDelivered; a BatchProjector gets them in one
// ApplyBatch when the Store is a DeliveredBatchStore), and keeps the
// projection's status:
// live, or stalled with the failing stream, version and error. It returns,
// per delivery, how many of its events are done; the caller acknowledges
// those to the broker and delivers the rest again.
func (r *Runner) Deliver(ctx context.Context, name string, deliveries []Delivery) ([]int, error) {
	apply, err := r.deliveredApply(ctx, name, deliveries)
	if err != nil {
		return make([]int, len(deliveries)), err
	}
	done, err := r.deliver(ctx, name, deliveries, apply)
	if err != nil && IsPoison(err) && ctx.Err() == nil {
		done, err = r.deliverNarrowed(ctx, name, deliveries, apply)
	}
	return r.delivered(ctx, name, deliveries, done, err)
}

// deliveredApply returns the function that applies to the projection name
// the events of deliveries a delivered transaction picks: decoded (once for
// all the projections of the runner), held back behind the projection's
// parked streams, and applied.
func (r *Runner) deliveredApply(ctx context.Context, name string, deliveries []Delivery) (deliveredFn, error) {
	var p Projector
	for _, q := range r.Projectors {
		if q.Name() == name {
			p = q
		}
	}
	if p == nil {
		return nil, fmt.Errorf("projections: no projection %q", name)
	}
	n := 0
	for _, d := range deliveries {
		n += len(d.Events)
	}
	all := make([]domain.RecordedEvent, 0, n)
	for _, d := range deliveries {
		all = append(all, d.Events...)
	}
	events, errs := r.decode(all)
	type decodedEvent struct {
		id  uuid.UUID
		e   domain.Event
		err error
	}
	decoded := make(map[domain.Position]decodedEvent, len(all))
	for i, rec := range all {
		decoded[rec.Position] = decodedEvent{rec.ID, events[i], errs[i]}
	}
	// The events the store applies, decoded.
	lookup := func(recs []domain.RecordedEvent) ([]domain.Event, []error) {
		events, errs := make([]domain.Event, len(recs)), make([]error, len(recs))
		for i, rec := range recs {
			d, ok := decoded[rec.Position]
			if !ok || d.id != rec.ID {
				d.e, d.err = r.Registry.DecodeRecorded(rec)
			}
			events[i], errs[i] = d.e, d.err
		}
		return events, errs
	}
	return func(db DB, parked []ParkedStream, recs []domain.RecordedEvent) error {
		events, errs := lookup(recs)
		r.setParked(name, parked)
		var err error
		if recs, events, errs, err = holdBack(ctx, db, name, parked, recs, events, errs); err != nil {
			return err
		}
		return applyEvents(ctx, db, p, recs, events, errs)
	}, nil
}

// delivered records in the status of the projection name what a delivery
// of deliveries did, and returns it.
func (r *Runner) delivered(ctx context.Context, name string, deliveries []Delivery, done []int, err error) ([]int, error) {
	if len(done) != len(deliveries) {
		done = make([]int, len(deliveries))
	}
	r.update(name, func(s *ProjectionStatus) {
		for i, d := range deliveries {
			if done[i] > len(d.Events) {
				continue
			}
			if n := done[i]; n > 0 && s.Position.Less(d.Events[n-1].Position) {
				s.Position = d.Events[n-1].Position
			}
		}
		switch {
		case err != nil && ctx.Err() == nil:
			s.State, s.LastError = StateStalled, err.Error()
			s.Failures++
		case err == nil:
			s.State, s.Failures = StateLive, 0
		}
	})
	return done, err
}

// deliverNarrowed delivers deliveries that failed with a poison failure
// again, partition by partition, each in transactions of its own, halving
// what fails, and parks the stream of each event that fails alone, so that
// the other streams' events are applied. A partition stops at a gap (the
// others go on, and the gap is returned) or at any other failure, which is
// returned at once.
func (r *Runner) deliverNarrowed(ctx context.Context, name string, deliveries []Delivery, apply deliveredFn) ([]int, error) {
	done := make([]int, len(deliveries))
	var gap error
	for i, d := range deliveries {
		n, err := r.deliverHalves(ctx, name, d.Partition, d.Events, apply)
		done[i] = n
		if _, ok := errors.AsType[*GapError](err); ok {
			gap = err
			continue
		}
		if err != nil {
			return done, err
		}
	}
	return done, gap
}

// deliverHalves applies events of one partition, halving them while they
// fail with a poison failure, and parks the stream of an event that fails
// alone. It returns how many events, from the first, are done, and what
// stopped the others.
func (r *Runner) deliverHalves(ctx context.Context, name string, partition int, events []domain.RecordedEvent, apply deliveredFn) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	one := func(fn deliveredFn, events []domain.RecordedEvent) (int, error) {
		n, err := r.deliver(ctx, name, []Delivery{{Partition: partition, Events: events}}, fn)
		if len(n) != 1 {
			return 0, err
		}
		return n[0], err
	}
	n, err := one(apply, events)
	if err == nil || !IsPoison(err) || ctx.Err() != nil {
		return n, err
	}
	if len(events) == 1 {
		cause := err
		var parked ParkedStream
		n, err := one(func(db DB, _ []ParkedStream, recs []domain.RecordedEvent) error {
			var err error
			parked, err = park(ctx, db, name, recs[0], cause)
			return err
		}, events)
		if err == nil {
			r.parked(name, parked, cause)
		}
		return n, err
	}
	half := len(events) / 2
	n, err = r.deliverHalves(ctx, name, partition, events[:half], apply)
	if err != nil || n < half {
		return n, err
	}
	m, err := r.deliverHalves(ctx, name, partition, events[half:], apply)
	return half + m, err
}
