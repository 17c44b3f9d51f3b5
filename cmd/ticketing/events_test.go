package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/eventstoretest"
	"github.com/ticketing/ticketing/infra/memory"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// exportFile runs `ticketing events` with args into a file and returns what
// it wrote.
func exportFile(t *testing.T, db string, args ...string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.out")
	args = append([]string{"events", "--database-url", db, "--output", path}, args...)
	if err := run(context.Background(), args, env{}.get, quiet, nil); err != nil {
		t.Fatalf("ticketing %q: %v", args, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func positions(lines []map[string]any) []string {
	out := []string{}
	for _, l := range lines {
		s, _ := l["position"].(string)
		out = append(out, s)
	}
	return out
}

func TestEventsCmd(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	seedHistory(t, db)
	show := domain.ShowStream(hShow)

	t.Run("everything as JSON lines, old shapes upcast", func(t *testing.T) {
		t.Parallel()
		lines := jsonLines(t, exportFile(t, db))
		if got, want := len(lines), len(knownHistory()); got != want {
			t.Fatalf("%d lines, want %d", got, want)
		}
		first := lines[0]
		if first["position"] != "1" || first["stream_id"] != show || first["version"] != 1.0 || first["type"] != "show.created" ||
			first["recorded_at"] != "2026-11-21T19:00:00Z" || first["schema_version"] != 2.0 { // show.created is at version 2 since it has a per-buyer limit
			t.Errorf("first line = %v", first)
		}
		if md, _ := first["metadata"].(map[string]any); md["user_id"] != hBuyer.String() {
			t.Errorf("metadata = %v", first["metadata"])
		}
		old := lines[2]
		data, _ := old["data"].(map[string]any)
		if old["type"] != "show.seats_held" || old["schema_version"] != 2.0 || data["hold_ttl_seconds"] != 600.0 || data["total_cents"] != 1000.0 {
			t.Errorf("the hold stored as version 1 = %v, want version 2 with hold_ttl_seconds 600", old)
		}
		if data, _ := lines[4]["data"].(map[string]any); data["hold_ttl_seconds"] != 900.0 || lines[4]["schema_version"] != 2.0 {
			t.Errorf("a version 2 hold = %v", lines[4])
		}
	})
	t.Run("raw keeps the stored shape", func(t *testing.T) {
		t.Parallel()
		lines := jsonLines(t, exportFile(t, db, "--raw", "--type", "show.seats_held"))
		data, _ := lines[0]["data"].(map[string]any)
		if _, ok := data["hold_ttl_seconds"]; ok || lines[0]["schema_version"] != 1.0 {
			t.Errorf("raw version 1 hold = %v", lines[0])
		}
		if lines[1]["schema_version"] != 2.0 {
			t.Errorf("raw version 2 hold = %v", lines[1])
		}
	})

	filters := []struct {
		name string
		args []string
		want []string
	}{
		{"one stream", []string{"--stream", domain.OrderStream(hA)}, []string{"4", "7"}},
		{"a stream with no events", []string{"--stream", "show-none"}, []string{}},
		{"types, repeatable", []string{"--type", "order.confirmed", "--type", "order.cancelled"}, []string{"7", "11", "19", "20"}},
		{"since and until, inclusive", []string{"--since", "2026-11-21T19:20:00Z", "--until", "2026-11-21T19:35:30Z"}, []string{"9", "10", "11", "12", "13"}},
		{"since in UTC shorthand", []string{"--since", "2026-11-21 20:05"}, []string{"17", "18", "19", "20", "21", "22"}},
		{"until with a zone", []string{"--until", "2026-11-21T20:01:00+01:00"}, []string{"1", "2"}},
		{"from a position", []string{"--from-position", "20"}, []string{"20", "21", "22"}},
		{"stream, type and position", []string{"--stream", show, "--type", "show.seats_sold", "--from-position", "9"}, []string{"21", "22"}},
		{"limit", []string{"--type", "show.seats_held", "--limit", "2"}, []string{"3", "5"}},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			if got := positions(jsonLines(t, exportFile(t, db, f.args...))); !reflect.DeepEqual(got, f.want) {
				t.Errorf("positions %v, want %v", got, f.want)
			}
		})
	}

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		rows, err := csv.NewReader(bytes.NewReader(exportFile(t, db, "--format", "csv", "--type", "show.seats_held"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 6 || !reflect.DeepEqual(rows[0], csvHeader) {
			t.Fatalf("rows = %q", rows)
		}
		if r := rows[1]; r[0] != "3" || r[1] == "" || r[2] != show || r[3] != "3" || r[4] != "show.seats_held" || r[5] != "2" ||
			r[6] != "2026-11-21T19:10:00Z" {
			t.Errorf("row = %q", r)
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(rows[1][7]), &data); err != nil || data["hold_ttl_seconds"] != 600.0 {
			t.Errorf("data cell = %s (%v)", rows[1][7], err)
		}
		var md map[string]any
		if err := json.Unmarshal([]byte(rows[1][8]), &md); err != nil || md["user_id"] != hBuyer.String() {
			t.Errorf("metadata cell = %s (%v)", rows[1][8], err)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"--format", "xml"},
			{"--since", "yesterday"},
			{"--until", "21/11/2026"},
			{"--from-position", "x"},
			{"--limit", "many"},
			{"surplus"},
		} {
			out := filepath.Join(t.TempDir(), "out")
			if err := run(context.Background(), append([]string{"events", "--database-url", db, "--output", out}, args...), env{}.get, quiet, nil); err == nil {
				t.Errorf("events %q succeeded", args)
			}
		}
	})
}

func TestExportEvents(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	pool := seedHistory(t, db)
	store, err := postgres.NewStore(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)

	t.Run("reports progress at the end", func(t *testing.T) {
		t.Parallel()
		var reached []domain.Position
		var out bytes.Buffer
		n, err := exportEvents(context.Background(), store, registry, eventsOptions{Format: formatJSONL}, &out,
			func(p domain.Position) { reached = append(reached, p) })
		if err != nil || n != 22 {
			t.Fatalf("exportEvents = %d, %v", n, err)
		}
		if want := []domain.Position{domain.PositionAt(22)}; !reflect.DeepEqual(reached, want) {
			t.Errorf("progress %v, want %v", reached, want)
		}
	})
	t.Run("a scan of the log exports what the store's query does", func(t *testing.T) {
		t.Parallel()
		for _, f := range []domain.EventFilter{{}, {Stream: domain.ShowStream(hShow), Limit: 3}, {Types: []string{"order.placed"}, Since: at(15, 0)}} {
			var want, got bytes.Buffer
			o := eventsOptions{Format: formatJSONL, Filter: f}
			if _, err := exportEvents(context.Background(), store, registry, o, &want, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := exportEvents(context.Background(), scanExport{store}, registry, o, &got, nil); err != nil {
				t.Fatal(err)
			}
			if want.Len() == 0 || got.String() != want.String() {
				t.Errorf("filter %+v: scan exported\n%s\nthe query\n%s", f, got.String(), want.String())
			}
		}
	})
}

// scanned is an event store exported by scanning its log.
type scanned struct {
	commands.EventStore
	scanExport
}

func TestScanExport_Export(t *testing.T) {
	t.Parallel()
	eventstoretest.RunExport(t, func(*testing.T) eventstoretest.Exporter {
		s := memory.NewStore()
		return scanned{s, scanExport{s}}
	})
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-11-21T20:00:00Z":           "2026-11-21T20:00:00Z",
		"2026-11-21T20:00:00.5+01:00":    "2026-11-21T19:00:00.5Z",
		"2026-11-21T20:00:00":            "2026-11-21T20:00:00Z",
		"2026-11-21T20:00":               "2026-11-21T20:00:00Z",
		"2026-11-21 20:00:30":            "2026-11-21T20:00:30Z",
		"2026-11-21":                     "2026-11-21T00:00:00Z",
		"2026-11-21T20:00:00.123456789Z": "2026-11-21T20:00:00.123456789Z",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := parseTime(in)
			if err != nil || got.Format("2006-01-02T15:04:05.999999999Z07:00") != want {
				t.Errorf("parseTime(%q) = %v, %v; want %s", in, got, err, want)
			}
		})
	}
	if _, err := parseTime("tonight"); err == nil {
		t.Error("parseTime(tonight) succeeded")
	}
}

