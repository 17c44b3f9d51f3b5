package esdbtest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read reads a stream or $all, forwards or backwards, up to a count of
// events, or subscribes to one of them: it confirms, catches up, says so, and
// then sends events as they are appended.
func (s *Server) Read(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "read: no options")
	}
	f, err := newFilter(o.GetFilter())
	if err != nil {
		return err
	}
	r := &reader{s: s, srv: srv, filter: f, stringIDs: o.GetUuidOption().GetString_() != nil}
	backwards := o.GetReadDirection() == streams.ReadReq_Options_Backwards
	subscribe := o.GetSubscription() != nil
	if subscribe && backwards {
		return status.Error(codes.InvalidArgument, "read: subscriptions go forwards")
	}
	if !subscribe && o.GetCount() == 0 {
		return status.Error(codes.InvalidArgument, "read: count must be positive")
	}
	switch {
	case o.GetStream() != nil && subscribe:
		return r.subscribeStream(o.GetStream())
	case o.GetStream() != nil:
		return r.readStream(o.GetStream(), backwards, o.GetCount())
	case o.GetAll() != nil && subscribe:
		return r.subscribeAll(o.GetAll(), o.GetFilter())
	case o.GetAll() != nil:
		return r.readAll(o.GetAll(), backwards, o.GetCount())
	}
	return status.Error(codes.InvalidArgument, "read: neither a stream nor $all")
}

// reader answers one Read.
type reader struct {
	s         *Server
	srv       streams.Streams_ReadServer
	filter    *filter
	stringIDs bool
}

func (r *reader) readStream(o *streams.ReadReq_Options_StreamOptions, backwards bool, count uint64) error {
	name := string(o.GetStreamIdentifier().GetStreamName())
	r.s.mu.Lock()
	recs := r.s.streams[name]
	r.s.mu.Unlock()
	if len(recs) == 0 {
		return r.srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
	}
	last := uint64(len(recs) - 1)
	var from uint64
	switch {
	case o.GetEnd() != nil:
		from = last + 1
		if backwards {
			from = last
		}
	case o.GetStart() != nil:
		from = 0
	default:
		from = o.GetRevision()
	}
	if backwards {
		for i := int64(min(from, last)); i >= 0 && count > 0; i, count = i-1, count-1 {
			if err := r.send(recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for i := from; i <= last && count > 0; i, count = i+1, count-1 {
		if err := r.send(recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads $all. Forwards from a position it starts at that position;
// backwards from one it starts before it.
func (r *reader) readAll(o *streams.ReadReq_Options_AllOptions, backwards bool, count uint64) error {
	r.s.mu.Lock()
	log := r.s.log
	r.s.mu.Unlock()
	if backwards {
		end := len(log)
		if p := o.GetPosition(); p != nil {
			end = firstAtOrAfter(log, p.GetCommitPosition(), p.GetPreparePosition())
		} else if o.GetStart() != nil {
			end = 0
		}
		for i := end - 1; i >= 0 && count > 0; i-- {
			if sent, err := r.sendIf(log[i]); err != nil {
				return err
			} else if sent {
				count--
			}
		}
		return nil
	}
	from := 0
	if p := o.GetPosition(); p != nil {
		from = firstAtOrAfter(log, p.GetCommitPosition(), p.GetPreparePosition())
	} else if o.GetEnd() != nil {
		from = len(log)
	}
	for i := from; i < len(log) && count > 0; i++ {
		if sent, err := r.sendIf(log[i]); err != nil {
			return err
		} else if sent {
			count--
		}
	}
	return nil
}

// firstAtOrAfter returns the index of the first record of log at or after
// the position {commit, prepare}; every record has commit == prepare.
func firstAtOrAfter(log []*record, commit, prepare uint64) int {
	for i, rec := range log {
		if rec.pos > commit || rec.pos == commit && rec.pos >= prepare {
			return i
		}
	}
	return len(log)
}

func (r *reader) subscribeStream(o *streams.ReadReq_Options_StreamOptions) error {
	name := string(o.GetStreamIdentifier().GetStreamName())
	r.s.mu.Lock()
	next := 0
	switch {
	case o.GetEnd() != nil:
		next = len(r.s.streams[name])
	case o.GetStart() == nil:
		next = int(o.GetRevision()) + 1
	}
	r.s.mu.Unlock()
	return r.follow(func() []*record {
		recs := r.s.streams[name]
		if next >= len(recs) {
			return nil
		}
		batch := recs[next:]
		next = len(recs)
		return batch
	}, 0)
}

// subscribeAll follows $all from after a position. A filtered subscription
// also reports checkpoints: every checkpointIntervalMultiplier × window
// records it looked at, and when it catches up.
func (r *reader) subscribeAll(o *streams.ReadReq_Options_AllOptions, fo *streams.ReadReq_Options_FilterOptions) error {
	r.s.mu.Lock()
	next := 0
	switch p := o.GetPosition(); {
	case p != nil:
		next = firstAtOrAfter(r.s.log, p.GetCommitPosition(), p.GetPreparePosition())
		if next < len(r.s.log) && r.s.log[next].pos == p.GetCommitPosition() && r.s.log[next].pos == p.GetPreparePosition() {
			next++ // a subscription starts after its position
		}
	case o.GetEnd() != nil:
		next = len(r.s.log)
	}
	r.s.mu.Unlock()
	checkpointEvery := 0
	if fo != nil {
		window := int(fo.GetMax())
		if window == 0 {
			window = 32
		}
		checkpointEvery = max(int(fo.GetCheckpointIntervalMultiplier()), 1) * window
	}
	return r.follow(func() []*record {
		if next >= len(r.s.log) {
			return nil
		}
		batch := r.s.log[next:]
		next = len(r.s.log)
		return batch
	}, checkpointEvery)
}

// follow confirms a subscription, then sends what more returns (called with
// s.mu held) until the client goes away or the subscriptions are dropped.
func (r *reader) follow(more func() []*record, checkpointEvery int) error {
	ctx := r.srv.Context()
	drop := r.s.dropped()
	err := r.srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString()}}})
	if err != nil {
		return err
	}
	caughtUp, looked, checkpointed := false, 0, uint64(0)
	for {
		r.s.mu.Lock()
		batch, changed, end := more(), r.s.changed, r.s.next
		r.s.mu.Unlock()
		for _, rec := range batch {
			if _, err := r.sendIf(rec); err != nil {
				return err
			}
			if looked++; checkpointEvery > 0 && looked%checkpointEvery == 0 {
				checkpointed = rec.pos + recordSize(rec)
				if err := r.checkpoint(checkpointed); err != nil {
					return err
				}
			}
		}
		if len(batch) == 0 && !caughtUp {
			caughtUp = true
			if checkpointEvery > 0 && checkpointed != end {
				if err := r.checkpoint(end); err != nil {
					return err
				}
			}
			if err := r.srv.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-drop:
			return status.Error(codes.Unavailable, "subscription dropped: the server is going away")
		case <-changed:
		}
	}
}

// checkpoint reports that the subscription looked at every record before
// pos. Like the real server it sends the position to read next, {pos, 0}.
func (r *reader) checkpoint(pos uint64) error {
	return r.srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{
		CommitPosition: pos}}})
}

