package readapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
)

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

type showList struct {
	Items      []projections.ShowView `json:"items"`
	NextCursor string                 `json:"next_cursor"`
}

func ids(shows []projections.ShowView) []uuid.UUID {
	out := make([]uuid.UUID, len(shows))
	for i, s := range shows {
		out[i] = s.ID
	}
	return out
}

func TestAPI_ListShows(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org := uuid.New()
	var public []uuid.UUID
	for i := range 5 {
		public = append(public, w.publishedShow(org, "Show"))
		if i == 1 {
			w.createShow(org, "Draft")
		}
	}
	w.sync()

	t.Run("the catalog without drafts", func(t *testing.T) {
		var got showList
		w.get("/v1/shows", "").ok(t, &got)
		if !reflect.DeepEqual(ids(got.Items), public) || got.NextCursor != "" {
			t.Errorf("got %v %q, want %v and no cursor", ids(got.Items), got.NextCursor, public)
		}
	})
	t.Run("json shape", func(t *testing.T) {
		var raw struct {
			Items []json.RawMessage `json:"items"`
		}
		r := w.get("/v1/shows?limit=1", "")
		r.ok(t, &raw)
		if got, want := keys(t, r.body), []string{"has_more", "items", "next_cursor"}; !reflect.DeepEqual(got, want) {
			t.Errorf("list keys: got %v, want %v", got, want)
		}
		want := sorted("id", "organizer_id", "title", "venue", "starts_at", "status", "created_at", "updated_at", "sections")
		if got := keys(t, raw.Items[0]); !reflect.DeepEqual(got, want) {
			t.Errorf("show keys: got %v, want %v", got, want)
		}
		var show struct {
			Sections []json.RawMessage `json:"sections"`
		}
		if err := json.Unmarshal(raw.Items[0], &show); err != nil {
			t.Fatal(err)
		}
		want = sorted("name", "kind", "price_cents", "capacity", "available", "held", "sold")
		if got := keys(t, show.Sections[0]); !reflect.DeepEqual(got, want) {
			t.Errorf("section keys: got %v, want %v", got, want)
		}
		if got := r.header.Get("Cache-Control"); got != "" {
			t.Errorf("an anonymous catalog is cacheable: got Cache-Control %q", got)
		}
	})
	t.Run("pages through next_cursor", func(t *testing.T) {
		var all []uuid.UUID
		path := "/v1/shows?limit=2"
		for range 10 {
			var l showList
			w.get(path, "").ok(t, &l)
			all = append(all, ids(l.Items)...)
			if l.NextCursor == "" {
				break
			}
			path = "/v1/shows?limit=2&cursor=" + l.NextCursor
		}
		if !reflect.DeepEqual(all, public) {
			t.Errorf("got %v, want %v", all, public)
		}
	})
	t.Run("bad paging", func(t *testing.T) {
		for _, c := range []struct{ query, field string }{
			{"limit=abc", "limit"},
			{"limit=0", "limit"},
			{"limit=-3", "limit"},
			{"limit=201", "limit"},
			{"cursor=nonsense", "cursor"},
		} {
			p := w.get("/v1/shows?"+c.query, "").problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
				t.Errorf("%s: got errors %+v, want one on %s", c.query, p.Errors, c.field)
			}
		}
	})
	t.Run("an invalid token is refused even where none is needed", func(t *testing.T) {
		r := w.get("/v1/shows", "forged")
		r.problem(t, http.StatusUnauthorized)
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("WWW-Authenticate: got %q", got)
		}
		w.get("/v1/shows", "", "Authorization", "Basic dXNlcjpwdw==").problem(t, http.StatusUnauthorized)
	})
}

