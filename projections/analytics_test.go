package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/projections"
)

// at is t0 (18:00) plus minutes.
func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// holdAt holds inventory at a moment and places the order.
func (w *world) holdAt(show uuid.UUID, when time.Time, floor int, seats ...int) uuid.UUID {
	w.t.Helper()
	s := w.show(show)
	req := domain.HoldRequest{OrderID: uuid.New(), BuyerID: uuid.New()}
	if floor > 0 {
		req.Items = []domain.ItemRequest{{Section: "Floor", Quantity: floor}}
	}
	for _, n := range seats {
		req.Seats = append(req.Seats, domain.SeatRef{Section: "Box", Row: "A", Seat: n})
	}
	must(w.t, s.Hold(req, when, holdTTL))
	held := s.Changes()[0].(domain.SeatsHeld)
	w.saveShow(s)
	o := domain.NewOrder()
	must(w.t, o.Place(held))
	w.saveOrder(o)
	return req.OrderID
}

// payAt confirms an order at a moment and sells its inventory.
func (w *world) payAt(order uuid.UUID, when time.Time) {
	w.t.Helper()
	o := w.order(order)
	must(w.t, o.Confirm("ch_"+order.String()[:8], when, uuid.New))
	w.saveOrder(o)
	s := w.show(o.ShowID)
	must(w.t, s.Sell(order, when))
	w.saveShow(s)
}

// endAt cancels an order, or expires it, at a moment and releases its
// inventory.
func (w *world) endAt(order uuid.UUID, when time.Time, reason string) {
	w.t.Helper()
	o := w.order(order)
	if reason == domain.ReleaseCancelled {
		must(w.t, o.Cancel(when))
	} else {
		must(w.t, o.Expire(order, o.ShowID, when))
	}
	w.saveOrder(o)
	s := w.show(o.ShowID)
	s.Release(order, reason, when)
	w.saveShow(s)
}

func float(f float64) *float64 { return &f }

// figures renders figures with their optional ratios, for comparison.
func figures(f projections.AnalyticsFigures) string {
	opt := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.4f", *p)
	}
	return fmt.Sprintf("holds %d/%d units, confirmed %d/%d units, %d cents, expired %d, cancelled %d, paid %d, conversion %s, median %s s",
		f.Holds, f.UnitsHeld, f.Confirmed, f.UnitsSold, f.RevenueCents, f.Expired, f.Cancelled, f.Paid, opt(f.Conversion), opt(f.MedianSecondsToPay))
}

// salesDay is a show's sales over two hours, 18:00 to 19:59, and the
// figures they make: orders by hold time
//
//	1: 2 floor units held 18:10, paid 18:20 (600 s)
//	2: 1 seat held 18:30, cancelled 18:40
//	3: 1 floor unit held 18:50, paid 19:04 (840 s)
//	4: 3 floor units held 19:10, expired 19:26
//	5: 1 floor unit held 19:20, still held
//	6: 1 floor unit held 19:30, paid 19:31 (60 s)
//
// and the expiry tombstone of an order never placed.
func salesDay(w *world) (uuid.UUID, projections.AnalyticsView) {
	w.t.Helper()
	show := w.publishedShow(uuid.New(), "Analytics", ga("Floor", 1000, 100), seated("Box", 3000, 4))
	o1 := w.holdAt(show, at(10), 2)
	w.payAt(o1, at(20))
	o2 := w.holdAt(show, at(30), 0, 1)
	w.endAt(o2, at(40), domain.ReleaseCancelled)
	o3 := w.holdAt(show, at(50), 1)
	w.payAt(o3, at(64))
	o4 := w.holdAt(show, at(70), 3)
	w.endAt(o4, at(86), domain.ReleaseExpired)
	w.holdAt(show, at(80), 1)
	o6 := w.holdAt(show, at(90), 1)
	w.payAt(o6, at(91))
	never, _ := w.holdOnly(show, uuid.New(), []domain.ItemRequest{{Section: "Floor", Quantity: 1}}, nil)
	w.expire(show, never)

	h18 := projections.AnalyticsFigures{Holds: 3, UnitsHeld: 4, Confirmed: 1, UnitsSold: 2, RevenueCents: 2000, Cancelled: 1,
		Paid: 2, Conversion: float(2.0 / 3), MedianSecondsToPay: float(720)}
	h19 := projections.AnalyticsFigures{Holds: 3, UnitsHeld: 5, Confirmed: 2, UnitsSold: 2, RevenueCents: 2000, Expired: 1,
		Paid: 1, Conversion: float(1.0 / 3), MedianSecondsToPay: float(60)}
	return show, projections.AnalyticsView{
		ShowID: show,
		Totals: projections.AnalyticsFigures{Holds: 6, UnitsHeld: 9, Confirmed: 3, UnitsSold: 4, RevenueCents: 4000, Expired: 1, Cancelled: 1,
			Paid: 3, Conversion: float(0.5), MedianSecondsToPay: float(600)},
		Hours: []projections.AnalyticsHour{{Hour: at(0), AnalyticsFigures: h18}, {Hour: at(60), AnalyticsFigures: h19}},
	}
}

