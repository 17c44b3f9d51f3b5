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
// positions: an event of the show between them is reflected by one only,
// and the load stands when the other would not change the view for it
// (catchUpOne).
func (h *Hot) catchUp(s *hotShow, v *HotView, at [2]domain.Position) error {
	lo, hi, behind := at[0], at[1], 0 // behind: the index of lo in hotReads
	if hi.Less(lo) {
		lo, hi, behind = hi, lo, 1
	}
	if h.pos.Less(hi) {
		return fmt.Errorf("%w: the read models (%s) are ahead of the views (%s)", errHotCold, hi, h.pos)
	}
	c := newLiveChange()
	for _, rec := range s.pending {
		if !lo.Less(rec.Position) {
			continue
		}
		e, err := h.Registry.DecodeRecorded(rec)
		if err != nil {
			return fmt.Errorf("%w: event %s does not decode", errHotCold, rec.Position)
		}
		if !hi.Less(rec.Position) {
			if !v.catchUpOne(rec.Position, e, behind, c) {
				return fmt.Errorf("%w: event %s of the show between the projections", errHotCold, rec.Position)
			}
			continue
		}
		if !v.applyFast(rec.Position, e, c) {
			return fmt.Errorf("%w: event %s needs the read models", errHotCold, rec.Position)
		}
		v.Version = rec.Version
	}
	s.pending = nil
	return nil
}

// catchUpOne applies to v an event at position at that one projection of
// hotReads reflects and the other, hotReads[behind], does not yet, and
// reports whether it could. The shows projector ignores the waiting-list
// events, and the waitlist projector (Waitlist.Apply) every other event:
// an event that the one behind ignores changes nothing, and one of the
// shows projector's is applied when applyFast can; a waiting-list event
// the waitlist projection has not applied yet cannot be.
func (v *HotView) catchUpOne(at domain.Position, e domain.Event, behind int, c *liveChange) bool {
	if isWaitlistEvent(e) {
		return hotReads[behind] == NameShows
	}
	if hotReads[behind] == NameWaitlist {
		return true
	}
	changed := v.Changed // the view stays at the later of the two
	if !v.applyFast(at, e, c) {
		return false
	}
	v.Changed = changed
	return true
}

// isWaitlistEvent reports whether e is one of the events Waitlist.Apply
// applies.
func isWaitlistEvent(e domain.Event) bool {
	switch e.(type) {
	case domain.WaitlistJoined, domain.WaitlistLeft, domain.WaitlistReserved, domain.WaitlistOffered:
		return true
	}
	return false
}

func maxPos(a, b domain.Position) domain.Position {
	if a.Less(b) {
		return b
	}
	return a
}

// loadAt reads the view of show id from the read models in one snapshot,
// once they reflect f0; it returns the positions of the log, at or past
// f0's last event of the show, that hotReads reflect of it: their
// checkpoints or, ByStream, their versions' events.
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
	var versions [2]int64
	err = h.Snapshot(ctx, func(db DB) error {
		if err := db.Exec(ctx, `set transaction isolation level repeatable read, read only`); err != nil {
			return err
		}
		var err error
		if h.ByStream {
			versions, err = streamVersions(ctx, db, id)
		} else {
			at, err = checkpoints(ctx, db)
		}
		if err != nil {
			return err
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
	if h.ByStream {
		return h.atVersions(ctx, v, id, f0, versions)
	}
	v.Changed = maxPos(at[0], at[1])
	if v.Version, err = h.VersionAt(ctx, id, v.Changed); err != nil {
		return nil, at, fmt.Errorf("version of the show: %w", err)
	}
	return v, at, nil
}

// checkpoints reads the checkpoints of hotReads.
func checkpoints(ctx context.Context, db DB) (at [2]domain.Position, err error) {
	for i, name := range hotReads {
		var c, p int64
		if err := db.QueryRow(ctx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1`, name).Scan(&c, &p); err != nil {
			return at, fmt.Errorf("checkpoint %s: %w", name, err)
		}
		at[i] = pos(c, p)
	}
	return at, nil
}

// streamVersions reads the versions of show id's stream that hotReads,
// fed by Kafka, applied: domain.NoStream for none.
func streamVersions(ctx context.Context, db DB, id uuid.UUID) (vs [2]int64, err error) {
	for i, name := range hotReads {
		if err := db.QueryRow(ctx, `select coalesce((select (versions->>$1)::bigint from projection_stream_versions where stream_id = $2), $3)`,
			name, domain.ShowStream(id), domain.NoStream).Scan(&vs[i]); err != nil {
			return vs, fmt.Errorf("stream version %s: %w", name, err)
		}
	}
	return vs, nil
}

// atVersions completes v, read from read models that reflect versions of
// show id's stream, once they reflected f0: each version must be at least
// the stream's at f0, so that every event of the show they do not reflect
// comes after f0, and v reflects the stream up to the later one, at its
// event's position.
func (h *Hot) atVersions(ctx context.Context, v *HotView, id uuid.UUID, f0 domain.Position, versions [2]int64) (*HotView, [2]domain.Position, error) {
	var at [2]domain.Position
	want, err := h.VersionAt(ctx, id, f0)
	if err != nil {
		return nil, at, fmt.Errorf("version of the show: %w", err)
	}
	for i, ver := range versions {
		if ver < want {
			return nil, at, fmt.Errorf("%w: %s reflects version %d of the show, before %d at %s", errHotCold, hotReads[i], ver, want, f0)
		}
		if ver == domain.NoStream {
			continue // none of the stream's events: at[i] is the start
		}
		if at[i], err = h.PositionOf(ctx, id, ver); err != nil {
			return nil, at, fmt.Errorf("position of version %d of the show: %w", ver, err)
		}
	}
	v.Changed, v.Version = maxPos(at[0], at[1]), max(versions[0], versions[1])
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
