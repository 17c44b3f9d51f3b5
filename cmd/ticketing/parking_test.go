package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/projections/projectionstest"
)

// appendPoisonShow appends, straight through the store and past the
// domain's validation, a published show whose title PostgreSQL text cannot
// hold (a NUL): the shows projection cannot store its first event.
func appendPoisonShow(t *testing.T, e *engine) uuid.UUID {
	t.Helper()
	id := uuid.New()
	data, err := domain.Encode([]domain.Event{
		domain.ShowCreated{ShowID: id, OrganizerID: uuid.New(), Title: "Nul\x00Title", Venue: "Paradiso",
			StartsAt: time.Now().Add(24 * time.Hour).UTC(), CreatedAt: time.Now().UTC(),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 1000, Capacity: 10}}},
		domain.ShowPublished{ShowID: id, At: time.Now().UTC()},
	}, uuid.New, domain.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(context.Background(), domain.ShowStream(id), domain.NoStream, data); err != nil {
		t.Fatal(err)
	}
	return id
}

// parkedIn returns the streams projection parked, as the report has them.
func parkedIn(t *testing.T, e *engine, projection string) []projections.ParkedStream {
	t.Helper()
	r, err := report(context.Background(), e.store, e.queries)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Projections {
		if p.Name == projection {
			return p.Parked
		}
	}
	t.Fatalf("no projection %s in %+v", projection, r)
	return nil
}

