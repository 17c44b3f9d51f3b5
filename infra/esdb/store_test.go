package esdb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/esdb"
	"github.com/ticketing/ticketing/infra/esdb/esdbtest"
	"github.com/ticketing/ticketing/infra/eventstoretest"
)

// waitTimeout bounds every wait for a follower; only a broken store reaches it.
const waitTimeout = 10 * time.Second

// open opens a Store on the server at url and closes it when the test ends.
func open(t *testing.T, url string, o esdb.Options) *esdb.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := esdb.Open(ctx, url, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// namespace returns a namespace no other test uses.
func namespace() string { return "t" + uuid.NewString()[:8] + "-" }

func TestStore_Contract(t *testing.T) {
	t.Parallel()
	t.Run("test server", func(t *testing.T) {
		t.Parallel()
		eventstoretest.Run(t, func(t *testing.T) commands.EventStore {
			return open(t, esdbtest.Start(t, esdbtest.Options{}).URL(), esdb.Options{})
		})
	})
	t.Run("test server shared by namespaces", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		eventstoretest.Run(t, func(t *testing.T) commands.EventStore {
			return open(t, srv.URL(), esdb.Options{Namespace: namespace()})
		})
	})
	t.Run("real server", func(t *testing.T) {
		t.Parallel()
		url := esdbtest.Real(t)
		eventstoretest.Run(t, func(t *testing.T) commands.EventStore {
			return open(t, url, esdb.Options{Namespace: namespace()})
		})
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  string
		o    esdb.Options
	}{
		{"bad connection string", "http://nowhere", esdb.Options{}},
		{"namespace of the server's own", esdbtest.Start(t, esdbtest.Options{}).URL(), esdb.Options{Namespace: "$ours"}},
		{"nothing answers", "esdb://" + closedAddr(t) + "?tls=false&maxDiscoverAttempts=2&discoveryInterval=10", esdb.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := esdb.Open(ctx, tc.url, tc.o)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tc.url)
			}
		})
	}
}

func TestNewStore(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	cfg, err := esdbclient.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdbclient.NoopLogging()
	client, err := esdbclient.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := esdb.NewStore(client, esdb.Options{})
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	events := newEvents(2)
	res := mustAppend(t, s, "show-1", domain.NoStream, events)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The client is the caller's: it still works after the Store closed.
	rs, err := client.ReadStream(t.Context(), "show-1", esdbclient.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatalf("client after Close: %v", err)
	}
	defer rs.Close()
	ev, err := rs.Recv()
	if err != nil {
		t.Fatalf("client after Close: %v", err)
	}
	if got, want := ev.OriginalEvent().EventID, events[0].ID; got != want {
		t.Errorf("first event = %s, want %s", got, want)
	}
	if res.Version != 2 {
		t.Errorf("Append version = %d, want 2", res.Version)
	}
}