// sendIf sends rec if it passes the filter.
func (r *reader) sendIf(rec *record) (bool, error) {
	if !r.filter.allows(rec) {
		return false, nil
	}
	return true, r.send(rec)
}

// send sends an event with its position in $all, as the real server does
// for every event that committed itself (all events appended through gRPC).
func (r *reader) send(rec *record) error {
	return r.srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               uuidToProto(rec.id, r.stringIDs),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(rec.stream)},
			StreamRevision:   rec.revision,
			CommitPosition:   rec.pos,
			PreparePosition:  rec.pos,
			Metadata: map[string]string{
				"type":         rec.typ,
				"content-type": rec.contentType,
				"created":      strconv.FormatInt(rec.created, 10),
			},
			CustomMetadata: rec.metadata,
			Data:           rec.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: rec.pos},
	}}})
}

// filter is a server-side filter of $all, on event types or stream names, by
// regular expression or by prefixes. A nil filter allows everything.
type filter struct {
	onStream bool
	re       *regexp.Regexp
	prefixes []string
}

func newFilter(o *streams.ReadReq_Options_FilterOptions) (*filter, error) {
	if o == nil {
		return nil, nil
	}
	expr, onStream := o.GetEventType(), false
	if o.GetStreamIdentifier() != nil {
		expr, onStream = o.GetStreamIdentifier(), true
	}
	if expr == nil {
		return nil, status.Error(codes.InvalidArgument, "filter: neither on event types nor on stream names")
	}
	f := &filter{onStream: onStream, prefixes: expr.GetPrefix()}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("filter: %v", err))
		}
		f.re = re
	}
	return f, nil
}

func (f *filter) allows(rec *record) bool {
	if f == nil {
		return true
	}
	s := rec.typ
	if f.onStream {
		s = rec.stream
	}
	if f.re != nil {
		return f.re.MatchString(s)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
