package esdbtest_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ticketing/ticketing/infra/esdb/esdbtest"
)

// The server is checked at the level of the protocol, with the generated
// client: the esdb package's tests check it through the EventStoreDB client.

func dial(t *testing.T, srv *esdbtest.Server) streams.StreamsClient {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return streams.NewStreamsClient(conn)
}

var empty = &shared.Empty{}

func anyRevision() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: empty}}
}

func noStream() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_NoStream{NoStream: empty}}
}

func streamExists() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_StreamExists{StreamExists: empty}}
}

func revision(r uint64) *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_Revision{Revision: r}}
}

func appendTo(t *testing.T, c streams.StreamsClient, stream string, o *streams.AppendReq_Options, ids ...uuid.UUID) (*streams.AppendResp, error) {
	t.Helper()
	a, err := c.Append(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	o.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(stream)}
	if err := a.Send(&streams.AppendReq{Content: &streams.AppendReq_Options_{Options: o}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		err := a.Send(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
			Id:       &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}},
			Metadata: map[string]string{"type": "TestHappened", "content-type": "application/json"},
			Data:     []byte(`{}`),
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return a.CloseAndRecv()
}

// try appends and returns its outcome.
func try(t *testing.T, c streams.StreamsClient, stream string, o *streams.AppendReq_Options, ids ...uuid.UUID) (string, uint64) {
	t.Helper()
	resp, err := appendTo(t, c, stream, o, ids...)
	return outcome(t, resp, err)
}

// outcome is an append's result in brief: "ok r@p", "ok r", or
// "wrong current=c".
func outcome(t *testing.T, resp *streams.AppendResp, err error) (string, uint64) {
	t.Helper()
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if w := resp.GetWrongExpectedVersion(); w != nil {
		if w.GetCurrentNoStream() != nil {
			return "wrong current=none", 0
		}
		return "wrong current=" + itoa(w.GetCurrentRevision()), 0
	}
	ok := resp.GetSuccess()
	p := ok.GetPosition()
	if p == nil {
		return "ok " + itoa(ok.GetCurrentRevision()) + " without position", 0
	}
	if p.GetCommitPosition() != p.GetPreparePosition() {
		t.Errorf("position %d/%d: want commit == prepare", p.GetCommitPosition(), p.GetPreparePosition())
	}
	return "ok " + itoa(ok.GetCurrentRevision()), p.GetCommitPosition()
}

func itoa(n uint64) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

func TestServer_Append(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	c := dial(t, srv)
	a, b, x := uuid.New(), uuid.New(), uuid.New()
	got, first := try(t, c, "s", noStream(), a, b)
	if got != "ok 1" {
		t.Fatalf("first append: %s", got)
	}
	for _, tc := range []struct {
		name    string
		stream  string
		o       *streams.AppendReq_Options
		ids     []uuid.UUID
		want    string
		samePos bool // the position is that of the original write
	}{
		{"no_stream on an existing stream", "s", noStream(), []uuid.UUID{uuid.New()}, "wrong current=1", false},
		{"stream_exists on a missing stream", "t", streamExists(), []uuid.UUID{uuid.New()}, "wrong current=none", false},
		{"revision ahead of the stream", "s", revision(5), []uuid.UUID{uuid.New()}, "wrong current=1", false},
		{"revision on a missing stream", "u", revision(0), []uuid.UUID{uuid.New()}, "wrong current=none", false},
		{"retry at the original revision", "s", noStream(), []uuid.UUID{a, b}, "ok 1", true},
		{"retry with any", "s", anyRevision(), []uuid.UUID{a, b}, "ok 1", true},
		{"retry with stream_exists", "s", streamExists(), []uuid.UUID{a, b}, "ok 1", true},
		{"retry whose ids differ after the first", "s", noStream(), []uuid.UUID{a, x}, "wrong current=1", false},
		{"any whose first id was written but not the next", "s", anyRevision(), []uuid.UUID{a, x}, "wrong current=1", false},
		{"revision at the end", "s", revision(1), []uuid.UUID{x}, "ok 2", false},
		{"any with a new id", "s", anyRevision(), []uuid.UUID{uuid.New()}, "ok 3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, pos := try(t, c, tc.stream, tc.o, tc.ids...)
			if got != tc.want {
				t.Errorf("append = %s, want %s", got, tc.want)
			}
			if tc.samePos && pos != first {
				t.Errorf("position = %d, want the original %d", pos, first)
			}
		})
	}
	t.Run("positions grow by more than one", func(t *testing.T) {
		_, p1 := try(t, c, "v", noStream(), uuid.New())
		_, p2 := try(t, c, "v", revision(0), uuid.New())
		if p2 <= p1+1 {
			t.Errorf("positions %d then %d, want a gap", p1, p2)
		}
	})
	t.Run("an event without a type is refused", func(t *testing.T) {
		ap, err := c.Append(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_ = ap.Send(&streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("w")}, ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: empty}}}})
		_ = ap.Send(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
			Id: &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}}, Metadata: map[string]string{"content-type": "application/json"}}}})
		if _, err := ap.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Append = %v, want InvalidArgument", err)
		}
	})
}

