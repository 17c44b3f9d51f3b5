package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// runJSON runs a subcommand into a file and decodes its JSON into v.
func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	if err := run(context.Background(), append(args, "--output", path), env{}.get, quiet, nil); err != nil {
		t.Fatalf("ticketing %q: %v", args, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
}

// counts is a section's available, held and sold units.
type counts struct{ available, held, sold int }

func TestStateCmd(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	seedHistory(t, db)
	show, orderA, orderC := domain.ShowStream(hShow), domain.OrderStream(hA), domain.OrderStream(hC)
	state := func(t *testing.T, args ...string) stateView {
		t.Helper()
		var v stateView
		runJSON(t, &v, append([]string{"state", "--database-url", db}, args...)...)
		return v
	}
	sections := func(t *testing.T, v stateView) (floor, balcony counts) {
		t.Helper()
		if v.Show == nil || len(v.Show.Sections) != 2 {
			t.Fatalf("not a show with two sections: %+v", v)
		}
		f, b := v.Show.Sections[0], v.Show.Sections[1]
		return counts{f.Available, f.Held, f.Sold}, counts{b.Available, b.Held, b.Sold}
	}
	holds := func(v stateView) []uuid.UUID {
		var out []uuid.UUID
		for _, h := range v.Show.Holds {
			out = append(out, h.OrderID)
		}
		slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return out
	}

	t.Run("a show at a version, published", func(t *testing.T) {
		t.Parallel()
		v := state(t, "--stream", show, "--version", "2")
		floor, balcony := sections(t, v)
		if v.Version != 2 || v.Position != "2" || !v.RecordedAt.Equal(at(1, 0)) || v.Show.Status != domain.ShowStatusOnSale ||
			v.Show.Title != "Night Gig" || floor != (counts{10, 0, 0}) || balcony != (counts{3, 0, 0}) || len(v.Show.Holds) != 0 {
			t.Errorf("got %+v %+v %+v", v, floor, balcony)
		}
	})
	t.Run("a show at a version, with a hold stored in the old shape", func(t *testing.T) {
		t.Parallel()
		v := state(t, "--stream", show, "--version", "3")
		floor, _ := sections(t, v)
		if floor != (counts{8, 2, 0}) || len(v.Show.Holds) != 1 {
			t.Fatalf("floor %+v, holds %+v", floor, v.Show.Holds)
		}
		if h := v.Show.Holds[0]; h.OrderID != hA || h.HoldTTLSeconds != 600 || !h.ExpiresAt.Equal(at(20, 0)) {
			t.Errorf("hold = %+v, want A's with the upcast hold_ttl_seconds 600", h)
		}
	})
	t.Run("a show at a moment", func(t *testing.T) {
		t.Parallel()
		v := state(t, "--stream", show, "--at", "2026-11-21T19:21:00Z")
		floor, balcony := sections(t, v)
		if v.Version != 6 || floor != (counts{7, 1, 2}) || balcony != (counts{1, 2, 0}) || !slices.Equal(holds(v), []uuid.UUID{hB, hC}) ||
			!slices.Equal(v.Show.SoldOrders, []uuid.UUID{hA}) {
			t.Errorf("version %d, floor %+v, balcony %+v, holds %v, sold %v", v.Version, floor, balcony, holds(v), v.Show.SoldOrders)
		}
		if got := v.Show.Sections[1].Taken; len(got) != 2 || got[0].Seat != 1 || got[0].Order != hB || got[1].Seat != 2 || got[1].Order != hC {
			t.Errorf("taken seats = %+v", got)
		}
	})
	t.Run("a show at a moment between the payment and the sale", func(t *testing.T) {
		t.Parallel()
		// D paid at 20:07; the show sold D's seat only at 20:30.
		v := state(t, "--stream", show, "--at", "2026-11-21 20:15")
		if _, balcony := sections(t, v); balcony != (counts{2, 1, 0}) || !slices.Equal(holds(v), []uuid.UUID{hD}) {
			t.Errorf("balcony %+v, holds %v", balcony, holds(v))
		}
	})
	t.Run("a show now", func(t *testing.T) {
		t.Parallel()
		v := state(t, "--stream", show)
		floor, balcony := sections(t, v)
		if v.Version != 12 || floor != (counts{7, 0, 3}) || balcony != (counts{2, 0, 1}) || len(v.Show.Holds) != 0 || len(v.Show.SoldOrders) != 3 {
			t.Errorf("version %d, floor %+v, balcony %+v, %+v", v.Version, floor, balcony, v.Show)
		}
	})
	t.Run("an order before and after its payment", func(t *testing.T) {
		t.Parallel()
		before := state(t, "--stream", orderA, "--at", "2026-11-21T19:17:59Z")
		after := state(t, "--stream", orderA, "--version", "2")
		if before.Order == nil || before.Order.Status != domain.OrderStatusHeld || before.Order.TotalCents != 1000 || before.Order.PaymentID != "" {
			t.Errorf("before: %+v", before.Order)
		}
		if after.Order == nil || after.Order.Status != domain.OrderStatusConfirmed || after.Order.PaymentID == "" || len(after.Order.Tickets) != 1 {
			t.Errorf("after: %+v", after.Order)
		}
	})
	t.Run("an order that expired", func(t *testing.T) {
		t.Parallel()
		if v := state(t, "--stream", orderC, "--at", "2026-11-21T19:40:00Z"); v.Order.Status != domain.OrderStatusExpired || v.Version != 2 {
			t.Errorf("got %+v", v.Order)
		}
	})
	t.Run("every id form names the same stream", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ stream, want string }{
			{show, show}, {hShow.String(), show}, {strings.ToUpper(hShow.String()), show}, {`"` + show + `"`, show},
			{orderA, orderA}, {hA.String(), orderA}, {"order-" + strings.ToUpper(hA.String()), orderA},
		} {
			if v := state(t, "--stream", c.stream, "--version", "1"); v.Stream != c.want || v.Version != 1 {
				t.Errorf("--stream %s: stream %s at version %d, want %s at 1", c.stream, v.Stream, v.Version, c.want)
			}
		}
	})
	t.Run("at now", func(t *testing.T) {
		t.Parallel()
		if v := state(t, "--stream", hShow.String(), "--at", "now"); v.Version != 12 || v.Show == nil {
			t.Errorf("--at now: version %d, want 12 (every event)", v.Version)
		}
		if v := state(t, "--stream", show, "--version", "12"); v.Version != 12 {
			t.Errorf("--version 12 (the last): version %d", v.Version)
		}
	})
	t.Run("refusals say why", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--stream", show, "--version", "13"}, "--version 13 is past its end: the stream has 12 events"},
			{[]string{"--stream", orderA, "--version", "3"}, "--version 3 is past its end: the stream has 2 events"},
			{[]string{"--stream", uuid.NewString()}, "no show or order has the id"},
			{[]string{"--stream", "show-none"}, `"none" is not a UUID`},
			{[]string{"--stream", "ticket-1"}, "want a show or order id, show-<uuid> or order-<uuid>"},
			{[]string{"--stream", show, "--at", "now+1h"}, "want now, or now-DURATION"},
		} {
			err := run(context.Background(), append([]string{"state", "--database-url", db, "--output", filepath.Join(t.TempDir(), "out")}, c.args...), env{}.get, quiet, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("state %q: %v, want an error saying %q", c.args, err, c.want)
			}
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{},
			{"--stream", show, "--version", "2", "--at", "2026-11-21T20:00:00Z"},
			{"--stream", show, "--version", "-1"},
			{"--stream", "ticket-1"},
			{"--stream", orderA, "--at", "2026-11-21T19:00:00Z"}, // before the order
			{"--stream", "show-" + uuid.NewString()},
			{"--stream", show, "--at", "later"},
			{"--stream", show, "surplus"},
		} {
			out := filepath.Join(t.TempDir(), "out")
			if err := run(context.Background(), append([]string{"state", "--database-url", db, "--output", out}, args...), env{}.get, quiet, nil); err == nil {
				t.Errorf("state %q succeeded", args)
			}
		}
	})
}

