package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// sse is one message of a live stream; a comment has only comment set.
type sse struct {
	id, event, data, comment string
}

// liveStream reads a live stream.
type liveStream struct {
	res  *http.Response
	msgs chan sse
}

// watch opens the live stream of show on s, with headers (name, value...).
func watch(t *testing.T, s *server, client *http.Client, show string, headers ...string) *liveStream {
	return watchBuffered(t, s, client, 4096, show, headers...)
}

// watchBuffered is watch, reading at most buffer messages ahead of the
// test.
func watchBuffered(t *testing.T, s *server, client *http.Client, buffer int, show string, headers ...string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/shows/"+show+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	l := &liveStream{res: res, msgs: make(chan sse, buffer)}
	go l.read()
	t.Cleanup(func() { _ = res.Body.Close() })
	return l
}

func (l *liveStream) read() {
	defer close(l.msgs)
	sc := bufio.NewScanner(l.res.Body)
	sc.Buffer(nil, 1<<20)
	var m sse
	for sc.Scan() {
		line := sc.Text()
		switch k, v, _ := strings.Cut(line, ": "); {
		case line == "":
			if m != (sse{}) {
				l.msgs <- m
			}
			m = sse{}
		case strings.HasPrefix(line, ":"):
			m.comment = strings.TrimSpace(line[1:])
		case k == "id":
			m.id = v
		case k == "event":
			m.event = v
		case k == "data":
			m.data = v
		}
	}
}

// next returns the next message (comments skipped unless comments), or
// fails the test after within.
func (l *liveStream) next(t *testing.T, within time.Duration, comments bool) sse {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				t.Fatalf("the stream ended")
			}
			if m.comment != "" && !comments {
				continue
			}
			return m
		case <-timeout:
			t.Fatalf("no message within %s", within)
		}
	}
}

// liveData is the data of a snapshot or change.
type liveData struct {
	Position string `json:"position"`
	Sections []struct {
		Name      string `json:"name"`
		Held      int    `json:"held"`
		Available int    `json:"available"`
	} `json:"sections"`
	Seats []struct {
		Section, Row, State string
		Seat                int
	} `json:"seats"`
}

func decodeLive(t *testing.T, m sse) liveData {
	t.Helper()
	var d liveData
	if err := json.Unmarshal([]byte(m.data), &d); err != nil || d.Position != m.id {
		t.Fatalf("message %+v: %v", m, err)
	}
	return d
}

// TestLive_HoldSeen: a watcher gets a snapshot, then sees the seats of a
// hold turn held within a second; reconnecting with the last id gets only
// what it missed, and with an id it never had, a fresh snapshot.
func TestLive_HoldSeen(t *testing.T) {
	t.Parallel()
	testLiveHoldSeen(t)
}

// TestLive_HoldSeenThroughKafka is TestLive_HoldSeen with the projections
// fed by the real broker of the run: the views, and so the live streams,
// work there too (issue 17: reads).
func TestLive_HoldSeenThroughKafka(t *testing.T) {
	t.Parallel()
	testLiveHoldSeen(t, withKafka(t, 4))
}

func testLiveHoldSeen(t *testing.T, options ...func(*Config)) {
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, options...)
	org, buyer := s.token("organizer"), s.token("buyer")
	show := hotShow(t, s, org)
	l := watch(t, s, nil, show)
	snap := l.next(t, 5*time.Second, false)
	if snap.event != "snapshot" || len(decodeLive(t, snap).Sections) != 2 {
		t.Fatalf("first message: %+v", snap)
	}
	start := time.Now()
	s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show,
		"seats": []any{map[string]any{"section": "stalls", "row": "B", "seat": 2}, map[string]any{"section": "stalls", "row": "B", "seat": 3}}}))
	ch := l.next(t, time.Second, false)
	d := decodeLive(t, ch)
	if ch.event != "change" || len(d.Seats) != 2 || d.Seats[0].State != "held" || d.Seats[0].Row != "B" || d.Sections[0].Held != 2 {
		t.Fatalf("change after the hold: %+v", ch)
	}
	t.Logf("hold seen after %s", time.Since(start))

	// Missed while away: one more hold.
	s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 3}}}))
	resumed := watch(t, s, nil, show, "Last-Event-ID", ch.id)
	m := resumed.next(t, 2*time.Second, false)
	if d := decodeLive(t, m); m.event != "change" || len(d.Seats) != 0 || d.Sections[0].Name != "floor" || d.Sections[0].Held != 3 {
		t.Fatalf("resumed after %s: %+v", ch.id, m)
	}
	fresh := watch(t, s, nil, show, "Last-Event-ID", "not-a-position")
	if m := fresh.next(t, 2*time.Second, false); m.event != "snapshot" || len(decodeLive(t, m).Seats) != 2 {
		t.Fatalf("with an unknown id: %+v", m)
	}
	s.audit()
}

