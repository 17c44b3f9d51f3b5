package projections

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ticketing/ticketing/domain"
)

// DeliveredParkedStore is a DeliveredBatchStore that reads the projection's
// parked streams in the same round trip as the delivered transaction's
// locks, instead of in one of their own: on the Kafka path every batch of
// every projection runs that transaction, and a round trip less is a part
// of the latency less.
type DeliveredParkedStore interface {
	DeliveredBatchStore
	// ApplyDeliveredParked is ApplyDeliveredBatch, and it gives fn the
	// projection's parked streams, read with ParkedQuery after the
	// partitions' locks and before fn, in the same transaction.
	ApplyDeliveredParked(ctx context.Context, name string, deliveries []Delivery, fn func(db DB, parked []ParkedStream, recs []domain.RecordedEvent) error) (done []int, err error)
}

// ParkedQuery returns the query, and its arguments, that reads the parked
// streams of the projection name, locked against a retry until the
// transaction ends; ScanParked reads its rows.
func ParkedQuery(name string) (string, []any) { return ParkedManyQuery([]string{name}) }

// ScanParked reads the rows of ParkedQuery for the projection name.
func ScanParked(name string, rows Rows) ([]ParkedStream, error) {
	byName, err := ScanParkedMany(rows)
	return byName[name], err
}

// deliveredFn applies the events of a delivered transaction, given the
// projection's parked streams as that transaction read them.
type deliveredFn func(db DB, parked []ParkedStream, recs []domain.RecordedEvent) error

// deliver applies deliveries with one call of fn when the Store can, or
// with one per event. A DeliveredParkedStore reads the parked streams with
// its locks; with another store they are read by a query of their own
// before fn.
func (r *Runner) deliver(ctx context.Context, name string, deliveries []Delivery, fn deliveredFn) ([]int, error) {
	if ps, ok := r.Store.(DeliveredParkedStore); ok {
		return ps.ApplyDeliveredParked(ctx, name, deliveries, fn)
	}
	withParked := func(db DB, recs []domain.RecordedEvent) error {
		parked, err := loadParked(ctx, db, name)
		if err != nil {
			return err
		}
		return fn(db, parked, recs)
	}
	if bs, ok := r.Store.(DeliveredBatchStore); ok {
		return bs.ApplyDeliveredBatch(ctx, name, deliveries, withParked)
	}
	return r.Store.ApplyDelivered(ctx, name, deliveries, func(db DB, rec domain.RecordedEvent) error {
		return withParked(db, []domain.RecordedEvent{rec})
	})
}

// DeliveredTo is one projection's part of a delivered transaction that
// several projections share: its name and the function that applies its
// events, as given to ApplyDeliveredParked.
type DeliveredTo struct {
	Name  string
	Apply func(db DB, parked []ParkedStream, recs []domain.RecordedEvent) error
}

// DeliveredManyStore is a DeliveredParkedStore that applies the same
// deliveries to several projections in one transaction: one BEGIN, one
// round trip for every projection's locks, versions and parked streams, one
// for all their statements, progress rows and COMMIT. On the Kafka path
// every fetched batch goes to every projection, and one transaction for all
// of them is one COMMIT (one WAL flush) instead of one per projection.
type DeliveredManyStore interface {
	DeliveredParkedStore
	// ApplyDeliveredMany is ApplyDeliveredParked of deliveries for each of
	// to, in one transaction: done[k] and gaps[k] are to[k]'s done and gap,
	// each projection with its own progress, versions and parked streams.
	// With err, nothing is committed, and culprit is the index in to of the
	// projection whose function or statement failed, or -1 when that is not
	// known (the locks, a statement sent before the end, the COMMIT).
	ApplyDeliveredMany(ctx context.Context, deliveries []Delivery, to []DeliveredTo) (done [][]int, gaps []error, culprit int, err error)
}

// ParkedManyQuery returns the query, and its arguments, that reads the
// parked streams of the projections names, each projection's in the order
// of ParkedQuery, locked as ParkedQuery locks them; ScanParkedMany reads
// its rows.
func ParkedManyQuery(names []string) (string, []any) { return parkedSQL, []any{names} }