// The engine serves the event history to admins from its event store.
func TestServe_AdminEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	id, _ := s.publishedShow(org, 10)
	s.must(403, s.call("GET", "/v1/admin/events", org, nil))
	r := s.must(200, s.call("GET", "/v1/admin/events?limit=1&stream=show-"+id, s.token("admin"), nil))
	events, _ := r.body["events"].([]any)
	if len(events) != 1 || r.str("next_cursor") == "" || r.body["has_more"] != true {
		t.Fatalf("page = %s, want one event and a next page", r.raw)
	}
	if e, _ := events[0].(map[string]any); e["type"] != "show.created" || e["stream_id"] != "show-"+id {
		t.Errorf("event = %v", e)
	}
	r = s.must(200, s.call("GET", "/v1/admin/events?stream=show-"+id+"&cursor="+r.str("next_cursor"), s.token("admin"), nil))
	if events, _ := r.body["events"].([]any); len(events) != 1 || r.str("next_cursor") != "" || r.body["has_more"] != false {
		t.Errorf("second page = %s, want the publication and no next page", r.raw)
	}
}

// Stream ids and types are free text: the encoders quote them as JSON and
// CSV readers expect.
func TestEncoders_Quoting(t *testing.T) {
	t.Parallel()
	rec := domain.RecordedEvent{ID: uuid.MustParse("0195f000-0000-7000-8000-0000000000ff"), Position: domain.Position{Commit: 9, Prepare: 7},
		Version: 2, RecordedAt: h0, Metadata: nil}
	for _, s := range []string{"plain", `with "quotes"`, "comma, here", "new\nline", " leading space", "tab\tand \\ back", "ünïcødé", "\x00"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			rec := rec
			rec.StreamID, rec.Type = s, s
			data := []byte(`{"a":"b, \"c\""}`)
			var line map[string]any
			if err := json.Unmarshal(jsonlEncoder{}.appendEvent(nil, rec, data, 3), &line); err != nil {
				t.Fatal(err)
			}
			if line["stream_id"] != s || line["type"] != s || line["position"] != "9.7" || line["schema_version"] != 3.0 ||
				line["event_id"] != rec.ID.String() || line["recorded_at"] != "2026-11-21T19:00:00Z" {
				t.Errorf("JSON line = %v", line)
			}
			if md, ok := line["metadata"].(map[string]any); !ok || len(md) != 0 {
				t.Errorf("metadata = %v, want {}", line["metadata"])
			}
			rows, err := csv.NewReader(bytes.NewReader(csvEncoder{}.appendEvent(appendCSVHeader(nil), rec, data, 3))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"9.7", rec.ID.String(), s, "2", s, "3", "2026-11-21T19:00:00Z", string(data), "{}"}
			if len(rows) != 2 || !reflect.DeepEqual(rows[1], want) {
				t.Errorf("CSV rows = %q, want %q", rows, want)
			}
		})
	}
}
