package readapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/web"
)

// EventLog is the event store's history, which the admin routes read: the
// one place where the read API reads the event store, not the read models.
type EventLog interface {
	// Export calls fn with every event that f selects, in log order, until
	// fn fails (it then returns fn's error) or f.Limit events were passed.
	Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error
}

// Page sizes of the event history.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 1000
)

// EventView is an event of the history, its data in the current shape of its
// type (or as stored, on request).
type EventView struct {
	Position      string          `json:"position"`
	EventID       uuid.UUID       `json:"event_id"`
	StreamID      string          `json:"stream_id"`
	Version       int64           `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Data          json.RawMessage `json:"data"`
	Metadata      json.RawMessage `json:"metadata"`
}

// EventPage is a page of the event history, paged as every list is
// (issue 16: vocab): NextCursor is the cursor of the next page, empty on
// the last page, and HasMore says whether there is one.
type EventPage struct {
	Events     []EventView `json:"events"`
	NextCursor string      `json:"next_cursor,omitempty"`
	HasMore    bool        `json:"has_more"`
}

// RegisterAdmin adds the admin routes to r:
//
//	GET /v1/admin/events?stream=&type=&type=&since=&until=&from_position=&cursor=&limit=&raw=
//
// the event history, for admins only, filtered like `ticketing events` and
// paged by position: each page names the cursor of the next (after, its
// name before issue 16, is accepted for one release). Data is upcast
// with registry to the current shape of its type unless raw=true.
func (a *API) RegisterAdmin(r *mux.Router, events EventLog, registry *domain.Registry) {
	h := adminEvents{log: events, registry: registry}
	r.Handle("/v1/admin/events", a.route(signedIn, readsLog, h.serve, eventParams)).Methods(http.MethodGet)
}

// MaxEventTypes is how many type parameters a page of the history takes.
const MaxEventTypes = 50

// eventParams are the query parameters of the event history.
var eventParams = web.Params{"stream": 1, "type": MaxEventTypes, "since": 1, "until": 1,
	"from_position": 1, "cursor": 1, "after": 1, "limit": 1, "raw": 1}

// adminEvents serves GET /v1/admin/events.
type adminEvents struct {
	log      EventLog
	registry *domain.Registry
}

func (h adminEvents) serve(w http.ResponseWriter, r *http.Request, actor domain.Actor) error {
	if actor.Role != domain.RoleAdmin {
		return web.Forbidden(ErrForbidden, "the event history is for admins: this token belongs to "+web.RoleOf(actor))
	}
	f, raw, err := eventQuery(r)
	if err != nil {
		return err
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	page := EventPage{Events: []EventView{}}
	err = h.log.Export(r.Context(), f, func(rec domain.RecordedEvent) error {
		data, version := rec.Data, 0
		var err error
		if raw {
			version, err = domain.StoredSchemaVersion(rec.Metadata)
		} else {
			data, version, err = h.registry.UpcastRecorded(rec)
		}
		if err != nil {
			return fmt.Errorf("%s@%d: %w", rec.StreamID, rec.Version, err)
		}
		md := json.RawMessage(rec.Metadata)
		if len(md) == 0 {
			md = json.RawMessage("{}")
		}
		page.Events = append(page.Events, EventView{Position: rec.Position.String(), EventID: rec.ID, StreamID: rec.StreamID,
			Version: rec.Version, Type: rec.Type, SchemaVersion: version, RecordedAt: rec.RecordedAt.UTC(), Data: data, Metadata: md})
		return nil
	})
	if err != nil {
		return err
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.NextCursor, page.HasMore = page.Events[limit-1].Position, true
	}
	return writeJSON(w, actor, page)
}

// eventQuery reads the filter of the event history from the query string,
// whose parameters route has checked (eventParams).
func eventQuery(r *http.Request) (f domain.EventFilter, raw bool, err error) {
	q := r.URL.Query()
	var v domain.ValidationError
	bad := func(field, detail string) {
		v.Fields = append(v.Fields, domain.FieldError{Field: field, Detail: detail})
	}
	f.Stream, f.Types, f.Limit = q.Get("stream"), q["type"], DefaultEventsLimit
	// The filters reach the events query as text, which cannot hold U+0000
	// or bytes that are not UTF-8: each was a 500.
	if !domain.StorableText(f.Stream) {
		bad("stream", "must be UTF-8 text without U+0000 (NUL)")
	}
	if slices.ContainsFunc(f.Types, func(s string) bool { return !domain.StorableText(s) }) {
		bad("type", "must be UTF-8 text without U+0000 (NUL)")
	}
	for _, name := range []string{"since", "until"} {
		s := q.Get(name)
		if !q.Has(name) {
			continue
		}
		// since= (empty) is not "no bound": the document says a time,
		// as limit= is not the default (schemathesis ST201).
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad(name, "must be an RFC 3339 time such as 2026-11-21T20:00:00Z")
			continue
		}
		if name == "since" {
			f.Since = t
		} else {
			f.Until = t
		}
	}
	if s := q.Get("from_position"); s != "" {
		p, err := domain.ParsePosition(s)
		if err != nil {
			bad("from_position", "must be a position")
		} else {
			f.StartAt(p)
		}
	}
	for _, name := range []string{"cursor", "after"} { // after: deprecated, issue 16
		s := q.Get(name)
		if s == "" {
			continue
		}
		p, err := domain.ParsePosition(s)
		if err != nil {
			bad(name, "must be the next_cursor of a page, as it was given")
		} else if f.After.Less(p) {
			f.After = p
		}
	}
	if s := q.Get("limit"); q.Has("limit") { // issue 16: openapi: limit= is not the default
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxEventsLimit {
			bad("limit", fmt.Sprintf("must be an integer between 1 and %d", MaxEventsLimit))
		}
		f.Limit = n
	}
	if s := q.Get("raw"); q.Has("raw") {
		if raw, err = strconv.ParseBool(s); err != nil {
			bad("raw", "must be true or false")
		}
	}
	if len(v.Fields) > 0 {
		return f, false, &v
	}
	return f, raw, nil
}
