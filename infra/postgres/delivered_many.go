package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

var _ projections.DeliveredManyStore = (*ReadModels)(nil)

// ApplyDeliveredMany applies deliveries to each projection of to in one
// pipelined transaction; see projections.DeliveredManyStore. It is two
// round trips, as ApplyDeliveredParked is for one projection: BEGIN, every
// projection's partition locks (in the order of name and partition, the
// order ApplyDelivered's locks of one projection follow too), versions and
// parked streams, each kind in one statement for all of them; then the
// projectors' statements, every projection's versions and progress rows in
// one statement each, and COMMIT. It does not run the statements again one
// by one when one fails: it reports the projection they were queued for as
// the culprit, and the caller delivers to that one alone.
func (m *ReadModels) ApplyDeliveredMany(ctx context.Context, deliveries []projections.Delivery, to []projections.DeliveredTo) ([][]int, []error, int, error) {
	parts, streams := deliveredKeys(deliveries)
	done, gaps := make([][]int, len(to)), make([]error, len(to))
	for k := range to {
		done[k] = make([]int, len(deliveries))
	}
	if len(streams) == 0 {
		return done, gaps, -1, nil
	}
	names := make([]string, len(to))
	for k, t := range to {
		names[k] = t.Name
	}
	culprit := -1
	err := withPipelinedTx(ctx, m.pool, func(tx *pipeTx) error {
		last, versions, parked, err := lockDeliveredMany(ctx, tx, names, parts, streams, !m.partitionsKnown(names, parts))
		if err != nil {
			if errors.Is(err, errPartitionsMissing) {
				m.forgetPartitions(names)
			}
			return err
		}
		db := &queueDB{conn: tx.conn, batch: &pgx.Batch{}}
		var w manyWrites
		ends := make([]int, len(to))           // the end of each one's statements in its last batch
		batches := make([]*pgx.Batch, len(to)) // that batch
		for k, t := range to {
			d, apply, changed, gap := resolveDelivered(t.Name, deliveries, last[k], versions[k])
			if len(apply) > 0 {
				if err := t.Apply(db, parked[t.Name], apply); err != nil {
					if db.late == nil {
						culprit = k
					}
					return err
				}
				if db.late != nil { // fn went on after a failure
					return db.late
				}
			}
			done[k], gaps[k] = d, gap
			ends[k], batches[k] = db.batch.Len(), db.batch
			w.add(t.Name, changed, versions[k], last[k])
		}
		queued := db.batch.Len()
		i, err := w.commit(ctx, tx, db.batch)
		if err != nil && i < queued {
			for k := range to {
				if batches[k] == db.batch && i < ends[k] {
					culprit = k
					break
				}
			}
		}
		return err
	})
	if err != nil {
		for k := range to {
			done[k], gaps[k] = make([]int, len(deliveries)), nil
		}
		return done, gaps, culprit, fmt.Errorf("apply delivered %v: %w", names, err)
	}
	m.rememberPartitions(names, parts)
	return done, gaps, -1, nil
}

// deliveredKeys returns the partitions of deliveries and the streams of
// their events, each once.
func deliveredKeys(deliveries []projections.Delivery) (parts []int32, streams []string) {
	seen := map[string]bool{}
	for _, d := range deliveries {
		parts = append(parts, int32(d.Partition))
		for _, rec := range d.Events {
			if !seen[rec.StreamID] {
				seen[rec.StreamID] = true
				streams = append(streams, rec.StreamID)
			}
		}
	}
	return parts, streams
}

// lockDeliveredMany is lockDelivered for every projection of names: it
// begins tx, creates and locks the rows of the partitions parts of each,
// and reads their versions of streams and their parked streams, in one
// round trip. last and versions are by index in names, parked by name.
func lockDeliveredMany(ctx context.Context, tx *pipeTx, names []string, parts []int32, streams []string, create bool) (last []map[int]domain.Position, versions []map[string]int64, parked map[string][]projections.ParkedStream, err error) {
	index := make(map[string]int, len(names))
	last, versions = make([]map[int]domain.Position, len(names)), make([]map[string]int64, len(names))
	for k, n := range names {
		index[n], last[k], versions[k] = k, map[int]domain.Position{}, make(map[string]int64, len(streams))
	}
	locked := 0
	b := tx.begin()
	b.Queue(keyedOnly)
	if create {
		b.Queue(`insert into projection_partitions (name, partition)
			select n, p from unnest($1::text[]) as n, unnest($2::int[]) as p on conflict do nothing`, names, parts)
	}
	b.Queue(`select name, partition, commit_pos, prepare_pos from projection_partitions
		where name = any($1) and partition = any($2) order by name, partition for update`, names, parts).Query(func(rows pgx.Rows) error {
		var name string
		var part int
		var c, p int64
		_, err := pgx.ForEachRow(rows, []any{&name, &part, &c, &p}, func() error {
			last[index[name]][part] = rmPosition(c, p)
			locked++
			return nil
		})
		return err
	})
	// One key lookup per stream: its row holds every projection's version.
	b.Queue(readStreamVersions, streams).Query(func(rows pgx.Rows) error {
		return scanStreamVersions(rows, index, versions)
	})
	queueParked(b, names, &parked)
	if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, nil, err
	}
	if locked != len(names)*len(parts) {
		return nil, nil, nil, fmt.Errorf("locked %d of %d partitions: %w", locked, len(names)*len(parts), errPartitionsMissing)
	}
	return last, versions, parked, nil
}

// manyWrites are the versions and progress rows of the projections of a
// shared delivered transaction, written with one statement each.
type manyWrites struct {
	versions streamVersionWrites
	pNames   []string
	pnum     []int32
	pcs, pps []int64
}

// add adds the projection name's versions of the streams changed and its
// partitions' last positions.
func (w *manyWrites) add(name string, changed map[string]bool, versions map[string]int64, last map[int]domain.Position) {
	if w.versions == nil {
		w.versions = streamVersionWrites{}
	}
	for s := range changed {
		w.versions.set(name, s, versions[s])
	}
	for part, pos := range last {
		w.pNames, w.pnum = append(w.pNames, name), append(w.pnum, int32(part))
		w.pcs, w.pps = append(w.pcs, int64(pos.Commit)), append(w.pps, int64(pos.Prepare))
	}
}

// commit sends the statements b holds with the writes and COMMIT; on
// failure it returns the index of the statement that failed.
func (w *manyWrites) commit(ctx context.Context, tx *pipeTx, b *pgx.Batch) (int, error) {
	w.versions.queue(b)
	b.Queue(`update projection_partitions p set commit_pos = u.c, prepare_pos = u.pp, updated_at = now()
		from unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) as u(n, part, c, pp)
		where p.name = u.n and p.partition = u.part`, w.pNames, w.pnum, w.pcs, w.pps)
	return tx.commit(ctx, b)
}
