package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
)

// The analytics projection is rebuilt by `ticketing replay` like every
// other: a rebuild is identical to what live projection built, repairs
// damage, and the engine serves the result to the show's organizer.
func TestReplay_Analytics(t *testing.T) {
	t.Parallel()
	db, s, w := startSettled(t, 3, 60)
	ctx := context.Background()
	live := dump(t, s.e.pool)
	for _, table := range []string{"rm_analytics_hours", "rm_analytics_orders"} {
		if strings.HasPrefix(live[table], "0 rows") {
			t.Fatalf("%s is empty", table)
		}
	}

	var out strings.Builder
	reports, err := replay(ctx, replayPool(t, db), replayOptions{Projections: []string{"analytics"}, ExpectIdentical: true}, &out, quiet)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	if len(reports) != 1 || !reports[0].Swap.Swapped || len(reports[0].Swap.Diffs) != 2 {
		t.Fatalf("reports %+v", reports)
	}
	for _, d := range reports[0].Swap.Diffs {
		if !d.Same() {
			t.Errorf("%s differs from live: %+v", d.Table, d)
		}
	}
	if got := dump(t, s.e.pool); got["rm_analytics_hours"] != live["rm_analytics_hours"] || got["rm_analytics_orders"] != live["rm_analytics_orders"] {
		t.Errorf("after the replay:\n got %v\nwant %v", got, live)
	}

	if _, err := s.e.pool.Exec(ctx, `update rm_analytics_hours set revenue_cents = revenue_cents + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := replay(ctx, replayPool(t, db), replayOptions{Projections: []string{"analytics"}}, &out, quiet); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, s.e.pool); got["rm_analytics_hours"] != live["rm_analytics_hours"] {
		t.Errorf("damage not repaired:\n got %v\nwant %v", got["rm_analytics_hours"], live["rm_analytics_hours"])
	}

	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	registerUser(t, s.e.pool, w.org.UserID, w.org.Role)
	org, _, err := tokens.Issue(w.org)
	if err != nil {
		t.Fatal(err)
	}
	show := w.shows[0].String()
	var placed, paid int
	if err := s.e.pool.QueryRow(ctx, `select count(*) filter (where type = 'order.placed'), count(*) filter (where type = 'order.confirmed')
		from events where data->>'show_id' = $1`, show).Scan(&placed, &paid); err != nil {
		t.Fatal(err)
	}
	r := s.must(200, s.call("GET", "/v1/shows/"+show+"/analytics", org, nil))
	totals, _ := r.body["totals"].(map[string]any)
	if num(totals["orders_held"]) != placed || num(totals["orders_confirmed"]) != paid || num(totals["orders_paid"]) != paid || placed == 0 {
		t.Errorf("totals %v, want %d holds and %d paid", totals, placed, paid)
	}
	s.must(403, s.call("GET", "/v1/shows/"+show+"/analytics", s.token(string(domain.RoleBuyer)), nil))
}
