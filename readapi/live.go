package readapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// LiveOptions tune GET /v1/shows/{id}/live.
type LiveOptions struct {
	// Heartbeat is how often an idle stream gets a comment (15 s when 0).
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a stream (10 s when 0); it
	// replaces the server's write timeout, which would cut the stream.
	WriteTimeout time.Duration
}

// ErrTooManyStreams: the client holds as many live streams as it may.
// ErrNotOnSale says that a show has no live availability: it is a draft
// or cancelled (a 409; waiting will not help).
var ErrNotOnSale = errors.New("only a show on sale has live availability")

var ErrTooManyStreams = fmt.Errorf("%w: too many live streams from this address", ErrForbidden)

// liveLimits counts the live streams of each client address.
type liveLimits struct {
	LiveOptions
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newLiveLimits(max int, o LiveOptions) *liveLimits {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	return &liveLimits{LiveOptions: o, max: max, n: map[string]int{}}
}

// take counts a stream of r's address; it reports false at the limit.
// The returned func gives it back.
func (l *liveLimits) take(r *http.Request) (func(), bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.n[host] >= l.max {
		return nil, false
	}
	l.n[host]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.n[host]--; l.n[host] <= 0 {
			delete(l.n, host)
		}
	}, true
}

// live: GET /v1/shows/{id}/live, the show's availability as Server-Sent
// Events (docs/live.md).
func (a *API) live(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	if a.hot == nil {
		return fmt.Errorf("%w: live streams are not served by this process", ErrNotCaughtUp)
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var after domain.Position
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		// An id this server never sent gets a fresh snapshot.
		after, _ = domain.ParsePosition(h)
	}
	if err := a.existingShow(r, actor, id); err != nil {
		return err
	}
	give, ok := a.streams.take(r)
	if !ok {
		return ErrTooManyStreams
	}
	defer give()
	wt, err := a.hot.Watch(r.Context(), id, after, MinPositionWait)
	if errors.Is(err, projections.ErrNotLive) {
		// Only shows on sale are watched: say why this one is not.
		show, verr := a.visibleShow(r, actor)
		if verr != nil {
			return verr
		}
		if show.Status != string(domain.ShowStatusOnSale) {
			return fmt.Errorf("%w: show %s is %s", ErrNotOnSale, id, show.Status)
		}
		return fmt.Errorf("%w: show %s cannot be watched now (%v)", ErrNotCaughtUp, id, err)
	}
	if err != nil {
		return err
	}
	defer wt.Close()
	a.stream(w, r, wt)
	return nil
}

// existingShow waits (up to MinPositionWait) until the read models know
// show id and the actor may see it, unless the views keep it already: only
// shows that exist take a place among them. EventSource sends no
// X-Min-Position, so a show just created gets the wait.
func (a *API) existingShow(r *http.Request, actor domain.Actor, id uuid.UUID) error {
	if a.hot.Kept(id) {
		return nil
	}
	deadline := time.Now().Add(MinPositionWait)
	for {
		_, err := a.visibleShow(r, actor)
		if !errors.Is(err, domain.ErrShowNotFound) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stream writes the watcher's messages to w until the client leaves or
// the watcher is dropped.
func (a *API) stream(w http.ResponseWriter, r *http.Request, wt *projections.Watcher) {
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(a.streams.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	beat := time.NewTicker(a.streams.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		case b, ok := <-wt.C:
			if !ok {
				_ = write(fmt.Appendf(nil, "event: dropped\ndata: {\"reason\":%q,\"detail\":%q}\n\n", wt.Reason(), dropDetail[wt.Reason()]))
				return
			}
			if !write(b) {
				return
			}
		}
	}
}

// dropDetail says what a client dropped for a reason should do.
var dropDetail = map[string]string{
	projections.LiveSlowClient: "the stream was not read fast enough; reconnect",
	projections.LiveShowGone:   "the show is no longer served live; reconnect",
	projections.LiveShutdown:   "the server is stopping; reconnect",
}