func TestAPI_Show(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, orgToken := w.token(domain.RoleOrganizer)
	_, otherOrg := w.token(domain.RoleOrganizer)
	_, admin := w.token(domain.RoleAdmin)
	public := w.publishedShow(org, "Public")
	draft := w.createShow(org, "Draft")
	w.sync()

	for name, c := range map[string]struct {
		show  uuid.UUID
		token string
		want  int
	}{
		"a public show to anyone":                  {public, "", http.StatusOK},
		"a public show to another organizer":       {public, otherOrg, http.StatusOK},
		"a draft to its organizer":                 {draft, orgToken, http.StatusOK},
		"a draft to anyone else":                   {draft, "", http.StatusNotFound},
		"a draft to another organizer":             {draft, otherOrg, http.StatusNotFound},
		"a draft to an admin":                      {draft, admin, http.StatusNotFound},
		"an unknown show":                          {uuid.New(), "", http.StatusNotFound},
		"an unknown show to a signed-in organizer": {uuid.New(), orgToken, http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/v1/shows/" + c.show.String(), "/v1/shows/" + c.show.String() + "/seats"} {
				r := w.get(path, c.token)
				if c.want != http.StatusOK {
					r.problem(t, c.want)
					continue
				}
				var got struct {
					ID     uuid.UUID `json:"id"`
					ShowID uuid.UUID `json:"show_id"`
				}
				r.ok(t, &got)
				if got.ID != c.show && got.ShowID != c.show {
					t.Errorf("%s: got %s, want %s", path, r.body, c.show)
				}
			}
		})
	}
	t.Run("the show", func(t *testing.T) {
		var got projections.ShowView
		w.get("/v1/shows/"+public.String(), "").ok(t, &got)
		want, err := w.q.Show(ctx, public)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("a malformed id is not found", func(t *testing.T) {
		w.get("/v1/shows/not-a-uuid", "").problem(t, http.StatusNotFound)
		w.get("/v1/shows/not-a-uuid/seats", "").problem(t, http.StatusNotFound)
	})
}

// seatPage is the body of GET /v1/shows/{id}/seats?section=.
type seatPage struct {
	ShowID     uuid.UUID                `json:"show_id"`
	Section    string                   `json:"section"`
	Rows       []projections.SeatMapRow `json:"rows"`
	NextCursor string                   `json:"next_cursor"`
}

func TestAPI_Seats(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, orgToken := w.token(domain.RoleOrganizer)
	show := w.publishedShow(org, "Seats")
	draft := w.createShow(org, "Draft")
	w.pay(w.hold(show, uuid.New(), 0, 2))
	w.hold(show, uuid.New(), 0, 3)
	w.sync()
	path := "/v1/shows/" + show.String() + "/seats"
	box := []projections.SeatMapRow{{Label: "A", Seats: []projections.SeatMapSeat{
		{Seat: 1, State: "available"}, {Seat: 2, State: "sold"}, {Seat: 3, State: "held"}, {Seat: 4, State: "available"},
	}}}

	t.Run("the seat map: seated sections and their counts, no seats", func(t *testing.T) {
		r := w.get(path, "")
		var got projections.SeatMap
		r.ok(t, &got)
		want := projections.SeatMap{ShowID: show, Sections: []projections.SeatMapSection{
			{Name: "Box", Rows: 1, Capacity: 4, Available: 2, Held: 1, Sold: 1},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if got, want := keys(t, r.body), sorted("show_id", "sections"); !reflect.DeepEqual(got, want) {
			t.Errorf("keys: got %v, want %v", got, want)
		}
		var raw struct {
			Sections []json.RawMessage `json:"sections"`
		}
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		if got, want := keys(t, raw.Sections[0]), sorted("name", "row_count", "capacity", "available", "held", "sold"); !reflect.DeepEqual(got, want) {
			t.Errorf("section keys: got %v, want %v", got, want)
		}
	})
	t.Run("a section's seats", func(t *testing.T) {
		r := w.get(path+"?section=Box", "")
		var got seatPage
		r.ok(t, &got)
		want := seatPage{ShowID: show, Section: "Box", Rows: box}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if got, want := keys(t, r.body), sorted("show_id", "section", "rows", "has_more"); !reflect.DeepEqual(got, want) {
			t.Errorf("keys of the last page: got %v, want %v", got, want)
		}
		if strings.Contains(string(r.body), "order") {
			t.Errorf("the seat map names orders: %s", r.body)
		}
	})
	t.Run("paged through next_cursor, a row going on in the next page", func(t *testing.T) {
		var first, second seatPage
		r := w.get(path+"?section=Box&limit=3", "")
		r.ok(t, &first)
		if got, want := keys(t, r.body), sorted("show_id", "section", "rows", "next_cursor", "has_more"); !reflect.DeepEqual(got, want) {
			t.Errorf("keys: got %v, want %v", got, want)
		}
		w.get(path+"?section=Box&limit=3&cursor="+first.NextCursor, "").ok(t, &second)
		if len(first.Rows) != 1 || len(second.Rows) != 1 || second.NextCursor != "" {
			t.Fatalf("got %+v then %+v, want row A split in two pages", first, second)
		}
		got := []projections.SeatMapRow{{Label: "A", Seats: append(first.Rows[0].Seats, second.Rows[0].Seats...)}}
		if first.Rows[0].Label != "A" || second.Rows[0].Label != "A" || !reflect.DeepEqual(got, box) {
			t.Errorf("got %+v then %+v, want %+v", first.Rows, second.Rows, box)
		}
	})
	t.Run("a section name is percent-encoded", func(t *testing.T) {
		org, orgToken := w.token(domain.RoleOrganizer)
		name := "Loge & <Balcon> ?=/#é"
		odd := w.createShowOf(org, "Odd", []domain.SectionSpec{{Name: name, PriceCents: 1, Rows: []domain.RowSpec{{Label: "1/2", Seats: 1}}}})
		w.sync()
		var got seatPage
		w.get("/v1/shows/"+odd.String()+"/seats?section="+url.QueryEscape(name), orgToken).ok(t, &got)
		want := seatPage{ShowID: odd, Section: name, Rows: []projections.SeatMapRow{{Label: "1/2", Seats: []projections.SeatMapSeat{{Seat: 1, State: "available"}}}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("a draft's seats to its organizer only", func(t *testing.T) {
		for _, q := range []string{"", "?section=Box"} {
			var got struct {
				ShowID uuid.UUID `json:"show_id"`
			}
			w.get("/v1/shows/"+draft.String()+"/seats"+q, orgToken).ok(t, &got)
			if got.ShowID != draft {
				t.Errorf("%s: got show %s, want %s", q, got.ShowID, draft)
			}
			w.get("/v1/shows/"+draft.String()+"/seats"+q, "").problem(t, http.StatusNotFound)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		first := seatPage{}
		w.get(path+"?section=Box&limit=1", "").ok(t, &first)
		for _, c := range []struct {
			query  string
			status int
			field  string
		}{
			{"limit=10", http.StatusBadRequest, "limit"},
			{"cursor=" + first.NextCursor, http.StatusBadRequest, "cursor"},
			{"section=", http.StatusBadRequest, "section"},
			{"section=Box&limit=0", http.StatusBadRequest, "limit"},
			{"section=Box&limit=abc", http.StatusBadRequest, "limit"},
			{"section=Box&limit=" + strconv.Itoa(projections.MaxSeatLimit+1), http.StatusBadRequest, "limit"},
			{"section=Box&cursor=nonsense", http.StatusBadRequest, "cursor"},
			{"section=Floor", http.StatusNotFound, ""},
			{"section=Balcony", http.StatusNotFound, ""},
			{"section=Box%00", http.StatusNotFound, ""},
			{"section=%FF", http.StatusNotFound, ""},
		} {
			p := w.get(path+"?"+c.query, "").problem(t, c.status)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if strings.Join(fields, ",") != c.field {
				t.Errorf("%s: errors %+v, want one naming %q", c.query, p.Errors, c.field)
			}
			if c.status == http.StatusNotFound && p.Detail != "the show has no seated section of that name" {
				t.Errorf("%s: detail %q", c.query, p.Detail)
			}
		}
		if got := w.get(path+"?section=Box&limit="+strconv.Itoa(projections.MaxSeatLimit), "").status; got != http.StatusOK {
			t.Errorf("limit %d: got %d, want 200", projections.MaxSeatLimit, got)
		}
	})
}

func TestAPI_MyShows(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	org, orgToken := w.token(domain.RoleOrganizer)
	_, buyer := w.token(domain.RoleBuyer)
	want := []uuid.UUID{w.createShow(org, "Draft"), w.publishedShow(org, "Public")}
	w.publishedShow(uuid.New(), "Someone else's")
	w.sync()

	t.Run("an organizer's shows, drafts included", func(t *testing.T) {
		var got showList
		r := w.get("/v1/me/shows", orgToken)
		r.ok(t, &got)
		if !reflect.DeepEqual(ids(got.Items), want) {
			t.Errorf("got %v, want %v", ids(got.Items), want)
		}
		if got := r.header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
	})
	t.Run("paged", func(t *testing.T) {
		var first, second showList
		w.get("/v1/me/shows?limit=1", orgToken).ok(t, &first)
		w.get("/v1/me/shows?limit=1&cursor="+first.NextCursor, orgToken).ok(t, &second)
		if got := append(ids(first.Items), ids(second.Items)...); !reflect.DeepEqual(got, want) || second.NextCursor != "" {
			t.Errorf("got %v %q, want %v and no cursor", got, second.NextCursor, want)
		}
	})
	t.Run("without a token", func(t *testing.T) { w.get("/v1/me/shows", "").problem(t, http.StatusUnauthorized) })
	t.Run("a buyer", func(t *testing.T) { w.get("/v1/me/shows", buyer).problem(t, http.StatusForbidden) })
}

func TestAPI_Order(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	buyer, buyerToken := w.token(domain.RoleBuyer)
	_, otherBuyer := w.token(domain.RoleBuyer)
	_, admin := w.token(domain.RoleAdmin)
	org, orgToken := w.token(domain.RoleOrganizer)
	show := w.publishedShow(org, "Orders")
	order := w.hold(show, buyer, 2, 1)
	tickets := w.pay(order)
	w.sync()

	t.Run("to its buyer", func(t *testing.T) {
		r := w.get("/v1/orders/"+order.String(), buyerToken)
		var got projections.OrderView
		r.ok(t, &got)
		if got.ID != order || got.Status != "confirmed" || got.TotalCents != 2*1000+3000 || len(got.Tickets) != 3 {
			t.Errorf("got %+v", got)
		}
		if got.Tickets[2].ID != tickets[2].ID || got.Tickets[2].Row != "A" || got.Tickets[2].Seat != 1 {
			t.Errorf("tickets: got %+v, want %+v", got.Tickets, tickets)
		}
		want := sorted("id", "show_id", "buyer_id", "status", "items", "seats", "total_cents", "expires_at", "created_at", "updated_at", "tickets", "show_title", "show_starts_at")
		if got := keys(t, r.body); !reflect.DeepEqual(got, want) {
			t.Errorf("keys: got %v, want %v", got, want)
		}
		var raw struct {
			Seats   []json.RawMessage `json:"seats"`
			Tickets []json.RawMessage `json:"tickets"`
		}
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		if got, want := keys(t, raw.Seats[0]), sorted("section", "row", "seat", "price_cents"); !reflect.DeepEqual(got, want) {
			t.Errorf("seat keys: got %v, want %v", got, want)
		}
		if got, want := keys(t, raw.Tickets[2]), sorted("id", "section", "row", "seat", "code", "checked_in_at", "holder_id"); !reflect.DeepEqual(got, want) {
			t.Errorf("ticket keys: got %v, want %v", got, want)
		}
	})
	t.Run("to an admin", func(t *testing.T) {
		var got projections.OrderView
		w.get("/v1/orders/"+order.String(), admin).ok(t, &got)
		if got.ID != order {
			t.Errorf("got %s, want %s", got.ID, order)
		}
	})
	for name, c := range map[string]struct {
		path, token string
		want        int
	}{
		"to another buyer":        {"/v1/orders/" + order.String(), otherBuyer, http.StatusNotFound},
		"to the show's organizer": {"/v1/orders/" + order.String(), orgToken, http.StatusNotFound},
		"without a token":         {"/v1/orders/" + order.String(), "", http.StatusUnauthorized},
		"an unknown order":        {"/v1/orders/" + uuid.NewString(), buyerToken, http.StatusNotFound},
		"a malformed id":          {"/v1/orders/123", buyerToken, http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) { w.get(c.path, c.token).problem(t, c.want) })
	}
}

func TestAPI_MyOrders(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	buyer, buyerToken := w.token(domain.RoleBuyer)
	show := w.publishedShow(uuid.New(), "Mine")
	var want []uuid.UUID
	for range 3 {
		want = append(want, w.hold(show, buyer, 1))
		w.hold(show, uuid.New(), 1)
	}
	w.pay(want[1])
	w.sync()

	type orderList struct {
		Items      []projections.OrderView `json:"items"`
		NextCursor string                  `json:"next_cursor"`
	}
	var got []uuid.UUID
	path := "/v1/me/orders?limit=2"
	for range 10 {
		var l orderList
		w.get(path, buyerToken).ok(t, &l)
		for _, o := range l.Items {
			got = append(got, o.ID)
			if o.BuyerID != buyer {
				t.Errorf("order %s of buyer %s", o.ID, o.BuyerID)
			}
		}
		if l.NextCursor == "" {
			break
		}
		path = "/v1/me/orders?limit=2&cursor=" + l.NextCursor
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	w.get("/v1/me/orders", "").problem(t, http.StatusUnauthorized)
	w.get("/v1/me/orders?cursor=x", buyerToken).problem(t, http.StatusBadRequest)
}

func TestAPI_MyTickets(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	buyer, buyerToken := w.token(domain.RoleBuyer)
	show := w.publishedShow(uuid.New(), "Tickets")
	order := w.hold(show, buyer, 2, 4)
	tickets := w.pay(order)
	w.pay(w.hold(show, uuid.New(), 1))
	w.sync()

	r := w.get("/v1/me/tickets", buyerToken)
	var got struct {
		Items []projections.BuyerTicket `json:"items"`
	}
	r.ok(t, &got)
	if len(got.Items) != len(tickets) {
		t.Fatalf("got %d tickets, want %d", len(got.Items), len(tickets))
	}
	for i, tk := range got.Items {
		if tk.ID != tickets[i].ID || tk.OrderID != order || tk.ShowID != show || tk.Code != tickets[i].Code || tk.CheckedInAt != nil {
			t.Errorf("ticket %d: got %+v, want %+v", i, tk, tickets[i])
		}
	}
	var raw struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(t, raw.Items[2]), sorted("id", "order_id", "show_id", "section", "row", "seat", "code", "checked_in_at", "holder_id", "show_title", "show_starts_at"); !reflect.DeepEqual(got, want) {
		t.Errorf("keys: got %v, want %v", got, want)
	}
	w.get("/v1/me/tickets", "").problem(t, http.StatusUnauthorized)
	w.get("/v1/me/tickets?limit=1000", buyerToken).problem(t, http.StatusBadRequest)
}

func TestAPI_Sales(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	m := w.managedShows("Sales")
	show, orgToken := m.show, m.orgToken
	want := projections.SalesView{ShowID: show, Sold: 4, RevenueCents: 3*1000 + 3000, Held: 2, OrdersConfirmed: 1}

	for name, c := range m.access(map[string]accessCase{
		"a draft to an admin": {m.draft, m.admin, http.StatusOK},
		"an unknown show":     {uuid.New(), orgToken, http.StatusNotFound},
	}) {
		t.Run(name, func(t *testing.T) {
			r := w.get("/v1/shows/"+c.show.String()+"/sales", c.token)
			if c.want != http.StatusOK {
				r.problem(t, c.want)
				return
			}
			var got projections.SalesView
			r.ok(t, &got)
			if c.show == show && got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
			wantKeys := sorted("show_id", "units_sold", "revenue_cents", "units_held", "units_expired", "units_cancelled", "orders_confirmed", "orders_expired", "orders_cancelled")
			if got := keys(t, r.body); !reflect.DeepEqual(got, wantKeys) {
				t.Errorf("keys: got %v, want %v", got, wantKeys)
			}
		})
	}
	t.Run("a malformed id", func(t *testing.T) {
		w.get("/v1/shows/x/sales", orgToken).problem(t, http.StatusNotFound)
	})
}

func TestAPI_MinPosition(t *testing.T) {
	t.Parallel()

	t.Run("waits until the read models reflect the position", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		show := w.publishedShow(uuid.New(), "Just written")
		pos := w.last
		go func() {
			time.Sleep(200 * time.Millisecond)
			w.start()
		}()
		start := time.Now()
		var got projections.ShowView
		w.get("/v1/shows/"+show.String(), "", "X-Min-Position", pos.String()).ok(t, &got)
		if got.ID != show || got.Status != "on_sale" {
			t.Errorf("got %+v, want the show on sale", got)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered after %v, before the projections could have caught up", d)
		}
	})
	t.Run("a reached position answers at once", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		w.publishedShow(uuid.New(), "Old")
		w.sync()
		var l showList
		w.get("/v1/shows", "", "X-Min-Position", w.last.String()).ok(t, &l)
		if len(l.Items) != 1 {
			t.Errorf("got %d shows, want 1", len(l.Items))
		}
	})
	t.Run("not reached in time", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t) // not started: nothing is projected
		w.publishedShow(uuid.New(), "Unprojected")
		start := time.Now()
		r := w.get("/v1/shows", "", "X-Min-Position", w.last.String())
		r.problem(t, http.StatusServiceUnavailable)
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After: got %q, want 1", got)
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("gave up after %v, before 2s", d)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		for _, h := range []string{"abc", "-1", "1.x", "1.2.3"} {
			p := w.get("/v1/shows", "", "X-Min-Position", h).problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Field != "X-Min-Position" {
				t.Errorf("%q: got errors %+v, want one on X-Min-Position", h, p.Errors)
			}
		}
	})
	t.Run("beyond the log or beyond a bigint: a 400 at once", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		w.publishedShow(uuid.New(), "Only")
		w.sync()
		beyond := domain.PositionAt(w.last.Commit + 1).String()
		for _, h := range []string{beyond, "1000000", "9223372036854775808", "18446744073709551615", "1.9223372036854775808"} {
			start := time.Now()
			p := w.get("/v1/shows", "", "X-Min-Position", h).problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Field != "X-Min-Position" {
				t.Errorf("%q: got errors %+v, want one on X-Min-Position", h, p.Errors)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("%q: answered after %v, want at once", h, d)
			}
		}
	})
	t.Run("a route waits only for the projections it reads", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		// The holds and analytics projections never run (a show reads the
		// waiting list's reserved units too).
		w.runner.Projectors = []projections.Projector{projections.Shows{}, projections.Waitlist{}, projections.Orders{}, projections.Sales{}}
		w.start()
		org, orgToken := w.token(domain.RoleOrganizer)
		show := w.publishedShow(org, "Partly projected")
		start := time.Now()
		var got projections.ShowView
		w.get("/v1/shows/"+show.String(), "", "X-Min-Position", w.last.String()).ok(t, &got)
		var sales projections.SalesView
		w.get("/v1/shows/"+show.String()+"/sales", orgToken, "X-Min-Position", w.last.String()).ok(t, &sales)
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered after %v, want as soon as shows and sales reached the position", d)
		}
		w.get("/v1/shows/"+show.String()+"/analytics", orgToken, "X-Min-Position", w.last.String()).problem(t, http.StatusServiceUnavailable)
	})
	t.Run("a parked stream the route reads: a 503 at once naming it", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		good := w.publishedShow(uuid.New(), "Good")
		bad := uuid.New()
		// Appended past the domain's validation: PostgreSQL text cannot
		// hold the NUL of its title.
		w.save(domain.ShowStream(bad), domain.NoStream, []domain.Event{domain.ShowCreated{ShowID: bad, OrganizerID: uuid.New(),
			Title: "Nul\x00", Venue: "V", StartsAt: t0.Add(time.Hour), CreatedAt: t0, Sections: []domain.SectionSpec{{Name: "Floor", PriceCents: 1, Capacity: 1}}}})
		w.sync()
		start := time.Now()
		r := w.get("/v1/shows/"+bad.String(), "", "X-Min-Position", w.last.String())
		p := r.problem(t, http.StatusServiceUnavailable)
		if p.Type != "urn:problem:ticketing:stream-parked" || !strings.Contains(p.Detail, domain.ShowStream(bad)) || !strings.Contains(p.Detail, "shows") {
			t.Errorf("problem: got %+v, want stream-parked naming %s and the projection", p, domain.ShowStream(bad))
		}
		if strings.Contains(p.Detail, "0x00") {
			t.Errorf("detail shows the internal error: %q", p.Detail)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("answered after %v, want at once", d)
		}
		// Reads that do not need the stream are not held back.
		var got projections.ShowView
		w.get("/v1/shows/"+good.String(), "", "X-Min-Position", w.last.String()).ok(t, &got)
		var l showList
		w.get("/v1/shows", "", "X-Min-Position", w.last.String()).ok(t, &l)
		if len(l.Items) != 1 {
			t.Errorf("got %d shows, want the good one", len(l.Items))
		}
	})
	t.Run("authentication comes first", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t).start()
		start := time.Now()
		w.get("/v1/me/orders", "", "X-Min-Position", "1000000").problem(t, http.StatusUnauthorized)
		if d := time.Since(start); d > time.Second {
			t.Errorf("waited %v before refusing", d)
		}
	})
}