// Retries that reach the server, from a Store that did not make the first
// append: the server recognises them, or the Store finds them in the stream.
func TestStore_Append(t *testing.T) {
	t.Parallel()
	t.Run("retry at the original version from another store", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		events := newEvents(2)
		want := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.NoStream, events)
		other := open(t, srv.URL(), esdb.Options{})
		mustAppend(t, other, "show-1", 2, newEvents(1))
		got := mustAppend(t, other, "show-1", domain.NoStream, events)
		if got != want {
			t.Errorf("Append(retry) = %+v, want %+v", got, want)
		}
		if got, want := len(mustReadStream(t, other, "show-1")), 3; got != want {
			t.Errorf("ReadStream has %d events, want %d", got, want)
		}
	})
	t.Run("retry with AnyVersion from another store", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		events := newEvents(2)
		want := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.NoStream, events)
		got := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.AnyVersion, events)
		if got != want {
			t.Errorf("Append(retry) = %+v, want %+v", got, want)
		}
		if got, want := srv.Events(), 3+2; got != want {
			t.Errorf("server holds %d events, want %d", got, want)
		}
	})
	t.Run("retry that the server answers without a position", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{NoIdempotentPosition: true})
		events := newEvents(3)
		want := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.NoStream, events)
		got := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.NoStream, events)
		if got != want {
			t.Errorf("Append(retry) = %+v, want %+v", got, want)
		}
	})
	t.Run("retry at a version the server cannot match", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		first := open(t, srv.URL(), esdb.Options{})
		mustAppend(t, first, "show-1", domain.NoStream, newEvents(2))
		events := newEvents(1)
		want := mustAppend(t, first, "show-1", 2, events)
		mustAppend(t, first, "show-1", 3, newEvents(1))
		got := mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", 1, events)
		if got != want {
			t.Errorf("Append(retry) = %+v, want %+v", got, want)
		}
	})
	t.Run("retry of the first part of an append", func(t *testing.T) {
		t.Parallel()
		s := open(t, esdbtest.Start(t, esdbtest.Options{}).URL(), esdb.Options{})
		events := newEvents(3)
		mustAppend(t, s, "show-1", domain.NoStream, events)
		got := mustAppend(t, s, "show-1", domain.AnyVersion, events[:2])
		recs := mustReadStream(t, s, "show-1")
		if want := (commands.AppendResult{Version: 2, Position: recs[1].Position}); got != want {
			t.Errorf("Append(retry) = %+v, want %+v", got, want)
		}
	})
	t.Run("stale version from another store conflicts with the current version", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		mustAppend(t, open(t, srv.URL(), esdb.Options{}), "show-1", domain.NoStream, newEvents(3))
		_, err := open(t, srv.URL(), esdb.Options{}).Append(t.Context(), "show-1", 1, newEvents(1))
		var ce *commands.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, commands.ErrConflict) {
			t.Fatalf("Append = %v, want a *commands.ConflictError", err)
		}
		if want := (commands.ConflictError{Stream: "show-1", Expected: 1, Actual: 3}); *ce != want {
			t.Errorf("conflict = %+v, want %+v", *ce, want)
		}
	})
	for _, tc := range []struct {
		name   string
		events func() []domain.EventData
	}{
		{"event without an id", func() []domain.EventData { e := newEvents(1); e[0].ID = uuid.Nil; return e }},
		{"event type of the server's own", func() []domain.EventData { e := newEvents(1); e[0].Type = "$metadata"; return e }},
		{"event without a type", func() []domain.EventData { e := newEvents(1); e[0].Type = ""; return e }},
		{"metadata that is not JSON", func() []domain.EventData { e := newEvents(1); e[0].Metadata = []byte("{"); return e }},
	} {
		t.Run(tc.name+" fails and writes nothing", func(t *testing.T) {
			t.Parallel()
			srv := esdbtest.Start(t, esdbtest.Options{})
			before := srv.Events()
			_, err := open(t, srv.URL(), esdb.Options{}).Append(t.Context(), "show-1", domain.NoStream, tc.events())
			var se *commands.StoreError
			if !errors.As(err, &se) || errors.Is(err, commands.ErrConflict) {
				t.Errorf("Append = %v, want a *commands.StoreError that is not a conflict", err)
			}
			if got := srv.Events(); got != before {
				t.Errorf("server holds %d events, want %d", got, before)
			}
		})
	}
	t.Run("invalid expected version fails", func(t *testing.T) {
		t.Parallel()
		_, err := open(t, esdbtest.Start(t, esdbtest.Options{}).URL(), esdb.Options{}).Append(t.Context(), "show-1", -2, newEvents(1))
		var se *commands.StoreError
		if !errors.As(err, &se) {
			t.Errorf("Append = %v, want a *commands.StoreError", err)
		}
	})
	t.Run("works again after the server comes back", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		s := open(t, srv.URL()+"&maxDiscoverAttempts=2&discoveryInterval=10", esdb.Options{})
		mustAppend(t, s, "show-1", domain.NoStream, newEvents(1))
		srv.Stop()
		// Enough failures for the client to give up on the server for good.
		for range 3 {
			if _, err := s.Append(t.Context(), "show-2", domain.AnyVersion, newEvents(1)); err == nil {
				t.Fatal("Append succeeded while the server was down")
			}
		}
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitTimeout)
		for {
			_, err := s.Append(t.Context(), "show-1", 1, newEvents(1))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Append still fails after the server came back: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("waits for the server no longer than its context", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		// The client looks for the server for 1.5 s before it gives up.
		s := open(t, srv.URL()+"&maxDiscoverAttempts=15&discoveryInterval=100", esdb.Options{})
		mustAppend(t, s, "show-1", domain.NoStream, newEvents(1))
		srv.Stop()
		if _, err := s.Append(t.Context(), "show-1", 1, newEvents(1)); err == nil {
			t.Fatal("Append succeeded while the server was down")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		// The client either keeps looking for the server (and the deadline
		// ends the wait) or, when gRPC has just seen the port refuse, says
		// at once that the server is unavailable: both fail in time.
		_, err := s.Append(ctx, "show-1", 1, newEvents(1))
		var esErr *esdbclient.Error
		unavailable := errors.As(err, &esErr) && esErr.Code() == esdbclient.ErrorUnavailable
		if !errors.Is(err, context.DeadlineExceeded) && !unavailable {
			t.Errorf("Append = %v, want context.DeadlineExceeded or the server unavailable", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Append took %v with a 200ms deadline", took)
		}
	})
}

// The server's own events are not part of the global log.
func TestStore_SystemEvents(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	s := open(t, srv.URL(), esdb.Options{})
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head != domain.Start {
		t.Errorf("Head with system events only = %v, want %v", head, domain.Start)
	}
	client := rawClient(t, srv.URL())
	var want []uuid.UUID
	for i := range 3 {
		events := newEvents(2)
		want = append(want, eventstoretest.IDs(events)...)
		mustAppend(t, s, fmt.Sprintf("show-%d", i), domain.NoStream, events)
		// Stream metadata goes to $$show-i as a $metadata event.
		if _, err := client.SetStreamMetadata(t.Context(), fmt.Sprintf("show-%d", i), esdbclient.AppendToStreamOptions{}, esdbclient.StreamMetadata{}); err != nil {
			t.Fatalf("SetStreamMetadata: %v", err)
		}
	}
	f := eventstoretest.StartFollow(t, s, domain.Start)
	all, err := s.ReadAll(t.Context(), domain.Start, 100)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	assertIDs(t, "ReadAll", all, want)
	var paged []domain.RecordedEvent
	for after := domain.Start; ; {
		page, err := s.ReadAll(t.Context(), after, 1)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[0].Position
	}
	assertIDs(t, "ReadAll one by one", paged, want)
	assertIDs(t, "Follow", f.WaitFor(t, len(want)), want)
	head, err = s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if last := all[len(all)-1].Position; head != last {
		t.Errorf("Head = %v, want the last event's %v", head, last)
	}
}

func TestStore_Namespace(t *testing.T) {
	t.Parallel()
	srv := esdbtest.Start(t, esdbtest.Options{})
	a := open(t, srv.URL(), esdb.Options{Namespace: "a-"})
	b := open(t, srv.URL(), esdb.Options{Namespace: "b-"})
	fa := eventstoretest.StartFollow(t, a, domain.Start)
	ea, eb := newEvents(2), newEvents(1)
	mustAppend(t, a, "show-1", domain.NoStream, ea)
	mustAppend(t, b, "show-1", domain.NoStream, eb)
	for _, tc := range []struct {
		name string
		s    *esdb.Store
		want []uuid.UUID
	}{
		{"a", a, eventstoretest.IDs(ea)},
		{"b", b, eventstoretest.IDs(eb)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustReadStream(t, tc.s, "show-1")
			assertIDs(t, "ReadStream", got, tc.want)
			for _, rec := range got {
				if rec.StreamID != "show-1" {
					t.Errorf("stream = %q, want show-1", rec.StreamID)
				}
			}
		})
	}
	all, err := a.ReadAll(t.Context(), domain.Start, 100)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	assertIDs(t, "a's ReadAll", all, eventstoretest.IDs(ea))
	assertIDs(t, "a's Follow", fa.WaitFor(t, 2), eventstoretest.IDs(ea))
	head, err := b.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if recs := mustReadStream(t, b, "show-1"); head != recs[0].Position {
		t.Errorf("b's Head = %v, want %v", head, recs[0].Position)
	}
}

