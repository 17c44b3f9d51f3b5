// Package esdb is the EventStoreDB event store: commands.EventStore on the
// official gRPC client, github.com/EventStore/EventStore-Client-Go/v4.
//
// How the engine's terms map onto EventStoreDB's:
//
//   - A stream's version is its revision + 1: the first event of a stream
//     has version 1 and revision 0. domain.NoStream expects no_stream,
//     domain.AnyVersion expects any, version n expects revision n-1.
//   - A domain.Position is an event's position in $all, {commit, prepare},
//     which EventStoreDB orders the same way. Every event appended through
//     the gRPC API commits itself, so its commit and prepare positions are
//     both its log position: positions are byte offsets in the log, not
//     counts of events.
//   - The global log is $all without EventStoreDB's own events (types that
//     start with "$"); with a Namespace, the streams of that namespace.
//     Follow filters on the server. ReadAll and Head filter the same way on
//     the client: the Go client has no filtered read of $all.
//   - A wrong expected version is a *commands.ConflictError, as with every
//     adapter.
//
// Idempotency by event id. EventStoreDB recognises a retried write of the
// same event ids at the revision the first write expected (exactly, from its
// index) and, for expected revision any, while the ids are in its cache of
// recently committed events; it answers with the original revision and, on
// recent servers, the original position. The Store adds what the contract of
// commands.EventStore asks beyond that:
//
//   - it remembers where its own recent appends landed (Options.RecentIDs),
//     answers a retry of one of them with the original result whatever its
//     expected version, and refuses, as a conflict, an append that repeats
//     some of those ids, or one id twice;
//   - when the server refuses an expected version, it looks for the ids in
//     the stream after that version, where a write whose answer was lost
//     would be, and answers with the original result if they are there in
//     order;
//   - when the server's answer has no position (older servers answer a
//     recognised retry so), it reads the position back from the stream.
//
// What it cannot recognise is an append, from another Store, of ids already
// in the stream at or before its expected version, or in another stream:
// EventStoreDB keeps no index by event id. The engine retries an append only
// with the expected version it first used, which the server recognises.
package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
)

var _ commands.EventStore = (*Store)(nil)

const (
	// followBatch is the largest batch Follow hands to its handler.
	followBatch = 1000
	// readPage is the most events one read of $all asks for.
	readPage = 4096
	// headPage is how many events Head reads back at a time.
	headPage = 64
	// closeGrace bounds how long Close waits for calls into the client.
	closeGrace = 10 * time.Second
)

// Options tune a Store.
type Options struct {
	// Namespace prefixes the name of every stream the Store writes and
	// reads, and narrows its global log to those streams, so that engines
	// (or tests) sharing one server each see only their own events. Follow
	// filters on the server; ReadAll and Head read past the other streams'
	// events. It must not start with "$". Empty: the whole server, less its
	// system events.
	Namespace string
	// RecentIDs is how many event ids of its own appends the Store
	// remembers to recognise retries: zero means DefaultRecentIDs, a
	// negative number none.
	RecentIDs int
	// Log gets Follow's resubscriptions and, at debug level, the client's
	// own lines. Nil discards them.
	Log *slog.Logger
}

// Store is the EventStoreDB event store. It is safe for concurrent use.
type Store struct {
	ns     string
	recent *recentIDs
	log    *slog.Logger
	cfg    *esdbclient.Configuration // nil when the caller owns the client

	mu     sync.Mutex
	cli    *esdbclient.Client
	closed bool
	calls  int           // calls into the client that have not returned
	idle   chan struct{} // closed when calls drops to 0 after Close
}