func TestServer_AppendOptions(t *testing.T) {
	t.Parallel()
	t.Run("a small id cache forgets: any then writes again", func(t *testing.T) {
		t.Parallel()
		c := dial(t, esdbtest.Start(t, esdbtest.Options{IDCache: 1}))
		a := uuid.New()
		try(t, c, "s", anyRevision(), a)
		try(t, c, "s", anyRevision(), uuid.New())
		if got, _ := try(t, c, "s", anyRevision(), a); got != "ok 2" {
			t.Errorf("append = %s, want ok 2 (a duplicate)", got)
		}
		// At the original revision the server still knows.
		if got, _ := try(t, c, "s", noStream(), a); got != "ok 0" {
			t.Errorf("append = %s, want ok 0", got)
		}
	})
	t.Run("idempotent appends without a position", func(t *testing.T) {
		t.Parallel()
		c := dial(t, esdbtest.Start(t, esdbtest.Options{NoIdempotentPosition: true}))
		a := uuid.New()
		try(t, c, "s", noStream(), a)
		if got, _ := try(t, c, "s", noStream(), a); got != "ok 0 without position" {
			t.Errorf("append = %s, want ok 0 without position", got)
		}
	})
}

// read collects what a read sends, up to n messages for a subscription.
func read(t *testing.T, c streams.StreamsClient, o *streams.ReadReq_Options, n int) ([]*streams.ReadResp, error) {
	t.Helper()
	o.UuidOption = &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_Structured{Structured: empty}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	r, err := c.Read(ctx, &streams.ReadReq{Options: o})
	if err != nil {
		return nil, err
	}
	var out []*streams.ReadResp
	for n < 0 || len(out) < n {
		m, err := r.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

func count(n uint64) *streams.ReadReq_Options_Count { return &streams.ReadReq_Options_Count{Count: n} }

func allFrom(commit, prepare uint64) *streams.ReadReq_Options_All {
	return &streams.ReadReq_Options_All{All: &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_Position{
		Position: &streams.ReadReq_Options_Position{CommitPosition: commit, PreparePosition: prepare}}}}
}

func allStart() *streams.ReadReq_Options_All {
	return &streams.ReadReq_Options_All{All: &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_Start{Start: empty}}}
}

func allEnd() *streams.ReadReq_Options_All {
	return &streams.ReadReq_Options_All{All: &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_End{End: empty}}}
}

// summary renders read responses as stream@revision, or the kind of message.
func summary(msgs []*streams.ReadResp) string {
	var parts []string
	for _, m := range msgs {
		switch {
		case m.GetEvent() != nil:
			e := m.GetEvent().GetEvent()
			parts = append(parts, string(e.GetStreamIdentifier().GetStreamName())+"@"+itoa(e.GetStreamRevision()))
		case m.GetConfirmation() != nil:
			parts = append(parts, "confirmed")
		case m.GetCaughtUp() != nil:
			parts = append(parts, "caught-up")
		case m.GetCheckpoint() != nil:
			parts = append(parts, "checkpoint")
		case m.GetStreamNotFound() != nil:
			parts = append(parts, "not-found")
		}
	}
	return strings.Join(parts, " ")
}