func TestAPI_Routes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, path := range []string{"/v1/shows", "/v1/me/shows", "/v1/me/orders", "/v1/me/tickets"} {
		req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !slices.Contains([]int{http.StatusMethodNotAllowed, http.StatusNotFound}, resp.StatusCode) {
			t.Errorf("POST %s: got %d, want no read route", path, resp.StatusCode)
		}
	}
}

// escaped spells n in base 3 with the characters encoding/json escapes to
// six bytes each ("\u003c"), padded to width: the longest JSON a name of
// width characters can have.
func escaped(n, width int) string {
	b := make([]byte, width)
	for i := range b {
		b[width-1-i] = "<>&"[n%3]
		n /= 3
	}
	return string(b)
}

// Every response of the seat map of a show of the most seats the domain
// allows is bounded: the seat map by its sections, a page by its limit.
// The show makes its pages nearly as large as one can be: 40 sections of
// 500 rows of 10 seats (200,000 seats), so that a page of 5,000 seats holds
// the 500 rows of a whole section, with names and labels of the most
// characters, each escaped to six bytes, and every seat available, the
// longest state. Only the seat numbers are short: two digits, not three.
//
// The bounds, computed: a seat is at most 33 bytes
// ({"seat":500,"state":"available"},), a row adds at most 145
// ({"row":"<120 bytes>","seats":[]},), a page holds at most 500 rows (one
// section's) and its limit of seats, and the envelope (the show id, a
// section name of 600 bytes, a cursor) is under 1,000 bytes: a page of
// MaxSeatLimit seats is under 238,500 bytes, one of DefaultSeatLimit under
// 106,500. A section of the seat map is under 800 bytes.
func TestAPI_Seats_LargestShow(t *testing.T) {
	t.Parallel()
	const (
		sections, rows, seats = 40, 500, 10
		maxPage               = projections.MaxSeatLimit*33 + domain.MaxRowsPerSect*145 + 1000
		maxDefaultPage        = projections.DefaultSeatLimit*33 + domain.MaxRowsPerSect*145 + 1000
		maxSeatMap            = domain.MaxSections*800 + 100
	)
	if sections*rows*seats != domain.MaxUnitsPerShow || rows*seats != projections.MaxSeatLimit {
		t.Fatalf("the show has %d seats, %d a section: want %d and %d", sections*rows*seats, rows*seats, domain.MaxUnitsPerShow, projections.MaxSeatLimit)
	}
	w := newWorld(t).start()
	specs := make([]domain.SectionSpec, sections)
	for i := range specs {
		specs[i] = domain.SectionSpec{Name: escaped(i, domain.MaxNameLen), PriceCents: 1}
		for j := range rows {
			specs[i].Rows = append(specs[i].Rows, domain.RowSpec{Label: escaped(j, domain.MaxLabelLen), Seats: seats})
		}
	}
	start := time.Now()
	show := w.createShowOf(uuid.New(), "Stadium", specs)
	w.publish(show)
	w.syncWithin(time.Minute) // 2 s alone, more beside the package's other tests
	t.Logf("%d seats projected in %v", domain.MaxUnitsPerShow, time.Since(start))
	path := "/v1/shows/" + show.String() + "/seats"

	r := w.get(path, "")
	var m projections.SeatMap
	r.ok(t, &m)
	if len(m.Sections) != sections || len(r.body) > maxSeatMap {
		t.Errorf("seat map: %d sections in %d bytes, want %d in at most %d", len(m.Sections), len(r.body), sections, maxSeatMap)
	}
	t.Logf("seat map: %d bytes", len(r.body))

	largest, total, bytes := 0, 0, 0
	for i, sec := range m.Sections {
		if sec.Name != specs[i].Name || sec.Rows != rows || sec.Capacity != rows*seats || sec.Available != rows*seats {
			t.Fatalf("section %d: got %+v", i, sec)
		}
		q := path + "?section=" + url.QueryEscape(sec.Name) + "&limit=" + strconv.Itoa(projections.MaxSeatLimit)
		r := w.get(q, "")
		var p seatPage
		r.ok(t, &p)
		n := 0
		for j, row := range p.Rows {
			if row.Label != specs[i].Rows[j].Label || len(row.Seats) != seats || row.Seats[seats-1] != (projections.SeatMapSeat{Seat: seats, State: "available"}) {
				t.Fatalf("section %d, row %d: got %+v", i, j, row)
			}
			n += len(row.Seats)
		}
		if len(p.Rows) != rows || n != projections.MaxSeatLimit {
			t.Fatalf("section %d: got %d rows, %d seats in a page, want %d and %d", i, len(p.Rows), n, rows, projections.MaxSeatLimit)
		}
		largest, total, bytes = max(largest, len(r.body)), total+n, bytes+len(r.body)
	}
	if largest > maxPage {
		t.Errorf("the largest page has %d bytes, want at most %d", largest, maxPage)
	}
	if total != domain.MaxUnitsPerShow {
		t.Errorf("pages held %d seats, want %d", total, domain.MaxUnitsPerShow)
	}
	t.Logf("pages of %d seats: at most %d bytes; %d seats in %d bytes in all", projections.MaxSeatLimit, largest, total, bytes)

	r = w.get(path+"?section="+url.QueryEscape(m.Sections[0].Name), "")
	var p seatPage
	r.ok(t, &p)
	n := 0
	for _, row := range p.Rows {
		n += len(row.Seats)
	}
	if n != projections.DefaultSeatLimit || p.NextCursor == "" || len(r.body) > maxDefaultPage {
		t.Errorf("default page: %d seats in %d bytes, cursor %q; want %d in at most %d, and a cursor", n, len(r.body), p.NextCursor, projections.DefaultSeatLimit, maxDefaultPage)
	}
	t.Logf("a page of the default %d seats: %d bytes", projections.DefaultSeatLimit, len(r.body))
}
