package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// exporter streams filtered history out of an event store. The PostgreSQL
// store does it in one streamed query; scanExport does it for any store.
type exporter interface {
	// Export calls fn with every event that f selects, in log order, until
	// fn fails (it then returns fn's error) or f.Limit events were passed.
	Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error
}

// exporterOf returns the store's own exporter, or a scan of its log.
func exporterOf(store commands.EventStore) exporter {
	if x, ok := store.(exporter); ok {
		return x
	}
	return scanExport{store}
}

// scanBatch is how many events scanExport reads at a time.
const scanBatch = 5000

// scanExport exports from any event store by reading the stream, or the
// global log page by page, and filtering the events in the process.
type scanExport struct{ store commands.EventStore }

// Export calls fn with every event that f selects; see exporter.
func (s scanExport) Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error {
	n := 0
	emit := func(recs []domain.RecordedEvent) (bool, error) {
		for _, rec := range recs {
			if !f.Match(rec) {
				continue
			}
			if err := fn(rec); err != nil {
				return true, err
			}
			if n++; f.Limit > 0 && n >= f.Limit {
				return true, nil
			}
		}
		return false, nil
	}
	if f.Stream != "" {
		recs, err := s.store.ReadStream(ctx, f.Stream, 1)
		if err != nil {
			return err
		}
		_, err = emit(recs)
		return err
	}
	after := f.After
	for {
		recs, err := s.store.ReadAll(ctx, after, scanBatch)
		if err != nil || len(recs) == 0 {
			return err
		}
		if done, err := emit(recs); done || err != nil {
			return err
		}
		after = recs[len(recs)-1].Position
	}
}

// Export formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// eventsOptions are the flags of `ticketing events`.
type eventsOptions struct {
	Filter domain.EventFilter
	Format string // formatJSONL or formatCSV
	Output string // a file; empty or "-" for stdout
	Raw    bool   // the data as stored, not upcast to the current shape
}

// eventsCommand is `ticketing events`: it streams the event store's
// history, filtered, as JSON lines or CSV, to stdout or a file.
type eventsCommand struct {
	o      eventsOptions
	stream *streamRef // --stream, resolved into o.Filter.Stream by Run
}

// Flags attaches the filter's flags, --format, --output and --raw.
func (x *eventsCommand) Flags(fs *flag.FlagSet, _ *Config) {
	o := &x.o
	fs.Func("stream", "only this stream's events: a show or order id, show-<id> or order-<id>", streamFlag(&x.stream))
	fs.Func("type", "only events of this type (repeatable), e.g. show.seats_held", func(s string) error {
		o.Filter.Types = append(o.Filter.Types, s)
		return nil
	})
	fs.Func("since", "only events recorded at or after this time ("+timeForms+")", timeFlag(&o.Filter.Since, time.Now))
	fs.Func("until", "only events recorded at or before this time", timeFlag(&o.Filter.Until, time.Now))
	fs.Func("from-position", "only events at or after this position of the global log", func(s string) error {
		p, err := domain.ParsePosition(s)
		if err != nil {
			return err
		}
		o.Filter.StartAt(p)
		return nil
	})
	fs.IntVar(&o.Filter.Limit, "limit", 0, "at most this many events (0: all)")
	fs.StringVar(&o.Format, "format", formatJSONL, "jsonl (one JSON object per line) or csv")
	fs.StringVar(&o.Output, "output", "", "write to this file instead of stdout")
	fs.StringVar(&o.Output, "o", "", "shorthand for --output")
	fs.BoolVar(&o.Raw, "raw", false, "the data as stored, without upcasting old schema versions")
}