func TestServer_Read(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	c := dial(t, srv)
	try(t, c, "a", noStream(), uuid.New(), uuid.New())
	try(t, c, "b", noStream(), uuid.New())
	try(t, c, "a", revision(1), uuid.New())
	all, err := read(t, c, &streams.ReadReq_Options{StreamOption: allStart(), CountOption: count(100)}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(all), "$users@0 $user-admin@0 $settings@0 a@0 a@1 b@0 a@2"; got != want {
		t.Fatalf("$all = %s, want %s", got, want)
	}
	pos := func(i int) uint64 { return all[i].GetEvent().GetEvent().GetCommitPosition() }
	stream := func(name string, o *streams.ReadReq_Options_StreamOptions) *streams.ReadReq_Options_Stream {
		o.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(name)}
		return &streams.ReadReq_Options_Stream{Stream: o}
	}
	typeFilter := &streams.ReadReq_Options_Filter{Filter: &streams.ReadReq_Options_FilterOptions{
		Filter: &streams.ReadReq_Options_FilterOptions_EventType{EventType: &streams.ReadReq_Options_FilterOptions_Expression{Regex: `^[^\$].*`}},
		Window: &streams.ReadReq_Options_FilterOptions_Max{Max: 32}, CheckpointIntervalMultiplier: 1}}
	streamFilter := &streams.ReadReq_Options_Filter{Filter: &streams.ReadReq_Options_FilterOptions{
		Filter: &streams.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: &streams.ReadReq_Options_FilterOptions_Expression{Prefix: []string{"b"}}},
		Window: &streams.ReadReq_Options_FilterOptions_Max{Max: 32}, CheckpointIntervalMultiplier: 1}}
	backwards := streams.ReadReq_Options_Backwards
	for _, tc := range []struct {
		name string
		o    *streams.ReadReq_Options
		want string
	}{
		{"stream forwards from a revision", &streams.ReadReq_Options{StreamOption: stream("a", &streams.ReadReq_Options_StreamOptions{
			RevisionOption: &streams.ReadReq_Options_StreamOptions_Revision{Revision: 1}}), CountOption: count(10)}, "a@1 a@2"},
		{"stream backwards from the end", &streams.ReadReq_Options{StreamOption: stream("a", &streams.ReadReq_Options_StreamOptions{
			RevisionOption: &streams.ReadReq_Options_StreamOptions_End{End: empty}}), ReadDirection: backwards, CountOption: count(2)}, "a@2 a@1"},
		{"missing stream", &streams.ReadReq_Options{StreamOption: stream("nope", &streams.ReadReq_Options_StreamOptions{
			RevisionOption: &streams.ReadReq_Options_StreamOptions_Start{Start: empty}}), CountOption: count(10)}, "not-found"},
		{"$all forwards from a position includes its event", &streams.ReadReq_Options{StreamOption: allFrom(pos(4), pos(4)), CountOption: count(2)}, "a@1 b@0"},
		{"$all backwards from a position excludes its event", &streams.ReadReq_Options{StreamOption: allFrom(pos(4), pos(4)), ReadDirection: backwards, CountOption: count(2)}, "a@0 $settings@0"},
		{"$all backwards from the end", &streams.ReadReq_Options{StreamOption: allEnd(), ReadDirection: backwards, CountOption: count(1)}, "a@2"},
		{"$all without system events", &streams.ReadReq_Options{StreamOption: allStart(), CountOption: count(100), FilterOption: typeFilter}, "a@0 a@1 b@0 a@2"},
		{"$all of a stream prefix", &streams.ReadReq_Options{StreamOption: allStart(), CountOption: count(100), FilterOption: streamFilter}, "b@0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read(t, c, tc.o, -1)
			if err != nil {
				t.Fatal(err)
			}
			if s := summary(got); s != tc.want {
				t.Errorf("read = %s, want %s", s, tc.want)
			}
		})
	}
}

func TestServer_Subscribe(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	c := dial(t, srv)
	_, p := try(t, c, "a", noStream(), uuid.New())
	try(t, c, "a", revision(0), uuid.New())
	sub := func(o *streams.ReadReq_Options) *streams.ReadReq_Options {
		o.CountOption = &streams.ReadReq_Options_Subscription{Subscription: &streams.ReadReq_Options_SubscriptionOptions{}}
		return o
	}
	t.Run("from a position starts after it, then goes live", func(t *testing.T) {
		appended := make(chan error, 1)
		go func() {
			err := errors.New("the append failed")
			defer func() { appended <- err }() // appendTo may end this goroutine with t.Fatal
			time.Sleep(50 * time.Millisecond)
			_, err = appendTo(t, c, "b", noStream(), uuid.New())
		}()
		got, err := read(t, c, sub(&streams.ReadReq_Options{StreamOption: allFrom(p, p)}), 4)
		if err := <-appended; err != nil {
			t.Fatalf("Append: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if s, want := summary(got), "confirmed a@1 caught-up b@0"; s != want {
			t.Errorf("subscription = %s, want %s", s, want)
		}
	})
	t.Run("filtered, with checkpoints", func(t *testing.T) {
		got, err := read(t, c, sub(&streams.ReadReq_Options{StreamOption: allStart(), FilterOption: &streams.ReadReq_Options_Filter{Filter: &streams.ReadReq_Options_FilterOptions{
			Filter: &streams.ReadReq_Options_FilterOptions_EventType{EventType: &streams.ReadReq_Options_FilterOptions_Expression{Regex: `^[^\$].*`}},
			Window: &streams.ReadReq_Options_FilterOptions_Max{Max: 2}, CheckpointIntervalMultiplier: 1}}}), 8)
		if err != nil {
			t.Fatal(err)
		}
		if s, want := summary(got), "confirmed checkpoint a@0 checkpoint a@1 b@0 checkpoint caught-up"; s != want {
			t.Errorf("subscription = %s, want %s", s, want)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			srv.DropSubscriptions()
		}()
		got, err := read(t, c, sub(&streams.ReadReq_Options{StreamOption: allEnd()}), -1)
		if status.Code(err) != codes.Unavailable {
			t.Errorf("subscription ended with %v, want Unavailable", err)
		}
		if s, want := summary(got), "confirmed caught-up"; s != want {
			t.Errorf("subscription = %s, want %s", s, want)
		}
	})
}
