package projections

import (
	"context"
	"runtime"
	"slices"
	"sync"

	"github.com/ticketing/ticketing/domain"
)

// DefaultSharedPages is how many pages of the log a SharedLog keeps for the
// rebuilds behind the fastest one.
const DefaultSharedPages = 8

// SharedLog reads the global log once for several rebuilds that go through
// it at the same time, each at its own pace, and decodes each event once for
// all of them: a rebuild of every projection reads and decodes the log once,
// not once per projection (decoding was over half of a rebuild's CPU).
//
// Each rebuild reads through a SharedReader of its own. A page — the events
// after a position, up to a limit — is read and decoded by the first reader
// that asks for it; the others that ask for the same page get it from memory.
// A page is dropped once every open reader has gone past it. Memory is
// bounded: a reader that needs a page that is not kept waits while the
// SharedLog keeps pages maximum pages, unless it is the reader furthest
// behind, which never waits, so that the slowest rebuild sets the pace and
// none is stuck. Readers whose pages do not line up (rebuilds resumed from
// different checkpoints) still work: they read and decode on their own.
type SharedLog struct {
	log      Reader
	registry *domain.Registry
	max      int

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when pages or readers change
	pages   []*sharedPage // in the order they were loaded
	readers map[*SharedReader]struct{}
}

// sharedPage is a page of the log, decoded, or being loaded until ready is
// closed.
type sharedPage struct {
	after  domain.Position
	limit  int
	ready  chan struct{}
	events []domain.RecordedEvent
	dec    []domain.Event
	errs   []error
	err    error
}

// last is the position of the page's last event; zero for an empty page.
func (p *sharedPage) last() domain.Position {
	if len(p.events) == 0 {
		return domain.Position{}
	}
	return p.events[len(p.events)-1].Position
}

// NewSharedLog returns a SharedLog over log that decodes with registry and
// keeps up to pages pages (DefaultSharedPages when pages ≤ 0).
func NewSharedLog(log Reader, registry *domain.Registry, pages int) *SharedLog {
	if pages <= 0 {
		pages = DefaultSharedPages
	}
	return &SharedLog{log: log, registry: registry, max: pages, changed: make(chan struct{}), readers: map[*SharedReader]struct{}{}}
}

// Reader returns a new reader of the log. Close it when its rebuild ends.
// A reader opened after others have started reading may find the pages
// they went past dropped, and read them itself: open the readers of
// rebuilds that run together with Readers.
func (s *SharedLog) Reader() *SharedReader {
	return s.Readers(1)[0]
}

// Readers returns n new readers of the log, all open before any reads, so
// that no page is dropped before each of them has gone past it.
func (s *SharedLog) Readers(n int) []*SharedReader {
	rs := make([]*SharedReader, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rs {
		rs[i] = &SharedReader{log: s}
		s.readers[rs[i]] = struct{}{}
	}
	return rs
}

// SharedReader is one rebuild's view of a SharedLog. It is a Reader, and a
// rebuild through it takes the events it read decoded.
type SharedReader struct {
	log     *SharedLog
	at      domain.Position // where it reads next; zero before its first read
	started bool
	page    *sharedPage // the page it read last
}

// ReadAll returns up to limit events after position after, in order.
func (r *SharedReader) ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	p, err := r.log.page(ctx, r, after, limit)
	if err != nil {
		return nil, err
	}
	r.page = p
	return p.events, nil
}

// Close tells the SharedLog that r reads no more.
func (r *SharedReader) Close() {
	s := r.log
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.readers, r)
	s.dropPassed()
}

// decoded returns the events of recs decoded, when recs are events of the
// page r read last.
func (r *SharedReader) decoded(recs []domain.RecordedEvent) ([]domain.Event, []error, bool) {
	if r == nil {
		return nil, nil, false
	}
	p := r.page
	if p == nil || len(recs) == 0 || len(p.events) == 0 {
		return nil, nil, false
	}
	i, found := slices.BinarySearchFunc(p.events, recs[0].Position, func(e domain.RecordedEvent, at domain.Position) int {
		switch {
		case e.Position.Less(at):
			return -1
		case at.Less(e.Position):
			return 1
		}
		return 0
	})
	if !found || i+len(recs) > len(p.events) || p.events[i].ID != recs[0].ID || p.events[i+len(recs)-1].ID != recs[len(recs)-1].ID {
		return nil, nil, false
	}
	return p.dec[i : i+len(recs)], p.errs[i : i+len(recs)], true
}