// TestLive_Heartbeat: an idle stream gets heartbeat comments, and lives
// past the server's write timeout.
func TestLive_Heartbeat(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) {
		c.Hot.Heartbeat = 100 * time.Millisecond
		c.HTTP.WriteTimeout = 300 * time.Millisecond
	})
	show := hotShow(t, s, s.token("organizer"))
	l := watch(t, s, nil, show)
	if m := l.next(t, 5*time.Second, false); m.event != "snapshot" {
		t.Fatalf("first message: %+v", m)
	}
	deadline := time.Now().Add(time.Second) // past the write timeout
	for n := 0; time.Now().Before(deadline); {
		if m := l.next(t, time.Second, true); m.comment != "heartbeat" {
			t.Fatalf("idle stream: %+v", m)
		}
		n++
	}
	s.audit()
}

// TestLive_SlowClientDropped: a client that does not read is dropped, with
// a reason it reads once it does, and the show goes on for the others.
func TestLive_SlowClientDropped(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.Hot.buffer = 4 })
	org, buyer := s.token("organizer"), s.token("buyer")
	// Changes of 50 seats each, by 4 buyers at once, so that the
	// socket's buffers fill soon.
	const workers = 4
	var rows []any
	seats := make([][]any, workers)
	for r := range 5 * workers {
		rows = append(rows, map[string]any{"label": string(rune('A' + r)), "seats": 10})
		for n := range 10 {
			seats[r/5] = append(seats[r/5], map[string]any{"section": "big", "row": string(rune('A' + r)), "seat": n + 1})
		}
	}
	show := s.must(201, s.call("POST", "/v1/shows", org, map[string]any{"title": "Big", "venue": "Hall",
		"starts_at":           time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"max_units_per_buyer": 50, "sections": []any{map[string]any{"name": "big", "price_cents": 100, "rows": rows}}})).str("id")
	s.must(200, s.call("POST", "/v1/shows/"+show+"/publish", org, nil))
	// A small receive buffer, so that the server's writes block soon.
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
	}}
	slow := watchBuffered(t, s, &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}, 0, show)
	fast := watch(t, s, nil, show)
	var wg sync.WaitGroup
	var dropped atomic.Bool
	for w := range workers {
		tok := s.token("buyer")
		wg.Go(func() {
			for i := 0; i < 500 && !dropped.Load(); i++ {
				r := s.call("POST", "/v1/orders", tok, map[string]any{"show_id": show, "seats": seats[w]})
				if r.status != 201 {
					t.Errorf("hold: %d %s", r.status, r.raw)
					return
				}
				s.call("POST", "/v1/orders/"+r.str("id")+"/cancel", tok, nil)
				if s.e.hot.Watchers() < 2 {
					dropped.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if !dropped.Load() {
		t.Fatal("the slow client was never dropped")
	}
	var last sse
	for m := range slow.msgs { // now read it all
		last = m
	}
	if last.event != "dropped" || !strings.Contains(last.data, `"reason":"slow-client"`) {
		t.Fatalf("last message of the slow client: %+v", last)
	}
	s.must(201, s.call("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "seats": seats[0][:1]}))
	for {
		m := fast.next(t, 2*time.Second, false)
		if m.event == "dropped" {
			t.Fatalf("the reading client was dropped: %+v", m)
		}
		if strings.Contains(m.data, `"seats":[{"section":"big","row":"A","seat":1,"state":"held"}]`) {
			break // it saw the last hold
		}
	}
	s.audit()
}

// TestLive_Shutdown: stopping the server ends its live streams at once,
// with the reason shutdown, instead of waiting out the shutdown timeout.
func TestLive_Shutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.ShutdownTimeout = 10 * time.Second })
	show := hotShow(t, s, s.token("organizer"))
	l := watch(t, s, nil, show)
	if m := l.next(t, 5*time.Second, false); m.event != "snapshot" {
		t.Fatalf("first message: %+v", m)
	}
	s.audit()
	start := time.Now()
	s.stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s with a live stream open", took)
	}
	if m := l.next(t, time.Second, false); m.event != "dropped" || !strings.Contains(m.data, `"reason":"shutdown"`) {
		t.Fatalf("last message: %+v", m)
	}
}

// TestLive_StreamsPerClient: a client address holds at most Streams live
// streams; the next one is refused with a problem, and one ending frees
// its place.
func TestLive_StreamsPerClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.Hot.Streams = 1 })
	show := hotShow(t, s, s.token("organizer"))
	first := watch(t, s, nil, show)
	if m := first.next(t, 5*time.Second, false); m.event != "snapshot" {
		t.Fatalf("first message: %+v", m)
	}
	r := s.call("GET", "/v1/shows/"+show+"/live", "", nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("second stream: %d %s", r.status, r.raw)
	}
	_ = first.res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.e.hot.Watchers() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the handler gives its place back
	if m := watch(t, s, nil, show).next(t, 5*time.Second, false); m.event != "snapshot" {
		t.Fatalf("after the first ended: %+v", m)
	}
	s.audit()
}