// Run exports the events.
func (x *eventsCommand) Run(ctx context.Context, s *session) error {
	o := x.o
	if err := s.noArgs(); err != nil {
		return err
	}
	if o.Format != formatJSONL && o.Format != formatCSV {
		return fmt.Errorf("events: --format: want jsonl or csv, got %q", o.Format)
	}
	store, registry, err := s.Store(ctx)
	if err != nil {
		return err
	}
	if err := checkTypes(registry, o.Filter.Types); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if x.stream != nil {
		ref, err := x.stream.resolve(ctx, store)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		o.Filter.Stream = ref.String()
	}

	out, toStdout := io.Writer(os.Stdout), o.Output == "" || o.Output == "-"
	var file *os.File
	if !toStdout {
		if file, err = os.Create(o.Output); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		defer file.Close()
		out = file
	}
	start := time.Now()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	var progress func(domain.Position)
	// A bar on a terminal, unless the export itself is going to it.
	if term.IsTerminal(int(os.Stderr.Fd())) && !(toStdout && term.IsTerminal(int(os.Stdout.Fd()))) {
		bar := newExportProgress(o.Filter.After, head, os.Stderr)
		defer bar.finish()
		progress = bar.set
	}
	n, err := exportEvents(ctx, exporterOf(store), registry, o, out, progress)
	if err != nil {
		return fmt.Errorf("events: after %d events: %w", n, err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	took := time.Since(start)
	s.Log.Info("exported", "events", n, "took", took.Round(time.Millisecond).String(),
		"events_per_second", int64(float64(n)/max(took.Seconds(), 1e-9)))
	return nil
}

// checkTypes refuses a --type the registry does not know, which would
// select nothing, and suggests the type it may have meant.
func checkTypes(registry *domain.Registry, types []string) error {
	for _, t := range types {
		if _, ok := registry.SchemaVersion(t); ok {
			continue
		}
		for _, k := range streamKinds {
			if _, ok := registry.SchemaVersion(k.kind + "." + t); ok {
				return fmt.Errorf("--type %q: no such event type; did you mean %s.%s?", t, k.kind, t)
			}
		}
		return fmt.Errorf("--type %q: no such event type (the types are in the type column of `ticketing events`, e.g. show.seats_held, order.confirmed)", t)
	}
	return nil
}

// exportEvents writes the events o.Filter selects to out in o.Format, their
// data upcast to the current shape of their type unless o.Raw, in one run of
// x.Export, and reports the position reached to progress (if not nil) every
// few thousand events. It returns how many events it wrote.
func exportEvents(ctx context.Context, x exporter, registry *domain.Registry, o eventsOptions, out io.Writer, progress func(domain.Position)) (int64, error) {
	var enc eventEncoder
	w := bufio.NewWriterSize(out, 256<<10)
	switch o.Format {
	case formatJSONL, "":
		enc = jsonlEncoder{}
	case formatCSV:
		enc = csvEncoder{}
		_, _ = w.Write(appendCSVHeader(nil)) // an error sticks and surfaces in Flush
	default:
		return 0, fmt.Errorf("unknown format %q", o.Format)
	}
	var n int64
	var last domain.Position
	var buf []byte
	err := x.Export(ctx, o.Filter, func(rec domain.RecordedEvent) error {
		var err error
		if buf, err = appendEvent(buf[:0], enc, registry, o.Raw, rec); err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		n++
		last = rec.Position
		if progress != nil && n%progressEvery == 0 {
			progress(last)
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil && progress != nil && n > 0 {
		progress(last)
	}
	return n, err
}

// progressEvery is how many events pass between two progress reports.
const progressEvery = 4096

// appendEvent appends rec to b in enc's format, its data upcast to the
// current shape of its type unless raw.
func appendEvent(b []byte, enc eventEncoder, registry *domain.Registry, raw bool, rec domain.RecordedEvent) ([]byte, error) {
	data, version := rec.Data, 1
	var err error
	if raw {
		version, err = domain.StoredSchemaVersion(rec.Metadata)
	} else {
		data, version, err = registry.UpcastRecorded(rec)
	}
	if err != nil {
		return b, fmt.Errorf("%s@%d: %w", rec.StreamID, rec.Version, err)
	}
	return enc.appendEvent(b, rec, data, version), nil
}

// eventEncoder formats events.
type eventEncoder interface {
	// appendEvent appends rec, with data in the shape of schema version
	// version, to b.
	appendEvent(b []byte, rec domain.RecordedEvent, data []byte, version int) []byte
}

// jsonlEncoder writes one JSON object per line:
//
//	{"position":"1","event_id":"…","stream_id":"show-…","version":1,"type":"show.created",
//	 "schema_version":1,"recorded_at":"2026-…Z","data":{…},"metadata":{…}}
//
// It appends the fields itself, several times faster than encoding/json.
type jsonlEncoder struct{}

func (jsonlEncoder) appendEvent(b []byte, rec domain.RecordedEvent, data []byte, version int) []byte {
	b = append(b, `{"position":"`...)
	b = appendPosition(b, rec.Position)
	b = append(b, `","event_id":"`...)
	b = appendUUID(b, rec.ID)
	b = append(b, `","stream_id":`...)
	b = appendJSONString(b, rec.StreamID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, rec.Version, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, rec.Type)
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, `,"recorded_at":"`...)
	b = rec.RecordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendJSONValue(b, data)
	b = append(b, `,"metadata":`...)
	b = appendJSONValue(b, rec.Metadata)
	return append(b, "}\n"...)
}

// appendPosition appends p as Position.String does.
func appendPosition(b []byte, p domain.Position) []byte {
	b = strconv.AppendUint(b, p.Commit, 10)
	if p.Commit != p.Prepare {
		b = append(b, '.')
		b = strconv.AppendUint(b, p.Prepare, 10)
	}
	return b
}

// appendUUID appends id as uuid.UUID.String does, without allocating.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(b, s[:]...)
}

// appendJSONValue appends raw JSON; empty is an empty object.
func appendJSONValue(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "{}"...)
	}
	return append(b, raw...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// csvHeader names the columns of a CSV export.
var csvHeader = []string{"position", "event_id", "stream_id", "version", "type", "schema_version", "recorded_at", "data", "metadata"}

// appendCSVHeader appends the header row of a CSV export.
func appendCSVHeader(b []byte) []byte {
	b = append(b, strings.Join(csvHeader, ",")...)
	return append(b, "\r\n"...)
}

// csvEncoder writes the rows of RFC 4180 CSV, after appendCSVHeader's;
// data and metadata are JSON in their cells.
type csvEncoder struct{}

func (csvEncoder) appendEvent(b []byte, rec domain.RecordedEvent, data []byte, version int) []byte {
	b = appendPosition(b, rec.Position)
	b = append(b, ',')
	b = appendUUID(b, rec.ID)
	b = append(b, ',')
	b = appendCSVField(b, rec.StreamID)
	b = append(b, ',')
	b = strconv.AppendInt(b, rec.Version, 10)
	b = append(b, ',')
	b = appendCSVField(b, rec.Type)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, ',')
	b = rec.RecordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ',')
	b = appendCSVField(b, data)
	b = append(b, ',')
	md := rec.Metadata
	if len(md) == 0 {
		md = []byte("{}")
	}
	b = appendCSVField(b, md)
	return append(b, "\r\n"...)
}

// appendCSVField appends s as a CSV field, quoted when it has to be.
func appendCSVField[S string | []byte](b []byte, s S) []byte {
	quote := len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
	for i := 0; i < len(s) && !quote; i++ {
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n'
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// exportProgress is a progress bar over the positions an export goes
// through, on stderr.
type exportProgress struct {
	bar   *progressbar.ProgressBar
	start uint64
}

// minBarSpan is the smallest export, in positions of the log, that gets a
// progress bar: smaller ones are over before a bar would show.
const minBarSpan = 10_000

func newExportProgress(after, head domain.Position, out io.Writer) *exportProgress {
	p := &exportProgress{start: after.Commit}
	if head.Commit < after.Commit+minBarSpan {
		return p
	}
	p.bar = progressbar.NewOptions64(int64(head.Commit-after.Commit), progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("exporting"), progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("positions"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionFullWidth(), progressbar.OptionClearOnFinish())
	// The rate counts from now, not from the first report (the library's
	// default), which comes progressEvery events in.
	p.bar.StartWithoutRender()
	return p
}

func (p *exportProgress) set(pos domain.Position) {
	if p.bar != nil && pos.Commit >= p.start {
		_ = p.bar.Set64(int64(pos.Commit - p.start))
	}
}

func (p *exportProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// timeLayouts are the forms a time flag takes besides now; those without a
// zone are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// timeForms says, for the flags' help, which forms a time flag takes.
const timeForms = "RFC 3339, 2006-01-02[T15:04[:05]] in UTC, now, or now-DURATION such as now-90m"

// parseTime parses a time flag: one of timeLayouts, "now", or "now-D" (D a
// Go duration, such as 90m or 1h30m) before now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now.UTC(), nil
		}
		if d, err := time.ParseDuration(strings.TrimPrefix(rest, "-")); err == nil && rest[0] == '-' && d >= 0 {
			return now.Add(-d).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("invalid time %q: want now, or now-DURATION such as now-90m", s)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339 (2026-11-21T20:00:00Z), 2026-11-21[T20:00[:00]] in UTC, now or now-90m", s)
}

// timeFlag sets *t from a time flag, now read from the clock when the flag
// is parsed.
func timeFlag(t *time.Time, clock func() time.Time) func(string) error {
	return func(s string) error {
		v, err := parseTime(s, clock())
		if err != nil {
			return err
		}
		*t = v
		return nil
	}
}