// page returns the page (after, limit) for r: kept, being loaded by another
// reader, or loaded by r.
func (s *SharedLog) page(ctx context.Context, r *SharedReader, after domain.Position, limit int) (*sharedPage, error) {
	s.mu.Lock()
	r.at, r.started = after, true
	s.dropPassed()
	for {
		if p := s.find(after, limit); p != nil {
			s.mu.Unlock()
			select {
			case <-p.ready:
				return p, p.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if len(s.pages) < s.max || s.behindAll(r) {
			break
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	p := &sharedPage{after: after, limit: limit, ready: make(chan struct{})}
	s.pages = append(s.pages, p)
	s.mu.Unlock()
	s.load(ctx, p)
	return p, p.err
}

// load reads and decodes the page p, then, when it is full and there is
// room, starts loading the page after it: the readers find it loaded, or
// being loaded, rather than wait for its reading and decoding after they
// asked (issue 17: rebuilds). The page ahead is loaded whatever becomes of
// the reader whose read started it: it is the others' too.
func (s *SharedLog) load(ctx context.Context, p *sharedPage) {
	p.events, p.err = s.log.ReadAll(ctx, p.after, p.limit)
	if p.err == nil {
		p.dec, p.errs = s.decode(p.events)
	}
	close(p.ready)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.err != nil {
		s.pages = slices.DeleteFunc(s.pages, func(q *sharedPage) bool { return q == p })
		s.signal()
		return
	}
	s.dropPassed() // a page loaded ahead may be of no reader now
	if len(p.events) < p.limit || len(s.pages) >= s.max || s.find(p.last(), p.limit) != nil || !s.kept(p) {
		return
	}
	next := &sharedPage{after: p.last(), limit: p.limit, ready: make(chan struct{})}
	s.pages = append(s.pages, next)
	go s.load(context.WithoutCancel(ctx), next)
}

// kept reports whether p is still among the pages kept.
func (s *SharedLog) kept(p *sharedPage) bool { return slices.Contains(s.pages, p) }

// decodeChunk is the fewest events a page's decoding gives a goroutine of
// its own.
const decodeChunk = 2000

// decode decodes events, in chunks of at least decodeChunk on up to
// GOMAXPROCS goroutines.
func (s *SharedLog) decode(events []domain.RecordedEvent) ([]domain.Event, []error) {
	dec, errs := make([]domain.Event, len(events)), make([]error, len(events))
	n := min(runtime.GOMAXPROCS(0), max(1, len(events)/decodeChunk))
	var wg sync.WaitGroup
	for c := range n {
		lo, hi := c*len(events)/n, (c+1)*len(events)/n
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				dec[i], errs[i] = s.registry.DecodeRecorded(events[i])
			}
		})
	}
	wg.Wait()
	return dec, errs
}

// find returns the kept page (after, limit), or nil.
func (s *SharedLog) find(after domain.Position, limit int) *sharedPage {
	for _, p := range s.pages {
		if p.after == after && p.limit == limit {
			return p
		}
	}
	return nil
}

// behindAll reports whether no other open reader is behind r.
func (s *SharedLog) behindAll(r *SharedReader) bool {
	for o := range s.readers {
		if o != r && (!o.started || o.at.Less(r.at)) {
			return false
		}
	}
	return true
}

// dropPassed drops the loaded pages that every open reader has gone past,
// every page when no reader is open, and wakes the readers waiting for
// room.
func (s *SharedLog) dropPassed() {
	s.pages = slices.DeleteFunc(s.pages, func(p *sharedPage) bool {
		if len(s.readers) == 0 {
			return true // even one being loaded ahead: no reader waits for it
		}
		select {
		case <-p.ready:
		default:
			return false // being loaded
		}
		if len(p.events) == 0 {
			return true
		}
		for o := range s.readers {
			if !o.started || o.at.Less(p.last()) {
				return false
			}
		}
		return true
	})
	s.signal()
}

// signal wakes the readers waiting for a change.
func (s *SharedLog) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}