// seatStates returns the state (and pending step) of balcony seats A/1-3.
func seatStates(t *testing.T, inv domain.Inventory) []string {
	t.Helper()
	if len(inv.Sections) != 2 || len(inv.Sections[1].Seats) != 3 {
		t.Fatalf("inventory sections = %+v", inv.Sections)
	}
	var out []string
	for _, s := range inv.Sections[1].Seats {
		st := s.State
		if s.Pending != "" {
			st += "/" + s.Pending
		}
		out = append(out, st)
	}
	return out
}

func TestInventoryCmd(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	seedHistory(t, db)
	cases := []struct {
		name  string
		at    string
		floor counts
		seats []string
		holds []string // order status → state of each open hold, by time held
	}{
		{"on sale", "2026-11-21T19:05:00Z", counts{10, 0, 0}, []string{"available", "available", "available"}, nil},
		{"A paid, B and C holding", "2026-11-21T19:21:00Z", counts{7, 1, 2}, []string{"held", "held", "available"},
			[]string{"held:held", "held:held"}},
		{"B cancelled, the show yet to release", "2026-11-21T19:22:00.5Z", counts{7, 1, 2}, []string{"available/release", "held", "available"},
			[]string{"cancelled:available", "held:held"}},
		{"C ran out, not expired yet", "2026-11-21T19:35:10Z", counts{8, 0, 2}, []string{"available", "available/release", "available"},
			[]string{"held:available"}},
		{"D and E paid, the show yet to sell", "2026-11-21T20:10:00.5Z", counts{7, 0, 3}, []string{"available", "available", "sold/sale"},
			[]string{"confirmed:sold", "confirmed:sold"}},
		{"sold out of balcony seat 3", "2026-11-21T20:40:00Z", counts{7, 0, 3}, []string{"available", "available", "sold"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var inv domain.Inventory
			runJSON(t, &inv, "inventory", "--database-url", db, "--show", hShow.String(), "--at", c.at)
			want, _ := time.Parse(time.RFC3339Nano, c.at)
			f := inv.Sections[0]
			if inv.ShowID != hShow || !inv.At.Equal(want) || f.Name != "floor" || (counts{f.Available, f.Held, f.Sold}) != c.floor {
				t.Errorf("inventory %s at %s, floor %+v; want floor %+v", inv.ShowID, inv.At, f, c.floor)
			}
			if got := seatStates(t, inv); !slices.Equal(got, c.seats) {
				t.Errorf("seats %v, want %v", got, c.seats)
			}
			var holds []string
			for _, h := range inv.Holds {
				holds = append(holds, string(h.OrderStatus)+":"+h.State)
			}
			if !slices.Equal(holds, c.holds) {
				t.Errorf("holds %v, want %v", holds, c.holds)
			}
		})
	}
	t.Run("every id form of the show, at now", func(t *testing.T) {
		t.Parallel()
		for _, show := range []string{hShow.String(), domain.ShowStream(hShow), strings.ToUpper(hShow.String())} {
			var inv domain.Inventory
			runJSON(t, &inv, "inventory", "--database-url", db, "--show", show, "--at", "now")
			if got := seatStates(t, inv); inv.ShowID != hShow || time.Since(inv.At) > time.Minute || !slices.Equal(got, []string{"available", "available", "sold"}) {
				t.Errorf("--show %s --at now: show %s at %s, seats %v", show, inv.ShowID, inv.At, got)
			}
		}
	})
	t.Run("an order is not a show", func(t *testing.T) {
		t.Parallel()
		args := []string{"inventory", "--database-url", db, "--output", filepath.Join(t.TempDir(), "out"), "--show", domain.OrderStream(hA), "--at", "now"}
		if err := run(context.Background(), args, env{}.get, quiet, nil); err == nil || !strings.Contains(err.Error(), "is not a show's stream") {
			t.Errorf("inventory --show order-…: %v, want a refusal naming the show's forms", err)
		}
	})
	t.Run("before the show existed", func(t *testing.T) {
		t.Parallel()
		store, registry := historyStore(t, db)
		if _, err := inventoryAt(context.Background(), store, registry, hShow, h0.Add(-time.Hour)); !errors.Is(err, domain.ErrShowNotFound) {
			t.Errorf("err = %v, want ErrShowNotFound", err)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"--show", hShow.String()},
			{"--at", "2026-11-21T20:00:00Z"},
			{"--show", "x", "--at", "2026-11-21T20:00:00Z"},
			{"--show", uuid.NewString(), "--at", "2026-11-21T20:00:00Z"},
		} {
			out := filepath.Join(t.TempDir(), "out")
			if err := run(context.Background(), append([]string{"inventory", "--database-url", db, "--output", out}, args...), env{}.get, quiet, nil); err == nil {
				t.Errorf("inventory %q succeeded", args)
			}
		}
	})
}
