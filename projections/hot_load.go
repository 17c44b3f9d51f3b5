package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// errHotCold says that a show is not to be kept in memory.
var errHotCold = errors.New("not kept in memory")

// load loads s from the read models once they reflect f0: every event of
// s after f0 is in s.pending.
func (h *Hot) load(s *hotShow, f0 domain.Position) {
	ctx := h.ctx
	h.loads.Add(1)
	v, at, err := h.loadAt(ctx, s.id, f0)
	if err == nil {
		// The views may follow the log a little behind the projectors.
		h.WaitFor(ctx, maxPos(at[0], at[1]), 2*time.Second)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur := h.shows[s.id]; cur != s || s.state != hotLoading {
		return
	}
	if err == nil {
		err = h.catchUp(s, v, at)
	}
	if err != nil {
		if !errors.Is(err, errHotCold) && ctx.Err() == nil {
			h.Log.Warn("hot views: load failed", "show", s.id, "error", err)
		}
		s.state, s.retryAt, s.pending = hotCold, time.Now().Add(hotRetry), nil
		for w := range s.watchers {
			w.drop(LiveShowGone)
		}
		return
	}
	s.state, s.view, s.enc = hotReady, v, nil
	s.ring, s.ringFrom = nil, v.Changed
	h.snapshotAll(s)
}

// catchUp applies to v, loaded at at, the events of s after at; h.mu is
// held. The read models may reflect the two projections at different
// checkpoints: the load stands only when no event of the show lies
// between them.
func (h *Hot) catchUp(s *hotShow, v *HotView, at [2]domain.Position) error {
	lo, hi := at[0], at[1]
	if hi.Less(lo) {
		lo, hi = hi, lo
	}
	if h.pos.Less(hi) {
		return fmt.Errorf("%w: the read models (%s) are ahead of the views (%s)", errHotCold, hi, h.pos)
	}
	c := newLiveChange()
	for _, rec := range s.pending {
		if !lo.Less(rec.Position) {
			continue
		}
		if !hi.Less(rec.Position) {
			return fmt.Errorf("%w: an event of the show between the checkpoints", errHotCold)
		}
		e, err := h.Registry.DecodeRecorded(rec)
		if err != nil || !v.applyFast(rec.Position, e, c) {
			return fmt.Errorf("%w: event %s needs the read models", errHotCold, rec.Position)
		}
		v.Version = rec.Version
	}
	s.pending = nil
	return nil
}

func maxPos(a, b domain.Position) domain.Position {
	if a.Less(b) {
		return b
	}
	return a
}

// loadAt reads the view of show id from the read models in one snapshot,
// once they reflect f0; it returns the checkpoints of hotReads it reflects.
func (h *Hot) loadAt(ctx context.Context, id uuid.UUID, f0 domain.Position) (*HotView, [2]domain.Position, error) {
	var at [2]domain.Position
	ok, err := h.Queries.WaitFor(ctx, f0, hotReads, nil, 5*time.Second)
	if err != nil {
		return nil, at, err
	}
	if !ok {
		return nil, at, fmt.Errorf("%w: the read models did not reach %s", errHotCold, f0)
	}
	v := &HotView{seats: map[hotSeatKey]string{}}
	err = h.Snapshot(ctx, func(db DB) error {
		if err := db.Exec(ctx, `set transaction isolation level repeatable read, read only`); err != nil {
			return err
		}
		for i, name := range hotReads {
			var c, p int64
			if err := db.QueryRow(ctx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1`, name).Scan(&c, &p); err != nil {
				return fmt.Errorf("checkpoint %s: %w", name, err)
			}
			at[i] = pos(c, p)
		}
		var parked bool
		if err := db.QueryRow(ctx, `select exists (select 1 from projection_parked_streams where name = any($1) and stream_id = $2)`,
			hotReads, domain.ShowStream(id)).Scan(&parked); err != nil {
			return err
		}
		if parked {
			return fmt.Errorf("%w: the stream is parked", errHotCold)
		}
		return v.read(ctx, NewQueries(db), db, id)
	})
	if err != nil {
		return nil, at, err
	}
	v.Changed = maxPos(at[0], at[1])
	if v.Version, err = h.VersionAt(ctx, id, v.Changed); err != nil {
		return nil, at, fmt.Errorf("version of the show: %w", err)
	}
	return v, at, nil
}

// read fills v from the read models.
func (v *HotView) read(ctx context.Context, q *Queries, db DB, id uuid.UUID) error {
	var err error
	if v.Show, err = q.Show(ctx, id); err != nil {
		return err
	}
	if v.Show.Status != string(domain.ShowStatusOnSale) {
		return fmt.Errorf("%w: the show is %s", errHotCold, v.Show.Status)
	}
	if v.Rules, err = q.ShowRules(ctx, id); err != nil {
		return err
	}
	if v.SeatMap, err = q.SeatMap(ctx, id); err != nil {
		return err
	}
	return queryEach(ctx, db, func(rows Rows) error {
		var k hotSeatKey
		var state string
		if err := rows.Scan(&k.Section, &k.Row, &k.Seat, &state); err != nil {
			return err
		}
		v.seats[k] = state
		v.order = append(v.order, k)
		return nil
	}, `select s.section, s.row_label, s.seat, s.state from rm_seats s join rm_sections c on c.show_id = s.show_id and c.name = s.section
		where s.show_id = $1 order by c.idx, s.row_idx, s.seat`, id)
}