// Open connects to the EventStoreDB server that the connection string url
// names (esdb://localhost:2113?tls=false for an insecure single node),
// checks that it answers, and returns a Store that owns its client: Close
// closes it.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := esdbclient.ParseConnectionString(url)
	if err != nil {
		return nil, fmt.Errorf("esdb: connection string: %w", err)
	}
	s, err := newStore(o)
	if err != nil {
		return nil, err
	}
	cfg.Logger = clientLogger(s.log)
	s.cfg = cfg
	if s.cli, err = esdbclient.NewClient(cfg); err != nil {
		return nil, fmt.Errorf("esdb: %w", err)
	}
	if _, err := s.readAllPage(ctx, esdbclient.ReadAllOptions{Direction: esdbclient.Backwards, From: esdbclient.End{}}, 1); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("esdb: the server does not answer: %w", err)
	}
	return s, nil
}

// NewStore returns a Store on a client the caller owns and closes.
func NewStore(client *esdbclient.Client, o Options) (*Store, error) {
	s, err := newStore(o)
	if err != nil {
		return nil, err
	}
	s.cli = client
	return s, nil
}

func newStore(o Options) (*Store, error) {
	if strings.HasPrefix(o.Namespace, "$") {
		return nil, fmt.Errorf("esdb: namespace %q: names that start with $ are EventStoreDB's own", o.Namespace)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	n := o.RecentIDs
	if n == 0 {
		n = DefaultRecentIDs
	}
	return &Store{ns: o.Namespace, recent: newRecentIDs(n), log: o.Log}, nil
}

// clientLogger sends the client's lines to log at debug level: the client
// logs ordinary ends of reads as errors, and every failure it logs also
// comes back to the Store as an error.
func clientLogger(log *slog.Logger) esdbclient.LoggingFunc {
	return func(level esdbclient.LogLevel, format string, args ...any) {
		log.Debug("esdb client: "+fmt.Sprintf(format, args...), "level", level)
	}
}

// Close closes the client if the Store owns it, once the calls into it have
// returned (waiting at most closeGrace for them: the client must not close
// under a call). Calls after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var idle chan struct{}
	if s.calls > 0 {
		idle = make(chan struct{})
		s.idle = idle
	}
	cli, owned := s.cli, s.cfg != nil
	s.mu.Unlock()
	if !owned {
		return nil
	}
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(closeGrace):
			s.log.Warn("esdb: calls into the client still run; leaving it open")
			return nil
		}
	}
	return cli.Close()
}

// errClosed is the error of a call after Close.
var errClosed = errors.New("esdb: the store is closed")

// enter registers a call into the client and returns the client; leave ends
// the call. Close waits for the calls to end.
func (s *Store) enter() (*esdbclient.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.calls++
	return s.cli, nil
}

func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls--; s.calls == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// renew replaces a client that closed itself: the client gives up for good
// when it fails to discover the server (after MaxDiscoverAttempts), for
// instance while the server restarts. Only a Store that owns its client can.
func (s *Store) renew(old *esdbclient.Client, err error) {
	if s.cfg == nil || code(err) != esdbclient.ErrorCodeConnectionClosed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cli != old {
		return
	}
	cli, err := esdbclient.NewClient(s.cfg)
	if err != nil {
		return
	}
	// old is not closed: its connection loop has stopped already, and
	// closing it could panic a call still blocked on it.
	s.cli = cli
	s.log.Warn("esdb: the client gave up on the server; connecting again")
}