// A poison event parks its stream in the running engine: status, metrics
// and the runner show it, a read that needs it is answered at once, every
// other stream goes on, and `projections retry` with a fixed projector
// resumes it.
func TestProjectionsRetry(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	s := startServer(t, db, time.Minute)
	org := s.token("organizer")
	bad := appendPoisonShow(t, s.e)
	good, pos := s.publishedShow(org, 5)
	settle(t, s.e)
	stream := domain.ShowStream(bad)

	if r := s.read("/v1/shows/"+good, "", pos); r.str("status") != "on_sale" {
		t.Errorf("a show after the poison event: got %s", r.raw)
	}
	parked := parkedIn(t, s.e, projections.NameShows)
	if len(parked) != 1 || parked[0].Stream != stream || parked[0].Version != 1 || parked[0].Type != "show.created" || parked[0].Waiting != 2 {
		t.Fatalf("parked: got %+v, want %s at version 1 with 2 events waiting", parked, stream)
	}
	for _, st := range s.e.runner.Status() {
		if st.Name == projections.NameShows && (len(st.Parked) != 1 || st.Parked[0].Stream != stream) {
			t.Errorf("runner status: got %+v, want %s parked", st, stream)
		}
	}

	r, err := report(context.Background(), s.e.store, s.e.queries)
	if err != nil {
		t.Fatal(err)
	}
	var table, asJSON bytes.Buffer
	if err := printStatus(&table, r, false); err != nil {
		t.Fatal(err)
	}
	if err := printStatus(&asJSON, r, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 stream(s) parked", "PARKED STREAM", stream, "show.created", parked[0].Position.String(), "0x00"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, table.String())
		}
	}
	if !strings.Contains(asJSON.String(), `"stream": "`+stream+`"`) || !strings.Contains(asJSON.String(), `"type": "show.created"`) {
		t.Errorf("status --json lacks the parked stream:\n%s", asJSON.String())
	}
	m := s.metrics()
	for _, want := range []string{
		`ticketing_projection_parked_streams{projection="shows"} 1`,
		`ticketing_projection_parked_streams{projection="orders"} 0`,
		`position="` + parked[0].Position.String() + `",projection="shows",stream="` + stream + `",type="show.created",version="1"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// A read of the parked show is answered at once.
	start := time.Now()
	p := s.must(503, s.call("GET", "/v1/shows/"+bad.String(), "", nil, "X-Min-Position", pos))
	if p.str("type") != "urn:problem:ticketing:stream-parked" || !strings.Contains(p.str("detail"), stream) {
		t.Errorf("read of the parked show: got %s", p.raw)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v, want at once", d)
	}

	// The same projector keeps it parked; the fixed one resumes it.
	pool := replayPool(t, db)
	if _, err := retry(context.Background(), pool, projections.All(), retryOptions{Projection: "shows", Streams: []string{stream}}); err == nil {
		t.Error("retry with the projector that fails: got nil, want the stream still parked")
	}
	if got := parkedIn(t, s.e, projections.NameShows); len(got) != 1 {
		t.Errorf("parked after a failed retry: got %+v", got)
	}
	fixed := []projections.Projector{projectionstest.FixedShows{}, projections.Orders{}, projections.Sales{}, projections.Holds{}, projections.Analytics{},
		projections.Refunds{}, projections.Waitlist{}} // issue 14: money, waitlist
	reports, err := retry(context.Background(), pool, fixed, retryOptions{Projection: "shows", All: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printRetry(&out, reports)
	if len(reports) != 1 || reports[0].Result.Applied != 2 || !strings.Contains(out.String(), "resumed") {
		t.Errorf("retry: got %+v\n%s", reports, out.String())
	}
	if r := s.read("/v1/shows/"+bad.String(), "", pos); r.str("title") != "NulTitle" || r.str("status") != "on_sale" {
		t.Errorf("the resumed show: got %s", r.raw)
	}
	if got := parkedIn(t, s.e, projections.NameShows); len(got) != 0 {
		t.Errorf("parked after the retry: %+v", got)
	}
	m = s.metrics()
	if !strings.Contains(m, `ticketing_projection_parked_streams{projection="shows"} 0`) || strings.Contains(m, "ticketing_projection_parked_event{") {
		t.Errorf("/metrics after the retry still shows the parked stream")
	}
	// The stream's next events are applied live.
	cpos := s.must(200, s.call("POST", "/v1/shows/"+good+"/cancel", org, nil)).str("position")
	s.read("/v1/shows/"+good, "", cpos)
}

// A replay parks a poison event as live processing does and reports it,
// instead of failing; the swap hands the parked stream to the live
// projection.
func TestReplay_ParksPoisonEvent(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	s := startServer(t, db, time.Minute)
	org := s.token("organizer")
	s.publishedShow(org, 5)
	bad := appendPoisonShow(t, s.e)
	good, _ := s.publishedShow(org, 5)
	settle(t, s.e)
	s.stop()
	pool := replayPool(t, db)
	if _, err := pool.Exec(context.Background(), `delete from projection_parked_streams; delete from projection_parked_events`); err != nil {
		t.Fatal(err)
	}

	for _, o := range []replayOptions{{Projections: []string{"shows"}}, {Projections: []string{"shows"}, InPlace: true}} {
		reports, err := replay(context.Background(), pool, o, io.Discard, quiet)
		if err != nil {
			t.Fatalf("replay %+v: %v", o, err)
		}
		if len(reports) != 1 || len(reports[0].Parked) != 1 || reports[0].Parked[0].Stream != domain.ShowStream(bad) || !reports[0].Swap.Swapped {
			t.Fatalf("replay %+v: got %+v, want the show swapped in with %s parked", o, reports, domain.ShowStream(bad))
		}
		var out bytes.Buffer
		printReplay(&out, reports)
		if !strings.Contains(out.String(), "1 stream(s) parked") || !strings.Contains(out.String(), domain.ShowStream(bad)) {
			t.Errorf("replay %+v: report lacks the parked stream:\n%s", o, out.String())
		}
		q := projections.NewQueries(postgres.NewReadModels(pool).DB())
		live, err := q.ParkedStreams(context.Background(), "shows")
		if err != nil {
			t.Fatal(err)
		}
		if len(live) != 1 || live[0].Stream != domain.ShowStream(bad) || live[0].Waiting != 2 {
			t.Errorf("replay %+v: live parked streams: got %+v, want the rebuild's", o, live)
		}
		id, _ := uuid.Parse(good)
		if _, err := q.Show(context.Background(), id); err != nil {
			t.Errorf("replay %+v: the show after the poison event: %v", o, err)
		}
		if _, err := q.Show(context.Background(), bad); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("replay %+v: the poisoned show: got %v, want not applied", o, err)
		}
	}
}
