package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// BenchmarkExpiry expires the holds of a drop that ran out together, 2,000
// of one show: one by one with Settle, as the expirer did, and 500 at a
// time with SettleMany, as it does now (the expiries and the show's
// releases in one append).
func BenchmarkExpiry(b *testing.B) {
	const holds = 2000
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := commands.NewHandler(&commands.Handler{Store: store, Registry: reg, Now: clock, HoldTTL: time.Minute})
	// drop places the holds of a new show and lets them run out.
	drop := func() (uuid.UUID, []uuid.UUID) {
		org := domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}
		show, err := h.CreateShow(ctx, org, domain.CreateShow{Title: "Drop", Venue: "Arena", StartsAt: clock().Add(48 * time.Hour),
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 100, Capacity: holds}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.PublishShow(ctx, org, show.ID); err != nil {
			b.Fatal(err)
		}
		orders := make([]uuid.UUID, holds)
		var wg sync.WaitGroup
		for i := range orders {
			wg.Go(func() {
				res, err := h.PlaceOrder(ctx, domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer},
					commands.PlaceOrder{ShowID: show.ID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}})
				if err != nil {
					b.Error(err)
				}
				orders[i] = res.ID
			})
		}
		wg.Wait()
		mu.Lock()
		now = now.Add(2 * time.Minute)
		mu.Unlock()
		return show.ID, orders
	}
	check := func(show uuid.UUID) {
		s, err := h.LoadShow(ctx, show)
		if err != nil || s.Available("floor") != holds {
			b.Fatalf("after expiry: %d available, %v", s.Available("floor"), err)
		}
	}
	rates := map[string]float64{}
	for _, way := range []string{"one by one", "500 at a time"} {
		b.Run(way, func(b *testing.B) {
			var took time.Duration
			for b.Loop() {
				b.StopTimer()
				show, orders := drop()
				b.StartTimer()
				start := time.Now()
				if way == "one by one" {
					for _, id := range orders {
						if _, err := h.Settle(ctx, show, id); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					for i := 0; i < len(orders); i += 500 {
						if _, err := h.SettleMany(ctx, show, orders[i:min(i+500, len(orders))]); err != nil {
							b.Fatal(err)
						}
					}
				}
				took += time.Since(start)
				b.StopTimer()
				check(show)
				b.StartTimer()
			}
			rates[way] = float64(holds*b.N) / took.Seconds()
			b.ReportMetric(rates[way], "expiries/s")
		})
	}
	if rates["one by one"] > 0 {
		b.Log(fmt.Sprintf("expiry of %d holds: one by one %.0f/s, 500 at a time %.0f/s (%.1f ×)",
			holds, rates["one by one"], rates["500 at a time"], rates["500 at a time"]/rates["one by one"]))
	}
}