func TestStore_Follow(t *testing.T) {
	t.Parallel()
	t.Run("subscribes again when the server drops the subscription", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		s := open(t, srv.URL(), esdb.Options{})
		f := eventstoretest.StartFollow(t, s, domain.Start)
		first := newEvents(2)
		mustAppend(t, s, "show-1", domain.NoStream, first)
		f.WaitFor(t, 2)
		srv.DropSubscriptions()
		second := newEvents(2)
		mustAppend(t, s, "show-1", 2, second)
		got := f.WaitFor(t, 4)
		assertIDs(t, "delivered", got, append(eventstoretest.IDs(first), eventstoretest.IDs(second)...))
	})
	t.Run("carries on after the server restarts", func(t *testing.T) {
		t.Parallel()
		srv := esdbtest.Start(t, esdbtest.Options{})
		s := open(t, srv.URL()+"&maxDiscoverAttempts=2&discoveryInterval=10", esdb.Options{})
		f := eventstoretest.StartFollow(t, s, domain.Start)
		first := newEvents(1)
		mustAppend(t, s, "show-1", domain.NoStream, first)
		f.WaitFor(t, 1)
		srv.Stop()
		time.Sleep(300 * time.Millisecond) // long enough for the follower to fail and wait
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		more := newEvents(1)
		deadline := time.Now().Add(waitTimeout)
		for {
			if _, err := s.Append(t.Context(), "show-1", 1, more); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("Append after the restart: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		assertIDs(t, "delivered", f.WaitFor(t, 2), append(eventstoretest.IDs(first), eventstoretest.IDs(more)...))
	})
	t.Run("hands over what arrived meanwhile in one batch", func(t *testing.T) {
		t.Parallel()
		s := open(t, esdbtest.Start(t, esdbtest.Options{}).URL(), esdb.Options{})
		for i := range 50 {
			mustAppend(t, s, fmt.Sprintf("show-%d", i), domain.NoStream, newEvents(2))
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var batches, events int
		err := s.Follow(ctx, domain.Start, func(_ context.Context, batch []domain.RecordedEvent) error {
			batches++
			events += len(batch)
			if events == 100 {
				cancel()
			}
			if batches == 1 {
				time.Sleep(100 * time.Millisecond) // the rest arrives meanwhile
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow = %v, want context.Canceled", err)
		}
		if events != 100 || batches > 3 {
			t.Errorf("delivered %d events in %d batches, want 100 in at most 3", events, batches)
		}
	})
}

func rawClient(t *testing.T, url string) *esdbclient.Client {
	t.Helper()
	cfg, err := esdbclient.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdbclient.NoopLogging()
	client, err := esdbclient.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	srv := esdbtest.Start(t, esdbtest.Options{})
	srv.Stop()
	return srv.Addr()
}

func newEvents(n int) []domain.EventData {
	out := make([]domain.EventData, n)
	for i := range out {
		out[i] = domain.EventData{ID: uuid.New(), Type: "TestHappened", Data: fmt.Appendf(nil, `{"n":%d}`, i+1)}
	}
	return out
}

func mustAppend(t *testing.T, s commands.EventStore, stream string, expected int64, events []domain.EventData) commands.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, expected, events)
	if err != nil {
		t.Fatalf("Append(%s, %d): %v", stream, expected, err)
	}
	return res
}

func mustReadStream(t *testing.T, s commands.EventStore, stream string) []domain.RecordedEvent {
	t.Helper()
	recs, err := s.ReadStream(t.Context(), stream, 0)
	if err != nil {
		t.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return recs
}

func assertIDs(t *testing.T, what string, got []domain.RecordedEvent, want []uuid.UUID) {
	t.Helper()
	gotIDs := eventstoretest.IDs(got)
	if len(gotIDs) != len(want) {
		t.Errorf("%s: got %d events, want %d", what, len(gotIDs), len(want))
		return
	}
	for i := range want {
		if gotIDs[i] != want[i] {
			t.Errorf("%s: event %d is %s, want %s", what, i, gotIDs[i], want[i])
			return
		}
	}
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Less(got[i].Position) {
			t.Errorf("%s: position %v follows %v, want strictly increasing", what, got[i].Position, got[i-1].Position)
			return
		}
	}
}
