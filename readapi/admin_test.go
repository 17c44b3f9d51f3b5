package readapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/readapi"
)

// withAdmin serves the world's read API with the admin routes over its
// event store.
func (w *world) withAdmin() *world {
	router := mux.NewRouter()
	api := readapi.New(w.q, w.tokens, nil)
	api.Register(router)
	api.RegisterAdmin(router, w.store, w.registry)
	w.srv = httptest.NewServer(router)
	w.t.Cleanup(w.srv.Close)
	return w
}

// eventPage is a decoded page of the event history.
type eventPage struct {
	Events []struct {
		readapi.EventView
		Data map[string]any `json:"data"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

func (p eventPage) positions() []string {
	out := []string{}
	for _, e := range p.Events {
		out = append(out, e.Position)
	}
	return out
}

func TestAPI_AdminEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t).withAdmin()
	_, admin := w.token(domain.RoleAdmin)
	_, org := w.token(domain.RoleOrganizer)
	_, buyer := w.token(domain.RoleBuyer)
	show := w.publishedShow(uuid.New(), "History") // positions 1 and 2
	order := w.hold(show, uuid.New(), 2)           // 3 and 4
	w.pay(order)                                   // 5 and 6
	// 7: a hold stored in the shape of version 1, before hold_ttl_seconds.
	old := `{"show_id":"` + show.String() + `","order_id":"` + uuid.NewString() + `","buyer_id":"` + uuid.NewString() +
		`","items":[{"section":"Floor","quantity":1,"unit_price_cents":1000}],"total_cents":1000,` +
		`"held_at":"2030-06-01T18:00:00Z","expires_at":"2030-06-01T18:05:00Z"}`
	if _, err := w.store.Append(ctx, domain.ShowStream(show), 4, []domain.EventData{{ID: uuid.New(), Type: "show.seats_held", Data: []byte(old)}}); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, query string) eventPage {
		t.Helper()
		var p eventPage
		w.get("/v1/admin/events?"+query, admin).ok(t, &p)
		return p
	}

	t.Run("who", func(t *testing.T) {
		t.Parallel()
		w.get("/v1/admin/events", "").problem(t, http.StatusUnauthorized)
		w.get("/v1/admin/events", org).problem(t, http.StatusForbidden)
		w.get("/v1/admin/events", buyer).problem(t, http.StatusForbidden)
		if p := get(t, ""); len(p.Events) != 7 || p.NextCursor != "" || p.HasMore {
			t.Errorf("admin got %v, next %q; want 7 events and no next page", p.positions(), p.NextCursor)
		}
	})
	t.Run("pages by position", func(t *testing.T) {
		t.Parallel()
		var got []string
		after, pages := "", 0
		for {
			p := get(t, "limit=3&cursor="+after)
			got = append(got, p.positions()...)
			pages++
			if p.HasMore != (p.NextCursor != "") {
				t.Errorf("has_more %v with next_cursor %q", p.HasMore, p.NextCursor)
			}
			if p.NextCursor == "" {
				break
			}
			after = p.NextCursor
		}
		if want := []string{"1", "2", "3", "4", "5", "6", "7"}; !reflect.DeepEqual(got, want) || pages != 3 {
			t.Errorf("%d pages of %v, want 3 pages of %v", pages, got, want)
		}
	})
	t.Run("old shapes are upcast unless raw", func(t *testing.T) {
		t.Parallel()
		e := get(t, "from_position=7").Events[0]
		if e.Type != "show.seats_held" || e.SchemaVersion != 2 || e.Data["hold_ttl_seconds"] != 300.0 || e.StreamID != domain.ShowStream(show) || e.Version != 5 {
			t.Errorf("got %+v, want the hold at version 2 with hold_ttl_seconds 300", e)
		}
		raw := get(t, "from_position=7&raw=true").Events[0]
		if _, ok := raw.Data["hold_ttl_seconds"]; ok || raw.SchemaVersion != 1 {
			t.Errorf("raw: got %+v, want the stored shape", raw)
		}
		if e := get(t, "from_position=3&limit=1").Events[0]; e.SchemaVersion != 2 || e.Data["hold_ttl_seconds"] != 900.0 {
			t.Errorf("a version 2 hold: got %+v", e)
		}
	})

	all := get(t, "")
	for name, c := range map[string]struct {
		query string
		want  []string
	}{
		"one stream":             {"stream=" + domain.OrderStream(order), []string{"4", "5"}},
		"types, repeatable":      {"type=show.seats_held&type=order.confirmed", []string{"3", "5", "7"}},
		"from a position":        {"from_position=6", []string{"6", "7"}},
		"after and from":         {"from_position=2&cursor=5", []string{"6", "7"}},
		"after, the old cursor":  {"from_position=2&after=5", []string{"6", "7"}},
		"since and until":        {"since=" + url.QueryEscape(all.Events[2].RecordedAt.Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(all.Events[3].RecordedAt.Format(time.RFC3339Nano)), []string{"3", "4"}},
		"a stream and a type":    {"stream=" + domain.ShowStream(show) + "&type=show.seats_held", []string{"3", "7"}},
		"nothing matches":        {"stream=show-none", []string{}},
		"a limit past the match": {"type=order.placed&limit=5", []string{"4"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := get(t, c.query).positions(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("the shape of an event", func(t *testing.T) {
		t.Parallel()
		var raw struct {
			Events []json.RawMessage `json:"events"`
		}
		w.get("/v1/admin/events?limit=1", admin).ok(t, &raw)
		want := sorted("position", "event_id", "stream_id", "version", "type", "schema_version", "recorded_at", "data", "metadata")
		if got := keys(t, raw.Events[0]); !reflect.DeepEqual(got, want) {
			t.Errorf("keys: got %v, want %v", got, want)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		t.Parallel()
		for query, field := range map[string]string{
			"limit=0":                    "limit",
			"limit=1001":                 "limit",
			"limit=x":                    "limit",
			"since=yesterday":            "since",
			"until=2030-06-01":           "until",
			"after=x":                    "after",
			"cursor=x":                   "cursor",
			"from_position=-1":           "from_position",
			"raw=maybe":                  "raw",
			"limit=0&cursor=x&raw=maybe": "cursor",
			"since=":                     "since",
			"until=":                     "until",
			"raw=":                       "raw",
			"stream=show-%00":            "stream",
			"stream=%FF":                 "stream",
			"type=a&type=%00":            "type",
		} {
			p := w.get("/v1/admin/events?"+query, admin).problem(t, http.StatusBadRequest)
			if len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("%s: errors %+v, want one on %s first", query, p.Errors, field)
			}
		}
	})
}