// ScanParkedMany reads the rows of ParkedManyQuery, by projection.
func ScanParkedMany(rows Rows) (map[string][]ParkedStream, error) {
	defer rows.Close()
	out := map[string][]ParkedStream{}
	for rows.Next() {
		var s ParkedStream
		var c, p int64
		if err := rows.Scan(&s.Projection, &s.Stream, &s.Version, &c, &p, &s.Type, &s.Error, &s.ParkedAt); err != nil {
			return nil, fmt.Errorf("read parked streams: %w", err)
		}
		s.Position, s.ParkedAt = pos(c, p), s.ParkedAt.UTC()
		out[s.Projection] = append(out[s.Projection], s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read parked streams: %w", err)
	}
	return out, nil
}

// DeliverMany is Deliver of the same deliveries to each of the projections
// names: done[k] and errs[k] are names[k]'s. With a DeliveredManyStore they
// are applied in one transaction. When it fails, the projection at fault,
// if the store knows it, is delivered to alone (Deliver: its statements run
// one at a time, so that its error names its event, and a poison event is
// parked), while the others go on in one transaction without it; when the
// store does not know, each is delivered to alone. Each projection keeps
// its own progress, versions, parked streams and status.
func (r *Runner) DeliverMany(ctx context.Context, names []string, deliveries []Delivery) (done [][]int, errs []error) {
	done, errs = make([][]int, len(names)), make([]error, len(names))
	ms, ok := r.Store.(DeliveredManyStore)
	if !ok || len(names) < 2 {
		r.deliverEach(ctx, names, deliveries, done, errs)
		return done, errs
	}
	to := make([]DeliveredTo, 0, len(names))
	at := make([]int, 0, len(names)) // index in names of each of to
	for k, name := range names {
		apply, err := r.deliveredApply(ctx, name, deliveries)
		if err != nil {
			done[k], errs[k] = make([]int, len(deliveries)), err
			continue
		}
		to, at = append(to, DeliveredTo{Name: name, Apply: apply}), append(at, k)
	}
	if len(to) == 0 {
		return done, errs
	}
	all, gaps, culprit, err := ms.ApplyDeliveredMany(ctx, deliveries, to)
	if err == nil || ctx.Err() != nil {
		for i, k := range at {
			gap := err
			if err == nil && i < len(gaps) {
				gap = gaps[i]
			}
			var d []int
			if i < len(all) {
				d = all[i]
			}
			done[k], errs[k] = r.delivered(ctx, names[k], deliveries, d, gap)
		}
		return done, errs
	}
	r.logger().Debug("projections: shared delivered transaction failed", "error", err, "culprit", culprit)
	if culprit < 0 || culprit >= len(to) {
		r.deliverEach(ctx, subset(names, at), deliveries, done, errs, at...)
		return done, errs
	}
	// The one at fault alone, the others together again.
	rest := slices.Delete(slices.Clone(at), culprit, culprit+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		k := at[culprit]
		done[k], errs[k] = r.Deliver(ctx, names[k], deliveries)
	})
	d, e := r.DeliverMany(ctx, subset(names, rest), deliveries)
	for i, k := range rest {
		done[k], errs[k] = d[i], e[i]
	}
	wg.Wait()
	return done, errs
}

// deliverEach delivers deliveries to each of names alone, concurrently,
// into done and errs at the indexes at (0, 1, ... when at is empty).
func (r *Runner) deliverEach(ctx context.Context, names []string, deliveries []Delivery, done [][]int, errs []error, at ...int) {
	var wg sync.WaitGroup
	for i, name := range names {
		k := i
		if len(at) > 0 {
			k = at[i]
		}
		wg.Go(func() { done[k], errs[k] = r.Deliver(ctx, name, deliveries) })
	}
	wg.Wait()
}

// subset returns the names at the indexes at.
func subset(names []string, at []int) []string {
	out := make([]string, len(at))
	for i, k := range at {
		out[i] = names[k]
	}
	return out
}
