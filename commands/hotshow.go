package commands

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// DefaultSnapshotEvery is how many events a show's stream grows by between
// two snapshots.
const DefaultSnapshotEvery = 500

// Stats counts what the handlers did, for benchmarks and metrics.
type Stats struct {
	Conflicts   atomic.Int64 // appends that found a stream moved on
	Retries     atomic.Int64 // decisions redone after a conflict
	HoldBatches atomic.Int64 // appends of batched holds
	Holds       atomic.Int64 // holds in those appends
}

// showCache keeps the shows this process writes, decided on in memory: a
// writer holding the show's stream lock reads only the events appended since
// (by other processes) before it decides.
type showCache struct {
	mu    sync.Mutex
	shows map[uuid.UUID]*cachedShow
}

type cachedShow struct {
	show     *domain.Show
	snapAt   int64       // version of the latest snapshot taken
	snapping atomic.Bool // a snapshot is being saved
}

// maxCachedShows bounds the cache; past it, it starts over.
const maxCachedShows = 10_000

func (c *showCache) get(id uuid.UUID) *cachedShow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shows[id]
}

func (c *showCache) put(id uuid.UUID, s *cachedShow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shows == nil || len(c.shows) >= maxCachedShows {
		c.shows = map[uuid.UUID]*cachedShow{}
	}
	c.shows[id] = s
}

func (c *showCache) drop(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.shows, id)
}

// currentShow returns the show, cached and caught up with its stream. The
// caller holds the show's stream lock, and drops the show from the cache if
// it raised events it could not append.
func (h *Handler) currentShow(ctx context.Context, id uuid.UUID) (*cachedShow, error) {
	c := h.shows.get(id)
	if c == nil {
		s, snapAt, err := h.loadShowFrom(ctx, id)
		if err != nil {
			return nil, err
		}
		c = &cachedShow{show: s, snapAt: snapAt}
		h.shows.put(id, c)
		return c, nil
	}
	if err := h.catchUp(ctx, c.show, domain.ShowStream(id)); err != nil {
		h.shows.drop(id)
		return nil, err
	}
	return c, nil
}

// catchUp applies the events appended to a show's stream after its version.
func (h *Handler) catchUp(ctx context.Context, s *domain.Show, stream string) error {
	recs, err := h.Store.ReadStream(ctx, stream, s.Version()+1)
	if err != nil || len(recs) == 0 {
		return err
	}
	events, err := h.Registry.DecodeAll(recs)
	if err != nil {
		return err
	}
	s.Load(events, recs[len(recs)-1].Version)
	return nil
}

// loadShowFrom loads a show from its latest snapshot, if any, and the events
// after it; it returns the snapshot's version.
func (h *Handler) loadShowFrom(ctx context.Context, id uuid.UUID) (*domain.Show, int64, error) {
	stream := domain.ShowStream(id)
	s := domain.NewShow()
	var snapAt int64
	if h.Snapshots != nil {
		version, data, ok, err := h.Snapshots.Load(ctx, stream)
		if err != nil {
			return nil, 0, err
		}
		var snap domain.ShowSnapshot
		if ok && json.Unmarshal(data, &snap) == nil && snap.SchemaVersion == domain.SnapshotVersion {
			s, snapAt = domain.RestoreShow(snap, version), version
		}
	}
	if err := h.catchUp(ctx, s, stream); err != nil {
		return nil, 0, err
	}
	return s, snapAt, nil
}

// commitShow appends what a cached show raised and keeps it for the next
// writer; on failure the show leaves the cache.
func (h *Handler) commitShow(ctx context.Context, c *cachedShow) (AppendResult, error) {
	s := c.show
	res, err := h.save(ctx, domain.ShowStream(s.ID), s.Version(), s.Changes())
	if err != nil {
		h.showFailed(c, err)
		return res, err
	}
	h.showCommitted(c, res.Version)
	return res, nil
}

// showFailed drops a show whose changes could not be appended.
func (h *Handler) showFailed(c *cachedShow, err error) {
	if isConflict(err) {
		h.Stats.Conflicts.Add(1)
	}
	h.shows.drop(c.show.ID)
}

// showCommitted marks a cached show's changes appended at version, and
// snapshots it every SnapshotEvery events, or every StateSize/2 events when
// that is more. The snapshot's state is copied here, under the show's lock;
// it is encoded and saved in the background, one at a time per show, so
// that the writers never wait for it.
func (h *Handler) showCommitted(c *cachedShow, version int64) {
	s := c.show
	s.Committed(version)
	// A snapshot costs what the show holds, so a show holding more than
	// twice SnapshotEvery orders is snapshotted every StateSize/2 events
	// instead: the cost per event stays bounded (at two orders' worth of
	// encoding), and a load still reads fewer events after the snapshot
	// than the snapshot has orders.
	every := int64(max(h.SnapshotEvery, s.StateSize()/2))
	if h.Snapshots == nil || version-c.snapAt < every || !c.snapping.CompareAndSwap(false, true) {
		return
	}
	snap := s.Snapshot()
	c.snapAt = version
	go func() {
		defer c.snapping.Store(false)
		data, err := json.Marshal(snap)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = h.Snapshots.Save(ctx, domain.ShowStream(snap.ID), version, data)
			cancel()
		}
		if err != nil {
			h.Log.Warn("snapshot not saved", "show", snap.ID, "version", version, "err", err)
		}
	}()
}

