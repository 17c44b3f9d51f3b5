package esdbtest

import (
	"errors"
	"io"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Expected versions as the real server encodes them; exact revisions are 0
// and up.
const (
	expectAny          int64 = -2
	expectNoStream     int64 = -1
	expectStreamExists int64 = -4
)

// Append appends the proposed events of one request to a stream, atomically,
// if the stream is at the expected revision; see the package comment.
func (s *Server) Append(srv streams.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "append: the first message must be the options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	if stream == "" {
		return status.Error(codes.InvalidArgument, "append: no stream name")
	}
	var expected int64
	switch o := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		if o.Revision > math.MaxInt64 {
			return status.Errorf(codes.InvalidArgument, "append: revision %d out of range", o.Revision)
		}
		expected = int64(o.Revision)
	case *streams.AppendReq_Options_NoStream:
		expected = expectNoStream
	case *streams.AppendReq_Options_Any:
		expected = expectAny
	case *streams.AppendReq_Options_StreamExists:
		expected = expectStreamExists
	default:
		return status.Error(codes.InvalidArgument, "append: no expected stream revision")
	}
	var events []*record
	for {
		msg, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := msg.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "append: options sent twice")
		}
		r, err := proposed(pm)
		if err != nil {
			return err
		}
		events = append(events, r)
	}
	return srv.SendAndClose(s.append(stream, expected, events))
}

// proposed checks a proposed message the way the real server does: type
// and content-type are required.
func proposed(pm *streams.AppendReq_ProposedMessage) (*record, error) {
	typ, ok := pm.GetMetadata()["type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "required metadata property missing: type")
	}
	ct, ok := pm.GetMetadata()["content-type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "required metadata property missing: content-type")
	}
	id, err := uuidFromProto(pm.GetId())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "event id: %v", err)
	}
	return &record{id: id, typ: typ, contentType: ct, data: clone(pm.GetData()), metadata: clone(pm.GetCustomMetadata())}, nil
}

// decision is what an append comes to.
type decision int

const (
	write decision = iota
	wrongVersion
	idempotent
)

// append decides and, if it is to, writes an append.
func (s *Server) append(stream string, expected int64, events []*record) *streams.AppendResp {
	s.mu.Lock()
	defer s.mu.Unlock()
	current := int64(len(s.streams[stream])) - 1
	d, last := s.check(stream, expected, current, events)
	switch {
	case d == wrongVersion:
		return wrongExpectedVersion(expected, current)
	case d == idempotent:
		return success(int64(last.revision), last.pos, !s.opts.NoIdempotentPosition)
	case len(events) == 0:
		return success(current, 0, false)
	}
	s.write(stream, events)
	last = events[len(events)-1]
	return success(int64(last.revision), last.pos, true)
}

// check decides an append like the real server's commit check. For an
// idempotent append it also returns the last event of the original write.
// s.mu must be held.
func (s *Server) check(stream string, expected, current int64, events []*record) (decision, *record) {
	if expected == expectStreamExists && current < 0 {
		return wrongVersion, nil
	}
	if expected == expectAny || expected == expectStreamExists {
		// Idempotency rests on the cache of recently committed events.
		var last *record
		for i, e := range events {
			r, ok := s.cache[e.id]
			if !ok || r.stream != stream {
				if i == 0 {
					return write, nil
				}
				return wrongVersion, nil // partly written before: corrupted idempotency
			}
			last = r
		}
		if last == nil {
			return write, nil
		}
		return idempotent, last
	}
	if expected < current {
		// A write at a revision the stream has passed is idempotent when the
		// events after that revision are these very events.
		recs := s.streams[stream]
		n := expected
		for _, e := range events {
			n++
			if n > current || recs[n].id != e.id {
				return wrongVersion, nil
			}
		}
		if n == expected {
			return wrongVersion, nil // no events
		}
		return idempotent, recs[n]
	}
	if expected > current {
		return wrongVersion, nil
	}
	return write, nil
}

func success(revision int64, pos uint64, withPosition bool) *streams.AppendResp {
	ok := &streams.AppendResp_Success{}
	if revision < 0 {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(revision)}
	}
	if withPosition {
		ok.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{CommitPosition: pos, PreparePosition: pos}}
	} else {
		ok.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: ok}}
}

// wrongExpectedVersion fills both the current fields and those of servers
// before 20.6, as the real server does.
func wrongExpectedVersion(expected, current int64) *streams.AppendResp {
	w := &streams.AppendResp_WrongExpectedVersion{}
	empty := &shared.Empty{}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: empty}
	case expectStreamExists:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: empty}
	case expectNoStream:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
	default:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	if current < 0 {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: empty}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: empty}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

func uuidFromProto(id *shared.UUID) (uuid.UUID, error) {
	if st := id.GetStructured(); st != nil {
		var u uuid.UUID
		for i := range 8 {
			u[i] = byte(uint64(st.GetMostSignificantBits()) >> (56 - 8*i))
			u[8+i] = byte(uint64(st.GetLeastSignificantBits()) >> (56 - 8*i))
		}
		return u, nil
	}
	if str := id.GetString_(); str != "" {
		return uuid.Parse(str)
	}
	return uuid.Nil, errors.New("missing")
}

func uuidToProto(u uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: u.String()}}
	}
	var most, least uint64
	for i := range 8 {
		most = most<<8 | uint64(u[i])
		least = least<<8 | uint64(u[8+i])
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits: int64(most), LeastSignificantBits: int64(least)}}}
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
