package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Reasons a watcher is dropped (the "dropped" message of docs/live.md).
const (
	LiveSlowClient = "slow-client"
	LiveShowGone   = "show-gone"
	LiveShutdown   = "shutdown"
)

// Live message names (the SSE "event:" field).
const (
	LiveSnapshot = "snapshot"
	LiveChange   = "change"
)

// ErrNotLive says that a show is not kept in memory, so cannot be watched:
// it does not exist, is a draft or cancelled, or could not be loaded.
var ErrNotLive = errors.New("show is not served live")

// LiveSeat is a seat and its state in a live message: the seat as orders
// name it (domain.SeatRef), its state as the seat map does.
type LiveSeat struct {
	domain.SeatRef
	State string `json:"state"`
}

// LiveMessage is the data of a live message: a snapshot (every section,
// the seats that are not available) or a change (what changed).
type LiveMessage struct {
	ShowID   uuid.UUID     `json:"show_id"`
	Position string        `json:"position"`
	Sections []SectionView `json:"sections"`
	Seats    []LiveSeat    `json:"seats"`
}

// liveFrame is an encoded message and its position.
type liveFrame struct {
	pos domain.Position
	b   []byte
}

// liveChange gathers what a batch changed in one show.
type liveChange struct {
	sections []SectionView
	seats    []LiveSeat
	seatAt   map[hotSeatKey]int
}

func newLiveChange() *liveChange { return &liveChange{seatAt: map[hotSeatKey]int{}} }

func (c *liveChange) empty() bool { return len(c.sections) == 0 && len(c.seats) == 0 }

// section records a section's new counts.
func (c *liveChange) section(s SectionView) {
	for i := range c.sections {
		if c.sections[i].Name == s.Name {
			c.sections[i] = s
			return
		}
	}
	c.sections = append(c.sections, s)
}

// seat records a seat's new state.
func (c *liveChange) seat(s LiveSeat) {
	k := hotSeatKey(s.SeatRef)
	if i, ok := c.seatAt[k]; ok {
		c.seats[i] = s
		return
	}
	c.seatAt[k] = len(c.seats)
	c.seats = append(c.seats, s)
}

// frame encodes an SSE message.
func frame(event string, pos domain.Position, m LiveMessage) []byte {
	m.Position = pos.String()
	if m.Sections == nil {
		m.Sections = []SectionView{}
	}
	if m.Seats == nil {
		m.Seats = []LiveSeat{}
	}
	data, _ := json.Marshal(m) // plain structs: cannot fail
	return fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", m.Position, event, data)
}

// snapshotFrame encodes the whole of v.
func (v *HotView) snapshotFrame() liveFrame {
	m := LiveMessage{ShowID: v.Show.ID, Sections: v.Show.Sections}
	for _, k := range v.order {
		if st := v.seats[k]; st != SeatAvailable {
			m.Seats = append(m.Seats, LiveSeat{SeatRef: domain.SeatRef(k), State: st})
		}
	}
	return liveFrame{v.Changed, frame(LiveSnapshot, v.Changed, m)}
}

// publish sends a change of s to its watchers and keeps it for resumes;
// h.mu is held.
func (h *Hot) publish(s *hotShow, c *liveChange) {
	s.enc = nil
	f := liveFrame{s.view.Changed, frame(LiveChange, s.view.Changed, LiveMessage{ShowID: s.id, Sections: c.sections, Seats: c.seats})}
	s.ring = append(s.ring, f)
	if len(s.ring) > hotRing {
		s.ringFrom = s.ring[0].pos
		s.ring = append(s.ring[:0], s.ring[1:]...)
	}
	for w := range s.watchers {
		w.send(f.b)
	}
}

// snapshotAll sends a fresh snapshot of s to its watchers; h.mu is held.
func (h *Hot) snapshotAll(s *hotShow) {
	if len(s.watchers) == 0 {
		return
	}
	f := s.view.snapshotFrame()
	for w := range s.watchers {
		w.send(f.b)
	}
}

// Watcher is one subscription to a show's live messages.
type Watcher struct {
	// C delivers encoded SSE messages; it is closed when the watcher is
	// dropped, Reason then telling why.
	C       <-chan []byte
	c       chan []byte
	reason  string
	dropped bool
	h       *Hot
	s       *hotShow
}

// send queues b, dropping the watcher when its buffer is full; h.mu is
// held.
func (w *Watcher) send(b []byte) {
	select {
	case w.c <- b:
	default:
		w.drop(LiveSlowClient)
	}
}

// drop closes the watcher with reason; h.mu is held.
func (w *Watcher) drop(reason string) {
	if w.dropped {
		return
	}
	w.dropped, w.reason = true, reason
	delete(w.s.watchers, w)
	close(w.c)
}

// Reason tells why C was closed.
func (w *Watcher) Reason() string { return w.reason }

// Close ends the subscription.
func (w *Watcher) Close() {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	w.drop(LiveShutdown)
}

// Watch subscribes to the live messages of show id. The first messages
// are what came after after (a Last-Event-ID; zero for none) when the show
// still has them, else a snapshot. It waits (up to wait) for the show to be
// loaded and for the views to reach after; it fails with ErrNotLive when
// the show cannot be watched (it does not exist, is a draft or cancelled,
// or cannot be loaded in time), or when the views cannot reach after.
func (h *Hot) Watch(ctx context.Context, id uuid.UUID, after domain.Position, wait time.Duration) (*Watcher, error) {
	if !after.IsZero() && !h.WaitFor(ctx, after, wait) {
		return nil, fmt.Errorf("%w: position %s not reached", ErrNotLive, after)
	}
	deadline := time.Now().Add(wait)
	for {
		h.mu.Lock()
		s := h.touch(id)
		if h.stopping {
			h.mu.Unlock()
			return nil, fmt.Errorf("%w: the server is stopping", ErrNotLive)
		}
		if s != nil && s.state == hotReady {
			w := h.subscribe(s, after)
			h.mu.Unlock()
			return w, nil
		}
		h.mu.Unlock()
		if s == nil || time.Now().After(deadline) {
			return nil, ErrNotLive
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// subscribe adds a watcher to s with its first messages; h.mu is held.
func (h *Hot) subscribe(s *hotShow, after domain.Position) *Watcher {
	n := h.Buffer
	if n <= 0 {
		n = DefaultLiveBuffer
	}
	c := make(chan []byte, n)
	w := &Watcher{C: c, c: c, h: h, s: s}
	s.watchers[w] = struct{}{}
	var missed [][]byte
	if !after.IsZero() && !after.Less(s.ringFrom) {
		for _, f := range s.ring {
			if after.Less(f.pos) {
				missed = append(missed, f.b)
			}
		}
	} else {
		missed = nil
		after = domain.Start
	}
	if after.IsZero() || len(missed) >= n {
		missed = [][]byte{s.view.snapshotFrame().b}
	}
	for _, b := range missed {
		w.c <- b
	}
	return w
}

// Watchers returns how many watchers h has, over every show.
func (h *Hot) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.shows {
		n += len(s.watchers)
	}
	return n
}

// Shutdown drops every watcher with LiveShutdown and refuses new ones;
// reads go on until Run ends.
func (h *Hot) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopping = true
	h.dropWatchers(LiveShutdown)
}

// dropWatchers drops every watcher with reason; h.mu is held.
func (h *Hot) dropWatchers(reason string) {
	for _, s := range h.shows {
		for w := range s.watchers {
			w.drop(reason)
		}
	}
}

// Kept reports whether show id is kept in memory (or being loaded).
func (h *Hot) Kept(id uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.shows[id]
	return ok
}