// await runs op in a call into the client and returns what op returns, or
// ctx's error as soon as ctx ends: the client waits for a connection without
// watching any context. When op returns after await gave up, abandon (if
// not nil) gets its result. The caller must be in a call itself (enter).
func await[T any](ctx context.Context, s *Store, op func() (T, error), abandon func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	done := make(chan result)
	go func() {
		defer s.leave()
		v, err := op()
		select {
		case done <- result{v, err}:
		case <-ctx.Done():
			if err == nil && abandon != nil {
				abandon(v)
			}
		}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Append adds events to the end of a stream; see commands.EventStore and,
// for retries, the package comment.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	fail := func(err error) (commands.AppendResult, error) {
		return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected, Err: err}
	}
	if expected < domain.AnyVersion {
		return fail(fmt.Errorf("invalid expected version %d", expected))
	}
	if len(events) == 0 {
		return s.appendNothing(ctx, stream, expected)
	}
	data := make([]esdbclient.EventData, len(events))
	for i, e := range events {
		switch {
		case e.ID == uuid.Nil:
			return fail(fmt.Errorf("event %d has no id", i))
		case e.Type == "" || strings.HasPrefix(e.Type, "$"):
			return fail(fmt.Errorf("event %s: type %q: want a name that does not start with $", e.ID, e.Type))
		case !json.Valid(e.Data):
			return fail(fmt.Errorf("event %s: data is not valid JSON", e.ID))
		case len(e.Metadata) > 0 && !json.Valid(e.Metadata):
			return fail(fmt.Errorf("event %s: metadata is not valid JSON", e.ID))
		}
		md := e.Metadata
		if len(md) == 0 {
			md = []byte("{}")
		}
		data[i] = esdbclient.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdbclient.ContentTypeJson, Data: e.Data, Metadata: md}
	}
	if res, retry, conflict := s.recent.decide(stream, events); retry {
		return s.withPosition(ctx, stream, expected, res)
	} else if conflict {
		return commands.AppendResult{}, s.conflict(ctx, stream, expected)
	}

	cli, err := s.enter()
	if err != nil {
		return fail(err)
	}
	defer s.leave()
	wr, err := await(ctx, s, func() (*esdbclient.WriteResult, error) {
		return cli.AppendToStream(ctx, s.ns+stream, esdbclient.AppendToStreamOptions{ExpectedRevision: revision(expected)}, data...)
	}, nil)
	if code(err) == esdbclient.ErrorCodeWrongExpectedVersion {
		return s.refused(ctx, stream, expected, events)
	}
	if err != nil && ctx.Err() != nil {
		return fail(ctx.Err())
	}
	if err != nil {
		s.renew(cli, err)
		return fail(err)
	}
	res := commands.AppendResult{
		Version:  int64(wr.NextExpectedVersion) + 1,
		Position: domain.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition},
	}
	s.recent.add(stream, res, events)
	return s.withPosition(ctx, stream, expected, res)
}

// revision maps an expected version onto EventStoreDB's expected revision.
func revision(expected int64) esdbclient.ExpectedRevision {
	switch expected {
	case domain.AnyVersion:
		return esdbclient.Any{}
	case domain.NoStream:
		return esdbclient.NoStream{}
	}
	return esdbclient.Revision(uint64(expected - 1))
}

// withPosition fills in the position of a result that lacks it, from the
// stream: the server leaves it out of some answers.
func (s *Store) withPosition(ctx context.Context, stream string, expected int64, res commands.AppendResult) (commands.AppendResult, error) {
	if !res.Position.IsZero() {
		return res, nil
	}
	recs, err := s.readStream(ctx, stream, esdbclient.ReadStreamOptions{From: esdbclient.Revision(uint64(res.Version - 1))}, 1)
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("event %d of the stream is not there", res.Version)
	}
	if err != nil {
		return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected,
			Err: fmt.Errorf("the append landed, but its position could not be read: %w", err)}
	}
	res.Position = recs[0].Position
	return res, nil
}

// appendNothing checks the expected version of an append of no events.
func (s *Store) appendNothing(ctx context.Context, stream string, expected int64) (commands.AppendResult, error) {
	current, pos, err := s.last(ctx, stream)
	if err != nil {
		return commands.AppendResult{}, &commands.StoreError{Op: "append", Stream: stream, Version: expected, Err: err}
	}
	if expected != domain.AnyVersion && expected != current {
		return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
	}
	return commands.AppendResult{Version: current, Position: pos}, nil
}

