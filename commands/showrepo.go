package commands

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// showRepository keeps the shows this process writes: it loads a show from
// its latest snapshot and the events after it, keeps it in memory, catches
// it up with what other processes appended, appends what it raised and
// snapshots it now and then. Its callers hold the show's stream lock.
type showRepository struct {
	events    *eventLog
	snapshots SnapshotStore // nil: no snapshots
	every     int           // events between two snapshots, at least
	stats     *Stats
	cache     showCache
	// issue 14: waitlist — offerWindow is set on every show decided on.
	offerWindow time.Duration
}

// newShowRepository returns the repository of the shows in events, with
// snapshots, if not nil, every snapshotEvery events; it counts conflicts
// in stats.
func newShowRepository(events *eventLog, snapshots SnapshotStore, snapshotEvery int, stats *Stats) *showRepository {
	if events == nil || stats == nil {
		panic("commands: newShowRepository: nil dependency")
	}
	return &showRepository{events: events, snapshots: snapshots, every: snapshotEvery, stats: stats}
}

// drop forgets a cached show, whose changes were not all appended.
func (r *showRepository) drop(id uuid.UUID) { r.cache.drop(id) }

// load returns a show as it stands, from its latest snapshot and the
// events after it, without caching it.
func (r *showRepository) load(ctx context.Context, id uuid.UUID) (*domain.Show, error) {
	s, _, err := r.loadFrom(ctx, id)
	return s, err
}

// DefaultSnapshotEvery is how many events a show's stream grows by between
// two snapshots.
const DefaultSnapshotEvery = 500

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

// current returns the show, cached and caught up with its stream. The
// caller holds the show's stream lock, and drops the show from the cache if
// it raised events it could not append.
func (r *showRepository) current(ctx context.Context, id uuid.UUID) (*cachedShow, error) {
	c := r.cache.get(id)
	if c == nil {
		s, snapAt, err := r.loadFrom(ctx, id)
		if err != nil {
			return nil, err
		}
		s.SetOfferWindow(r.offerWindow) // issue 14: waitlist
		c = &cachedShow{show: s, snapAt: snapAt}
		r.cache.put(id, c)
		return c, nil
	}
	if err := r.catchUp(ctx, c.show, domain.ShowStream(id)); err != nil {
		r.cache.drop(id)
		return nil, err
	}
	return c, nil
}

// cached returns the show as this process last knew it, without reading
// its stream for events other processes appended since; fresh reports
// that it was loaded now, and so is as the stream stands. The caller holds
// the show's stream lock, and must not tell a buyer no on a show that is
// not fresh before moved confirmed that it was current (an append of what
// it raised is checked by its expected version; a refusal writes nothing).
func (r *showRepository) cached(ctx context.Context, id uuid.UUID) (c *cachedShow, fresh bool, err error) {
	if c := r.cache.get(id); c != nil {
		return c, false, nil
	}
	c, err = r.current(ctx, id)
	return c, true, err
}

// moved reports whether the stream of a cached show holds events after the
// show's version, appended by another process; the show then leaves the
// cache, its state being behind.
func (r *showRepository) moved(ctx context.Context, c *cachedShow) (bool, error) {
	recs, err := r.events.store.ReadStream(ctx, domain.ShowStream(c.show.ID), c.show.Version()+1)
	if err != nil || len(recs) > 0 {
		r.cache.drop(c.show.ID)
		return len(recs) > 0, err
	}
	return false, nil
}

// catchUp applies the events appended to a show's stream after its version.
func (r *showRepository) catchUp(ctx context.Context, s *domain.Show, stream string) error {
	recs, err := r.events.store.ReadStream(ctx, stream, s.Version()+1)
	if err != nil || len(recs) == 0 {
		return err
	}
	events, err := r.events.registry.DecodeAll(recs)
	if err != nil {
		return err
	}
	s.Load(events, recs[len(recs)-1].Version)
	return nil
}

// loadFrom loads a show from its latest snapshot, if any, and the events
// after it; it returns the snapshot's version.
func (r *showRepository) loadFrom(ctx context.Context, id uuid.UUID) (*domain.Show, int64, error) {
	stream := domain.ShowStream(id)
	s := domain.NewShow()
	var snapAt int64
	if r.snapshots != nil {
		version, data, ok, err := r.snapshots.Load(ctx, stream)
		if err != nil {
			return nil, 0, err
		}
		var snap domain.ShowSnapshot
		if ok && json.Unmarshal(data, &snap) == nil && snap.SchemaVersion == domain.SnapshotVersion {
			s, snapAt = domain.RestoreShow(snap, version), version
		}
	}
	if err := r.catchUp(ctx, s, stream); err != nil {
		return nil, 0, err
	}
	return s, snapAt, nil
}

// commit appends what a cached show raised and keeps it for the next
// writer; on failure the show leaves the cache.
func (r *showRepository) commit(ctx context.Context, c *cachedShow) (AppendResult, error) {
	s := c.show
	res, err := r.events.save(ctx, domain.ShowStream(s.ID), s.Version(), s.Changes())
	if err != nil {
		r.failed(c, err)
		return res, err
	}
	r.committed(c, res.Version)
	return res, nil
}

// failed drops a show whose changes could not be appended.
func (r *showRepository) failed(c *cachedShow, err error) {
	if isConflict(err) {
		r.stats.Conflicts.Add(1)
	}
	r.cache.drop(c.show.ID)
}

// committed marks a cached show's changes appended at version, and
// snapshots it every r.every events, or every StateSize/2 events when
// that is more. The snapshot's state is copied here, under the show's lock;
// it is encoded and saved in the background, one at a time per show, so
// that the writers never wait for it.
func (r *showRepository) committed(c *cachedShow, version int64) {
	s := c.show
	s.Committed(version)
	// A snapshot costs what the show holds, so a show holding more than
	// twice r.every orders is snapshotted every StateSize/2 events
	// instead: the cost per event stays bounded (at two orders' worth of
	// encoding), and a load still reads fewer events after the snapshot
	// than the snapshot has orders.
	every := int64(max(r.every, s.StateSize()/2))
	if r.snapshots == nil || version-c.snapAt < every || !c.snapping.CompareAndSwap(false, true) {
		return
	}
	snap := s.Snapshot()
	c.snapAt = version
	go func() {
		defer c.snapping.Store(false)
		data, err := json.Marshal(snap)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = r.snapshots.Save(ctx, domain.ShowStream(snap.ID), version, data)
			cancel()
		}
		if err != nil {
			r.events.log.Warn("snapshot not saved", "show", snap.ID, "version", version, "err", err)
		}
	}()
}