func TestAnalytics_Apply(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	show, want := salesDay(w)
	other := w.publishedShow(uuid.New(), "Other", ga("Floor", 700, 10))
	w.payAt(w.holdAt(other, at(5), 1), at(6))
	w.sync()

	t.Run("a show's hours", func(t *testing.T) {
		t.Parallel()
		got, err := w.q.Analytics(ctx, show)
		if err != nil {
			t.Fatal(err)
		}
		if got.ShowID != want.ShowID || len(got.Hours) != len(want.Hours) {
			t.Fatalf("got %+v", got)
		}
		if g, w := figures(got.Totals), figures(want.Totals); g != w {
			t.Errorf("totals:\n got %s\nwant %s", g, w)
		}
		for i := range want.Hours {
			if !got.Hours[i].Hour.Equal(want.Hours[i].Hour) || got.Hours[i].Hour.Location() != time.UTC {
				t.Errorf("hour %d starts at %v, want %v", i, got.Hours[i].Hour, want.Hours[i].Hour)
			}
			if g, w := figures(got.Hours[i].AnalyticsFigures), figures(want.Hours[i].AnalyticsFigures); g != w {
				t.Errorf("hour %s:\n got %s\nwant %s", want.Hours[i].Hour.Format("15:04"), g, w)
			}
		}
	})
	t.Run("another show's hours", func(t *testing.T) {
		t.Parallel()
		got, err := w.q.Analytics(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Hours) != 1 || got.Totals.Confirmed != 1 || got.Totals.RevenueCents != 700 || got.Totals.Conversion == nil ||
			*got.Totals.Conversion != 1 || got.Totals.MedianSecondsToPay == nil || *got.Totals.MedianSecondsToPay != 60 {
			t.Errorf("got %s in %d hours", figures(got.Totals), len(got.Hours))
		}
	})
	t.Run("a show without orders", func(t *testing.T) {
		t.Parallel()
		got, err := w.q.Analytics(ctx, uuid.New())
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Hours) != 0 || got.Hours == nil || figures(got.Totals) != figures(projections.AnalyticsFigures{}) {
			t.Errorf("got %+v", got)
		}
	})
}

// A rebuild of the analytics tables from the log, into empty read models,
// gives exactly the tables that live projection built.
func TestAnalytics_Rebuild(t *testing.T) {
	t.Parallel()
	w := newWorld(t).start()
	salesDay(w)
	salesDay(w)
	w.sync()

	rebuilt := postgres.NewReadModels(pgtest.NewPool(t))
	if _, err := projections.Rebuild(context.Background(), w.store.(projections.Reader), rebuilt, w.registry, projections.Analytics{}, 7, nil); err != nil {
		t.Fatal(err)
	}
	for _, table := range (projections.Analytics{}).Tables() {
		live, again := tableDump(t, w.models.DB(), table), tableDump(t, rebuilt.DB(), table)
		if live == "" || live != again {
			t.Errorf("%s: live\n%s\nrebuilt\n%s", table, live, again)
		}
	}
}

// tableDump renders a table's rows in order.
func tableDump(t *testing.T, db projections.DB, table string) string {
	t.Helper()
	var out string
	if err := db.QueryRow(ctx, `select coalesce(string_agg(r::text, E'\n' order by r::text), '') from `+table+` r`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