// refused answers an append the server refused for its expected version. It
// is the retry of an earlier append when its ids follow that version in the
// stream, in order; otherwise it conflicts.
func (s *Store) refused(ctx context.Context, stream string, expected int64, events []domain.EventData) (commands.AppendResult, error) {
	from := expected + 1
	if expected == domain.AnyVersion {
		from = 1
	}
	recs, err := s.ReadStream(ctx, stream, from)
	if err != nil {
		return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: -1}
	}
	for i, rec := range recs {
		if rec.ID != events[0].ID {
			continue
		}
		if i+len(events) > len(recs) {
			break
		}
		same := true
		for k, e := range events {
			same = same && recs[i+k].ID == e.ID
		}
		if !same {
			break
		}
		last := recs[i+len(events)-1]
		res := commands.AppendResult{Version: last.Version, Position: last.Position}
		s.recent.add(stream, res, events)
		return res, nil
	}
	if len(recs) > 0 {
		return commands.AppendResult{}, &commands.ConflictError{Stream: stream, Expected: expected, Actual: recs[len(recs)-1].Version}
	}
	return commands.AppendResult{}, s.conflict(ctx, stream, expected)
}

// conflict returns the conflict of an append with the stream's current
// version, or -1 if that cannot be read.
func (s *Store) conflict(ctx context.Context, stream string, expected int64) error {
	current, _, err := s.last(ctx, stream)
	if err != nil {
		current = -1
	}
	return &commands.ConflictError{Stream: stream, Expected: expected, Actual: current}
}

// last returns the version of a stream and the position of its last event:
// 0 and domain.Start when it does not exist.
func (s *Store) last(ctx context.Context, stream string) (int64, domain.Position, error) {
	recs, err := s.readStream(ctx, stream, esdbclient.ReadStreamOptions{Direction: esdbclient.Backwards, From: esdbclient.End{}}, 1)
	if err != nil || len(recs) == 0 {
		return 0, domain.Start, err
	}
	return recs[0].Version, recs[0].Position, nil
}

// ReadStream returns the events of a stream with version >= from; see
// commands.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64) ([]domain.RecordedEvent, error) {
	var start esdbclient.StreamPosition = esdbclient.Start{}
	if from > 1 {
		start = esdbclient.Revision(uint64(from - 1))
	}
	recs, err := s.readStream(ctx, stream, esdbclient.ReadStreamOptions{From: start}, math.MaxInt64)
	if err != nil {
		return nil, &commands.StoreError{Op: "read stream", Stream: stream, Version: from, Err: err}
	}
	return recs, nil
}

// readStream reads up to count events of a stream; a stream that does not
// exist has none.
func (s *Store) readStream(ctx context.Context, stream string, opts esdbclient.ReadStreamOptions, count uint64) ([]domain.RecordedEvent, error) {
	cli, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer s.leave()
	rs, err := await(ctx, s, func() (*esdbclient.ReadStream, error) {
		return cli.ReadStream(ctx, s.ns+stream, opts, count)
	}, func(rs *esdbclient.ReadStream) { rs.Close() })
	if err != nil {
		s.renew(cli, err)
		return nil, err
	}
	defer rs.Close()
	var out []domain.RecordedEvent
	for {
		ev, err := rs.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case code(err) == esdbclient.ErrorCodeResourceNotFound:
			return nil, nil
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			s.renew(cli, err)
			return nil, err
		}
		rec := ev.OriginalEvent()
		out = append(out, s.record(rec, streamPosition(rec.Position)))
	}
}

// streamPosition is the position in $all of an event read from a stream.
// For an event that committed itself (every event appended through gRPC)
// that is its log position, twice; recent servers say so, older ones send
// its log position as commit and the position of its write's first event as
// prepare. The commit position is right in both cases. MaxUint64 means that
// the server did not say.
func streamPosition(p esdbclient.Position) domain.Position {
	switch {
	case p.Commit != math.MaxUint64:
		return domain.Position{Commit: p.Commit, Prepare: p.Commit}
	case p.Prepare != math.MaxUint64:
		return domain.Position{Commit: p.Prepare, Prepare: p.Prepare}
	}
	return domain.Position{}
}

