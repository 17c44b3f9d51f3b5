package projections

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Hot keeps the availability of the shows read most in memory (issue 17:
// hot reads; issue 18: live), each as of a known position of the log, so
// that the read API answers them without a query and pushes their changes
// to watchers (Watch).
//
// Each process keeps its own: Run follows the log (Feed, the same log the
// projectors apply) from where it stands when Run starts. A show is loaded
// on its first read from the read models, in one snapshot, at the
// checkpoint of the projections it reflects (shows, waitlist) or, when
// Kafka feeds them (ByStream), at the versions of its stream they record,
// then fed forward: holds, releases, sales and returns without voucher or
// quota uses are applied in memory as the shows projector applies them; any other
// event of the show's stream has the show loaded again. Until a show is
// loaded, and for a draft or a cancelled show, Read reports a miss and the
// caller reads the read models. At most Max shows are kept, the least
// recently read evicted first.
type Hot struct {
	// Feed is the log to follow; Registry decodes its events.
	Feed     Feed
	Registry *domain.Registry
	// Snapshot runs fn in one read-only transaction that sees one
	// snapshot of the read models (REPEATABLE READ).
	Snapshot func(ctx context.Context, fn func(db DB) error) error
	// Queries waits for the checkpoints before a load.
	Queries *Queries
	// VersionAt returns the version of show id's stream as of position at
	// of the log: the version of its last event at or before at.
	VersionAt func(ctx context.Context, id uuid.UUID, at domain.Position) (int64, error)
	// ByStream says that the read models are fed by Kafka (issue 17:
	// reads): their projectors record the version they applied of each
	// stream (projection_stream_versions), not one checkpoint of the log, so a show
	// is loaded at the versions of its stream that hotReads reflect, and
	// PositionOf gives the positions of those versions' events.
	ByStream   bool
	PositionOf func(ctx context.Context, id uuid.UUID, version int64) (domain.Position, error)
	// Max is how many shows are kept (DefaultHotShows when 0).
	Max int
	// Buffer is how many messages a watcher may fall behind before it is
	// dropped (DefaultLiveBuffer when 0).
	Buffer int
	Log    *slog.Logger

	// loads and applied count the loads from the read models and the
	// events applied in memory (HotStats).
	loads, applied atomic.Int64

	mu      sync.Mutex
	pos     domain.Position // every event up to pos is applied
	moved   chan struct{}   // closed when pos moves
	shows   map[uuid.UUID]*hotShow
	lru     list.List // of *hotShow, the most recently read first
	ctx     context.Context
	running bool
	closed  bool
	// stopping: the server is shutting down; no new watchers.
	stopping bool
}

// Hot defaults.
const (
	DefaultHotShows   = 256
	DefaultLiveBuffer = 256
	// hotRing is how many change messages of a show are kept for a
	// watcher resuming with Last-Event-ID.
	hotRing = 512
	// hotRetry is how long a show that could not be loaded is read from
	// the read models before another load is tried.
	hotRetry = time.Second
)

// hotReads are the projections the in-memory views reflect.
var hotReads = []string{NameShows, NameWaitlist}

// hotState is where a hotShow is in its life.
type hotState int

const (
	hotLoading hotState = iota // being loaded: events are kept in pending
	hotReady                   // served from memory
	hotCold                    // not kept (draft, cancelled, failed load) until retryAt or its next event
)

// hotShow is one show kept in memory.
type hotShow struct {
	id      uuid.UUID
	elem    *list.Element
	state   hotState
	retryAt time.Time
	pending []domain.RecordedEvent // while loading
	view    *HotView
	// enc caches encodings of view, by the caller's key.
	enc      map[string][]byte
	watchers map[*Watcher]struct{}
	ring     []liveFrame // the last change messages, oldest first
	ringFrom domain.Position
}

// HotView is the state of a show kept in memory. Its Show, SeatMap and
// Rules are what the read models answer at Changed; a caller must only
// read them.
type HotView struct {
	Show    ShowView
	SeatMap SeatMap
	Rules   RulesView
	// Changed is the position of the last event that changed the view
	// (the checkpoint it was loaded at, until one does).
	Changed domain.Position
	// Version is the version of the show's stream the view reflects: the
	// show's ETag, as the write API compares If-Match with it.
	Version int64
	// seats are the states of the seats, by seat.
	seats map[hotSeatKey]string
	// order is the seats in the order of rm_seats (section, row, seat).
	order []hotSeatKey
}

// hotSeatKey is a seat; its fields are domain.SeatRef's.
type hotSeatKey struct {
	Section, Row string
	Seat         int
}

// Run follows the log until ctx ends. When following fails, every view
// is dropped (their watchers with LiveShowGone) and it starts again from
// the head a second later: a view never lags behind silently.
func (h *Hot) Run(ctx context.Context) error {
	h.mu.Lock()
	h.init()
	h.ctx, h.running = ctx, true
	h.mu.Unlock()
	defer h.closeAll()
	for {
		err := h.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.Log.Warn("hot views: following the log failed; dropping them", "error", err)
		h.mu.Lock()
		h.running = false
		for _, s := range h.shows {
			h.evict(s, LiveShowGone)
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// follow follows the log from its head, without replaying it: shows are
// loaded from the read models.
func (h *Hot) follow(ctx context.Context) error {
	type header interface {
		Head(ctx context.Context) (domain.Position, error)
	}
	start := domain.Start
	if hd, ok := h.Feed.(header); ok {
		p, err := hd.Head(ctx)
		if err != nil {
			return fmt.Errorf("hot views: head: %w", err)
		}
		start = p
	}
	h.mu.Lock()
	h.setPos(start)
	h.running = true
	h.mu.Unlock()
	if df, ok := h.Feed.(DecodedFeed); ok { // issue 17: feed: decoded once for every follower
		return df.FollowDecoded(ctx, start, func(_ context.Context, recs []domain.RecordedEvent, events []domain.Event, errs []error) error {
			h.applyDecoded(recs, events, errs)
			return nil
		})
	}
	return h.Feed.Follow(ctx, start, h.apply)
}

func (h *Hot) init() {
	if h.shows == nil {
		h.shows = map[uuid.UUID]*hotShow{}
		h.moved = make(chan struct{})
		if h.Log == nil {
			h.Log = slog.New(slog.DiscardHandler)
		}
	}
}

// setPos moves pos and wakes its waiters; h.mu is held.
func (h *Hot) setPos(p domain.Position) {
	if h.pos.Less(p) {
		h.pos = p
		close(h.moved)
		h.moved = make(chan struct{})
	}
}

// HotStats counts the work of a Hot.
type HotStats struct {
	// Loads is how many times a show was read from the read models;
	// Applied how many events were applied in memory.
	Loads, Applied int64
}

// Stats returns the counts of h's work so far.
func (h *Hot) Stats() HotStats { return HotStats{Loads: h.loads.Load(), Applied: h.applied.Load()} }

// Position returns the position up to which every event is applied.
func (h *Hot) Position() domain.Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// WaitFor waits until the views have applied the log up to pos, at most
// timeout; it reports whether they have.
func (h *Hot) WaitFor(ctx context.Context, pos domain.Position, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		h.mu.Lock()
		h.init()
		reached, moved := !h.pos.Less(pos), h.moved
		h.mu.Unlock()
		if reached {
			return true
		}
		select {
		case <-moved:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// showOf returns the show of a show stream, if rec is of one.
func showOf(rec domain.RecordedEvent) (uuid.UUID, bool) {
	s, ok := strings.CutPrefix(rec.StreamID, "show-")
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

// apply takes a batch of the log.
func (h *Hot) apply(_ context.Context, recs []domain.RecordedEvent) error {
	if len(recs) == 0 {
		return nil
	}
	// Decode, outside the lock, the events of the shows kept.
	decoded := make([]domain.Event, len(recs))
	h.mu.Lock()
	kept := make([]bool, len(recs))
	for i, rec := range recs {
		if id, ok := showOf(rec); ok {
			_, kept[i] = h.shows[id]
		}
	}
	h.mu.Unlock()
	for i, rec := range recs {
		if kept[i] {
			if e, err := h.Registry.DecodeRecorded(rec); err == nil {
				decoded[i] = e
			}
		}
	}
	h.applyDecoded(recs, decoded, nil)
	return nil
}

// applyDecoded takes a batch of the log, decoded: events[i] is recs[i]
// decoded, nil or with errs[i] set when it does not decode (errs may be
// nil).
func (h *Hot) applyDecoded(recs []domain.RecordedEvent, events []domain.Event, errs []error) {
	if len(recs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	changes := map[*hotShow]*liveChange{}
	for i, rec := range recs {
		id, ok := showOf(rec)
		if !ok {
			continue
		}
		s := h.shows[id]
		if s == nil {
			continue
		}
		switch s.state {
		case hotLoading:
			s.pending = append(s.pending, rec)
		case hotCold:
			h.evict(s, "")
		case hotReady:
			c := changes[s]
			if c == nil {
				c = newLiveChange()
				changes[s] = c
			}
			e := events[i]
			if errs != nil && errs[i] != nil {
				e = nil
			}
			if e == nil || !s.view.applyFast(rec.Position, e, c) {
				h.reload(s, rec.Position)
				delete(changes, s)
				continue
			}
			s.view.Version = rec.Version
			h.applied.Add(1)
		}
	}
	h.setPos(recs[len(recs)-1].Position)
	for s, c := range changes {
		if !c.empty() {
			h.publish(s, c)
		}
	}
}

// reload drops the view of s and loads it again, once the read models
// reflect at, the position of the event it could not apply; h.mu is held.
func (h *Hot) reload(s *hotShow, at domain.Position) {
	s.state, s.view, s.enc, s.pending = hotLoading, nil, nil, nil
	s.ring, s.ringFrom = nil, domain.Position{}
	go h.load(s, at)
}

// evict forgets s, dropping its watchers with reason (none when "").
func (h *Hot) evict(s *hotShow, reason string) {
	if cur, ok := h.shows[s.id]; !ok || cur != s {
		return
	}
	for w := range s.watchers {
		w.drop(reasonOr(reason, LiveShowGone))
	}
	delete(h.shows, s.id)
	h.lru.Remove(s.elem)
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// Read returns encode's encoding of the view of show id as kept in memory,
// once the views reflect at least min, and the version of the show's
// stream it reflects; encodings are cached, by key, until the view changes. ok is false
// when the show is not kept (yet): read the read models instead, and call
// Keep when they found it.
func (h *Hot) Read(ctx context.Context, id uuid.UUID, min domain.Position, key string, encode func(v *HotView) ([]byte, error)) (body []byte, version int64, ok bool, err error) {
	if !min.IsZero() && !h.WaitFor(ctx, min, hotMinWait) {
		return nil, 0, false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.shows[id]
	if s == nil || s.state != hotReady {
		if s != nil {
			h.touch(id) // a cold show due for another load
		}
		return nil, 0, false, nil
	}
	h.lru.MoveToFront(s.elem)
	if b, ok := s.enc[key]; ok {
		return b, s.view.Version, true, nil
	}
	b, err := encode(s.view)
	if err != nil {
		return nil, 0, false, err
	}
	if s.enc == nil {
		s.enc = map[string][]byte{}
	}
	s.enc[key] = b
	return b, s.view.Version, true, nil
}

// hotMinWait is how long a read with a position waits for the views
// before it reads the read models (which wait their own MinPositionWait).
const hotMinWait = 200 * time.Millisecond

// Keep starts keeping show id, which the read models found, in memory:
// only shows that exist take a place, so that reads of made-up ids do not
// evict the others.
func (h *Hot) Keep(id uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.touch(id)
}

// touch returns the show id, marked as the most recently read, starting
// its load when it is not kept; h.mu is held. It returns nil while the
// process does not follow the log.
func (h *Hot) touch(id uuid.UUID) *hotShow {
	h.init()
	if !h.running || h.closed {
		return nil
	}
	s := h.shows[id]
	if s != nil {
		h.lru.MoveToFront(s.elem)
		if s.state == hotCold && time.Now().After(s.retryAt) {
			s.state = hotLoading
			go h.load(s, h.pos)
		}
		return s
	}
	s = &hotShow{id: id, state: hotLoading, watchers: map[*Watcher]struct{}{}}
	s.elem = h.lru.PushFront(s)
	h.shows[id] = s
	// Evict the least recently read shows that nobody watches.
	for e := h.lru.Back(); e != nil && h.lru.Len() > h.max(); {
		prev := e.Prev()
		if old := e.Value.(*hotShow); len(old.watchers) == 0 {
			h.evict(old, "")
		}
		e = prev
	}
	go h.load(s, h.pos)
	return s
}

func (h *Hot) max() int {
	if h.Max > 0 {
		return h.Max
	}
	return DefaultHotShows
}

// closeAll drops every watcher when Run ends.
func (h *Hot) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.dropWatchers(LiveShutdown)
	h.shows = map[uuid.UUID]*hotShow{}
	h.lru.Init()
}