// holdReq is a hold waiting for its batch: one writer decides the holds of
// a show queued meanwhile against the show in memory and appends them
// together (group commit), still guarded by the expected version.
type holdReq struct {
	req  domain.HoldRequest
	md   domain.Metadata // of the request's own context
	held domain.SeatsHeld
	// placed reports that the order stream was written with the hold, at
	// pos.
	placed bool
	pos    domain.Position
	err    error
}

// maxHoldBatch bounds the holds appended at once.
const maxHoldBatch = 2048

// hold reserves inventory for one order, batched with the other holds of the
// show that arrive meanwhile. When the store appends to several streams at
// once, the order is placed in the same append, and the request comes back
// with placed set.
func (h *Handler) hold(ctx context.Context, show uuid.UUID, req domain.HoldRequest) (*holdReq, error) {
	r := &holdReq{req: req, md: metadataOf(ctx)}
	h.holds.do(ctx, show, r, maxHoldBatch, h.decideHolds)
	return r, r.err
}

// decideHolds decides every hold of a batch against the show in memory and
// appends the accepted ones in one append, with their new orders when the
// store can; on a conflict it reloads and decides them all again.
func (h *Handler) decideHolds(ctx context.Context, show uuid.UUID, batch []*holdReq) {
	defer h.lock(domain.ShowStream(show))()
	for attempt := 0; ; attempt++ {
		c, err := h.currentShow(ctx, show)
		if err != nil {
			answer(batch, err)
			return
		}
		if !c.show.Exists() {
			answer(batch, domain.ErrShowNotFound)
			return
		}
		now := h.Now()
		var accepted []*holdReq
		for _, r := range batch {
			r.err, r.placed = nil, false
			before := len(c.show.Changes())
			if r.err = c.show.Hold(r.req, now, h.HoldTTL); r.err != nil {
				continue
			}
			r.held = c.show.Changes()[before].(domain.SeatsHeld)
			accepted = append(accepted, r)
		}
		if len(accepted) == 0 {
			return
		}
		if err = h.appendHolds(ctx, c, accepted); err == nil {
			h.Stats.HoldBatches.Add(1)
			h.Stats.Holds.Add(int64(len(accepted)))
			return
		}
		var ce *ConflictError
		if errors.As(err, &ce) && ce.Stream != domain.ShowStream(show) {
			// An order stream exists already: only that request fails.
			var rest []*holdReq
			for _, r := range batch {
				if domain.OrderStream(r.req.OrderID) == ce.Stream {
					r.err = domain.ErrOrderExists
				} else {
					rest = append(rest, r)
				}
			}
			batch = rest
		} else if !isConflict(err) || attempt+1 >= h.MaxRetries {
			answer(accepted, err)
			return
		}
		h.Stats.Retries.Add(1)
	}
}

// appendHolds appends the holds a batch raised on its show, each with its
// own request's metadata. When the store appends to several streams at
// once, the same append places the orders.
func (h *Handler) appendHolds(ctx context.Context, c *cachedShow, accepted []*holdReq) error {
	s := c.show
	multi, _ := h.Store.(MultiAppender)
	parts := make([]StreamAppend, 1, len(accepted)+1)
	parts[0] = StreamAppend{Stream: domain.ShowStream(s.ID), Expected: s.Version()}
	// What was appended, for Appended.
	var ids []uuid.UUID
	var events []domain.Event
	err := func() error {
		for _, r := range accepted {
			raised := []domain.Event{r.held}
			if multi != nil {
				o := domain.NewOrder()
				if err := o.Place(r.held); err != nil {
					return err
				}
				raised = append(raised, o.Changes()...)
			}
			data, err := domain.Encode(raised, h.NewID, r.md)
			if err != nil {
				return err
			}
			parts[0].Events = append(parts[0].Events, data[0])
			if multi != nil {
				parts = append(parts, StreamAppend{Stream: domain.OrderStream(r.req.OrderID), Expected: domain.NoStream, Events: data[1:]})
			}
			if h.Appended != nil {
				for i := range data {
					ids = append(ids, data[i].ID)
				}
				events = append(events, raised...)
			}
		}
		return nil
	}()
	var res []AppendResult
	if err == nil && multi != nil {
		res, err = multi.AppendMulti(ctx, parts)
	} else if err == nil {
		var one AppendResult
		one, err = h.appendData(ctx, parts[0].Stream, parts[0].Expected, parts[0].Events)
		res = []AppendResult{one}
	}
	if err != nil {
		h.showFailed(c, err)
		return err
	}
	h.showCommitted(c, res[0].Version)
	if h.Appended != nil {
		h.Appended(ids, events)
	}
	last := res[len(res)-1].Position
	for _, r := range accepted {
		r.placed, r.pos = multi != nil, last
	}
	return nil
}

func answer(batch []*holdReq, err error) {
	for _, r := range batch {
		r.err = err
	}
}