// ReadAll returns up to limit events of the global log after position after,
// in log order; see commands.EventStore.
func (s *Store) ReadAll(ctx context.Context, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []domain.RecordedEvent
	from := after
	for {
		// A read of $all from a position includes the event at it.
		page := min(limit-len(out), readPage) + 1
		raw, err := s.readAllPage(ctx, esdbclient.ReadAllOptions{From: allPosition(from)}, uint64(page))
		if err != nil {
			return nil, &commands.StoreError{Op: "read all", Err: err}
		}
		for _, ev := range raw {
			p := domain.Position(ev.Position)
			if !from.Less(p) {
				continue
			}
			from = p
			if s.include(ev) {
				out = append(out, s.record(ev, p))
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(raw) < page {
			return out, nil
		}
	}
}

// readAllPage reads up to count events of $all, system events included.
func (s *Store) readAllPage(ctx context.Context, opts esdbclient.ReadAllOptions, count uint64) ([]*esdbclient.RecordedEvent, error) {
	cli, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer s.leave()
	rs, err := await(ctx, s, func() (*esdbclient.ReadStream, error) {
		return cli.ReadAll(ctx, opts, count)
	}, func(rs *esdbclient.ReadStream) { rs.Close() })
	if err != nil {
		s.renew(cli, err)
		return nil, err
	}
	defer rs.Close()
	var out []*esdbclient.RecordedEvent
	for {
		ev, err := rs.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			s.renew(cli, err)
			return nil, err
		}
		out = append(out, ev.OriginalEvent())
	}
}

func allPosition(p domain.Position) esdbclient.AllPosition {
	if p.IsZero() {
		return esdbclient.Start{}
	}
	return esdbclient.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// Head returns the position of the last event of the global log, or
// domain.Start when it has none.
func (s *Store) Head(ctx context.Context) (domain.Position, error) {
	var from esdbclient.AllPosition = esdbclient.End{}
	var before *domain.Position
	for {
		raw, err := s.readAllPage(ctx, esdbclient.ReadAllOptions{Direction: esdbclient.Backwards, From: from}, headPage)
		if err != nil {
			return domain.Position{}, &commands.StoreError{Op: "head", Err: err}
		}
		for _, ev := range raw {
			p := domain.Position(ev.Position)
			if before != nil && !p.Less(*before) {
				continue
			}
			if s.include(ev) {
				return p, nil
			}
			before = &p
		}
		if len(raw) < headPage || before == nil {
			return domain.Start, nil
		}
		from = esdbclient.Position{Commit: before.Commit, Prepare: before.Prepare}
	}
}

// include reports whether an event of $all belongs to the Store's log.
func (s *Store) include(ev *esdbclient.RecordedEvent) bool {
	if s.ns != "" {
		return strings.HasPrefix(ev.StreamID, s.ns)
	}
	return !strings.HasPrefix(ev.EventType, "$")
}

// filter is include, as a server-side filter of $all.
func (s *Store) filter() *esdbclient.SubscriptionFilter {
	if s.ns != "" {
		return &esdbclient.SubscriptionFilter{Type: esdbclient.StreamFilterType, Prefixes: []string{s.ns}}
	}
	return esdbclient.ExcludeSystemEventsFilter()
}

func (s *Store) record(ev *esdbclient.RecordedEvent, pos domain.Position) domain.RecordedEvent {
	return domain.RecordedEvent{
		ID:         ev.EventID,
		StreamID:   strings.TrimPrefix(ev.StreamID, s.ns),
		Version:    int64(ev.EventNumber) + 1,
		Position:   pos,
		Type:       ev.EventType,
		Data:       ev.Data,
		Metadata:   ev.UserMetadata,
		RecordedAt: ev.CreatedDate,
	}
}

// Follow calls handle with every event after position after, as they are
// committed; see commands.EventStore. It follows a catch-up subscription to
// $all, filtered on the server, and hands over in one batch what arrived
// while the handler was busy. When the subscription ends (the server went
// away, say) it subscribes again, with backoff, after the last event it
// delivered.
func (s *Store) Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error {
	// An attempt that delivered a batch made progress.
	return follow.Reconnect(ctx, func() (bool, error) { return s.follow(ctx, &after, handle) }, transient,
		func(err error, in time.Duration) {
			s.log.Warn("esdb: the subscription to $all ended; subscribing again", "after", after.String(), "in", in.String(), "err", err)
		})
}

// follow follows one subscription until it ends, and advances after.
// delivered reports that it handed over at least one batch.
func (s *Store) follow(ctx context.Context, after *domain.Position, handle func(context.Context, []domain.RecordedEvent) error) (delivered bool, err error) {
	cli, err := s.enter()
	if err != nil {
		return false, err
	}
	defer s.leave()
	sub, err := await(ctx, s, func() (*esdbclient.Subscription, error) {
		return cli.SubscribeToAll(ctx, esdbclient.SubscribeToAllOptions{From: allPosition(*after), Filter: s.filter()})
	}, func(sub *esdbclient.Subscription) { _ = sub.Close() })
	if err != nil {
		s.renew(cli, err)
		return false, err
	}
	defer sub.Close()
	stop := make(chan struct{})
	defer close(stop)
	events := readAhead(sub, stop)
	b := subBatch{s: s, last: *after}
	for {
		if err := ctx.Err(); err != nil {
			return delivered, err
		}
		select {
		case <-ctx.Done():
			return delivered, ctx.Err()
		case ev := <-events:
			b.take(ev)
		}
		b.drain(events)
		if len(b.events) > 0 {
			if err := handle(ctx, b.events); err != nil {
				return delivered, follow.HandlerError{Err: err}
			}
			*after, delivered, b.events = b.events[len(b.events)-1].Position, true, nil
		}
		if b.dropped != nil {
			return delivered, b.dropped
		}
	}
}

// readAhead receives from sub, until it drops or stop is closed, into the
// channel it returns: the reader reads ahead while the handler works.
func readAhead(sub *esdbclient.Subscription, stop <-chan struct{}) <-chan *esdbclient.SubscriptionEvent {
	events := make(chan *esdbclient.SubscriptionEvent, followBatch)
	go func() {
		for {
			ev := sub.Recv()
			select {
			case events <- ev:
			case <-stop:
				return
			}
			if ev.SubscriptionDropped != nil {
				return
			}
		}
	}()
	return events
}

// subBatch gathers the next batch follow hands over: the events of the
// subscription after last that belong to the log, and why it dropped.
type subBatch struct {
	s       *Store
	last    domain.Position
	events  []domain.RecordedEvent
	dropped error
}

// take adds what the subscription sent.
func (b *subBatch) take(ev *esdbclient.SubscriptionEvent) {
	switch {
	case ev.SubscriptionDropped != nil:
		b.dropped = ev.SubscriptionDropped.Error
		if b.dropped == nil {
			b.dropped = errors.New("subscription dropped")
		}
	case ev.EventAppeared != nil:
		rec := ev.EventAppeared.OriginalEvent()
		p := domain.Position(rec.Position)
		if !b.last.Less(p) || !b.s.include(rec) {
			return
		}
		b.last = p
		b.events = append(b.events, b.s.record(rec, p))
	}
	// Checkpoints, caught-up and fell-behind notices carry no events.
}

// drain takes what has arrived already, up to a full batch or a drop.
func (b *subBatch) drain(events <-chan *esdbclient.SubscriptionEvent) {
	for len(b.events) < followBatch && b.dropped == nil {
		select {
		case ev := <-events:
			b.take(ev)
		default:
			return
		}
	}
}

// code returns the client's error code of err, or -1.
func code(err error) esdbclient.ErrorCode {
	var e *esdbclient.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

// transient reports whether a subscription that ended with err may work
// again.
func transient(err error) bool {
	if errors.Is(err, errClosed) {
		return false
	}
	switch code(err) {
	case esdbclient.ErrorCodeAccessDenied, esdbclient.ErrorCodeUnauthenticated,
		esdbclient.ErrorCodeUnsupportedFeature, esdbclient.ErrorCodeParsing:
		return false
	}
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented, codes.InvalidArgument:
		return false
	}
	return true
}
