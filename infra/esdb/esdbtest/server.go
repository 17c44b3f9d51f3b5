// Package esdbtest gives tests an EventStoreDB to talk to.
//
// Server is an in-process gRPC server that implements the part of the
// EventStoreDB streams API that the esdb adapter uses: Append, and Read of a
// stream or of $all, forwards and backwards, with server-side filters and
// catch-up subscriptions. It keeps its log in memory and follows the real
// server's documented rules: expected revisions any, no_stream,
// stream_exists and exact; a WrongExpectedVersion result that carries the
// stream's current revision; idempotent appends by event id (exact at the
// expected revision, best effort through a cache of recent event ids for any
// and stream_exists); positions in $all that grow by the size of each
// record, with commit == prepare for every appended event; reads of $all
// from a position that include the event at it; subscriptions from a
// position that start after it. Like a fresh real server, its log begins
// with a few system events.
//
// Real finds a real server, where there is one.
package esdbtest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
)

// Options tune a Server.
type Options struct {
	// IDCache bounds the event ids the server remembers for the idempotency
	// of appends with expected revision any or stream_exists, like the real
	// server's cache of recently committed events. Zero remembers them all.
	IDCache int
	// NoIdempotentPosition makes an idempotent append answer without a
	// position, as older servers did.
	NoIdempotentPosition bool
}

// Server is an in-process EventStoreDB streams API on a loopback port.
type Server struct {
	streams.UnimplementedStreamsServer

	opts Options
	addr string

	srvMu sync.Mutex
	srv   *grpc.Server
	held  *heldListener // the port, kept from Stop to Restart
	drop  chan struct{} // closed to drop every subscription

	mu      sync.Mutex
	log     []*record
	streams map[string][]*record
	cache   map[uuid.UUID]*record // recently committed events by id
	cached  []uuid.UUID           // the cache's ids, oldest first, when IDCache bounds it
	next    uint64                // log position of the next record
	changed chan struct{}         // closed and replaced on every append
}

// record is an event in the log. Records never change once appended.
type record struct {
	id          uuid.UUID
	stream      string
	revision    uint64
	typ         string
	contentType string
	data        []byte
	metadata    []byte
	created     int64 // 100 ns ticks since the Unix epoch
	pos         uint64
}

// Start starts a server on a free loopback port and stops it when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("esdbtest: %v", err)
	}
	t.Cleanup(func() { s.Stop(); s.held.release() })
	return s
}

// Listen starts a server on addr.
func Listen(addr string, opts Options) (*Server, error) {
	s := &Server{
		opts:    opts,
		streams: map[string][]*record{},
		cache:   map[uuid.UUID]*record{},
		next:    256, // where a real log's first epoch record ends
		changed: make(chan struct{}),
	}
	s.writeSystemEvents()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.addr = ln.Addr().String()
	s.held = hold(ln)
	s.serve(s.held)
	return s, nil
}

// writeSystemEvents writes what a fresh real server has in its log before
// any client writes.
func (s *Server) writeSystemEvents() {
	for _, e := range []struct{ stream, typ, data string }{
		{"$users", "$User", `{"loginName":"admin"}`},
		{"$user-admin", "$UserCreated", `{"loginName":"admin","fullName":"Event Store Administrator"}`},
		{"$settings", "$update-settings", `{}`},
	} {
		s.write(e.stream, []*record{{id: uuid.New(), typ: e.typ, contentType: "application/json", data: []byte(e.data)}})
	}
}

func (s *Server) serve(ln net.Listener) {
	srv := grpc.NewServer()
	streams.RegisterStreamsServer(srv, s)
	s.srvMu.Lock()
	s.srv = srv
	s.drop = make(chan struct{})
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL returns the connection string of the server for the EventStoreDB
// client.
func (s *Server) URL() string { return "esdb://" + s.addr + "?tls=false" }

// Stop stops serving: connections close and subscriptions end. The log
// stays, for Restart.
func (s *Server) Stop() {
	s.srvMu.Lock()
	srv := s.srv
	s.srv = nil
	s.srvMu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart serves the same log again at the same address after Stop.
func (s *Server) Restart() error {
	if s.held != nil {
		s.held.reopen()
		s.serve(s.held)
		return nil
	}
	var ln net.Listener
	var err error
	// The port can stay busy for a moment after Stop.
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("restart: %w", err)
}

// DropSubscriptions ends every open subscription with codes.Unavailable, as
// a server does when it goes away; the connections stay.
func (s *Server) DropSubscriptions() {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// dropped returns the channel that DropSubscriptions closes next.
func (s *Server) dropped() <-chan struct{} {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.drop
}

// Events returns how many events the log holds, system events included.
func (s *Server) Events() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// recordSize is the room a record takes in the log: positions in $all are
// byte offsets, so they grow by more than one per event.
func recordSize(r *record) uint64 {
	return uint64(96 + len(r.stream) + len(r.typ) + len(r.data) + len(r.metadata))
}

// write appends events to a stream. s.mu must be held, or s not yet shared.
func (s *Server) write(stream string, events []*record) {
	first := uint64(len(s.streams[stream]))
	now := time.Now().UnixNano() / 100
	for i, r := range events {
		r.stream, r.revision, r.created, r.pos = stream, first+uint64(i), now, s.next
		s.next += recordSize(r)
		s.log = append(s.log, r)
		s.streams[stream] = append(s.streams[stream], r)
		s.remember(r)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// remember puts a committed event in the id cache.
func (s *Server) remember(r *record) {
	if _, ok := s.cache[r.id]; !ok && s.opts.IDCache > 0 {
		s.cached = append(s.cached, r.id)
		if len(s.cached) > s.opts.IDCache {
			delete(s.cache, s.cached[0])
			s.cached = s.cached[1:]
		}
	}
	s.cache[r.id] = r
}

// heldListener keeps a stopped server's port: gRPC closes the listener it
// serves on Stop, and closing this one only makes it refuse connections
// (each is closed at once) until Restart serves it again. Had the port been
// released, a parallel test's server could take it between Stop and
// Restart, and this server's clients would reach that one.
type heldListener struct {
	net.Listener
	conns chan net.Conn

	mu   sync.Mutex
	done chan struct{} // closed when gRPC closes it; nil while refusing
}

func hold(ln net.Listener) *heldListener {
	l := &heldListener{Listener: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.loop()
	return l
}

// loop accepts every connection: it hands it to gRPC while served, and
// closes it while refusing.
func (l *heldListener) loop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return // released
		}
		l.mu.Lock()
		done := l.done
		l.mu.Unlock()
		if done == nil {
			c.Close()
			continue
		}
		select {
		case l.conns <- c:
		case <-done:
			c.Close()
		}
	}
}

func (l *heldListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	if done == nil {
		return nil, net.ErrClosed
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-done:
		return nil, net.ErrClosed
	}
}

// Close makes it refuse connections; the port stays held.
func (l *heldListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		close(l.done)
		l.done = nil
	}
	return nil
}

// reopen makes it hand connections to the next gRPC server.
func (l *heldListener) reopen() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		l.done = make(chan struct{})
	}
}

// release closes the port.
func (l *heldListener) release() {
	if l != nil {
		l.Close()
		l.Listener.Close()
	}
}
