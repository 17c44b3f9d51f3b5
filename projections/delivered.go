package projections

import (
	"context"
	"fmt"

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
func ParkedQuery(name string) (string, []any) { return parkedSQL, []any{name} }

// ScanParked reads the rows of ParkedQuery for the projection name.
func ScanParked(name string, rows Rows) ([]ParkedStream, error) {
	defer rows.Close()
	var out []ParkedStream
	for rows.Next() {
		s := ParkedStream{Projection: name}
		var c, p int64
		if err := rows.Scan(&s.Stream, &s.Version, &c, &p, &s.Type, &s.Error, &s.ParkedAt); err != nil {
			return nil, fmt.Errorf("read parked streams: %w", err)
		}
		s.Position, s.ParkedAt = pos(c, p), s.ParkedAt.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read parked streams: %w", err)
	}
	return out, nil
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
