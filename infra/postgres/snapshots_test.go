package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// showWithHistory appends a published GA show and events more holds and
// releases to it, and returns its id.
func showWithHistory(tb testing.TB, store *postgres.Store, events int) uuid.UUID {
	tb.Helper()
	ctx := context.Background()
	id := uuid.New()
	t0 := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	history := []domain.Event{
		domain.ShowCreated{ShowID: id, OrganizerID: uuid.New(), Title: "t", Venue: "v", StartsAt: t0,
			Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 100, Capacity: 1000}}},
		domain.ShowPublished{ShowID: id, At: t0},
	}
	for i := 0; len(history) < events; i++ {
		order := uuid.New()
		items := []domain.HeldItem{{Section: "floor", Quantity: 1, UnitPriceCents: 100}}
		history = append(history,
			domain.SeatsHeld{ShowID: id, OrderID: order, BuyerID: order, Items: items, TotalCents: 100, HeldAt: t0, ExpiresAt: t0.Add(time.Minute)},
			domain.SeatsReleased{ShowID: id, OrderID: order, Reason: domain.ReleaseExpired, Items: items, At: t0})
	}
	history = history[:events]
	version := int64(0)
	for len(history) > 0 {
		n := min(len(history), 2000)
		data, err := domain.Encode(history[:n], uuid.New, domain.Metadata{})
		if err != nil {
			tb.Fatal(err)
		}
		res, err := store.Append(ctx, domain.ShowStream(id), version, data)
		if err != nil {
			tb.Fatal(err)
		}
		version, history = res.Version, history[n:]
	}
	return id
}

func newLoader(tb testing.TB, pool *pgxpool.Pool, store *postgres.Store, snapshots bool) *commands.Handler {
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	h := &commands.Handler{Store: store, Registry: reg}
	if snapshots {
		h.Snapshots = postgres.NewSnapshots(pool)
	}
	return commands.NewHandler(h)
}

func TestSnapshots_LoadShow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	id := showWithHistory(t, store, 1001)
	// The snapshot is taken at 1001; a loader must also apply what came
	// after it.
	full, err := newLoader(t, pool, store, false).LoadShow(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	snaps := postgres.NewSnapshots(pool)
	data, _ := json.Marshal(full.Snapshot())
	if err := snaps.Save(ctx, domain.ShowStream(id), 1000, []byte(`{"schema_version":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := snaps.Save(ctx, domain.ShowStream(id), full.Version(), data); err != nil {
		t.Fatal(err)
	}
	if err := snaps.Save(ctx, domain.ShowStream(id), 10, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if v, _, _, _ := snaps.Load(ctx, domain.ShowStream(id)); v != full.Version() {
		t.Fatalf("an older snapshot replaced a newer one: version %d", v)
	}
	got, err := newLoader(t, pool, store, true).LoadShow(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Snapshot()) != fmt.Sprint(full.Snapshot()) || got.Version() != full.Version() {
		t.Fatalf("loaded from the snapshot:\n%+v\nwant\n%+v", got.Snapshot(), full.Snapshot())
	}
}

// BenchmarkLoadShow shows that with snapshots, loading a show with 100,000
// events costs about what loading one with 100 does.
func BenchmarkLoadShow(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	for _, events := range []int{100, 100_000} {
		id := showWithHistory(b, store, events)
		// The snapshot a writer takes every SnapshotEvery events, taken
		// here a few events before the end.
		s, err := newLoader(b, pool, store, false).LoadShow(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(s.Snapshot())
		if err := postgres.NewSnapshots(pool).Save(ctx, domain.ShowStream(id), s.Version(), data); err != nil {
			b.Fatal(err)
		}
		for _, snapshots := range []bool{true, false} {
			if !snapshots && events > 1000 && testing.Short() {
				continue
			}
			h := newLoader(b, pool, store, snapshots)
			b.Run(fmt.Sprintf("events=%d/snapshots=%v", events, snapshots), func(b *testing.B) {
				for b.Loop() {
					if _, err := h.LoadShow(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// A writer snapshots its show every SnapshotEvery events, in the background;
// a loader from that snapshot gets the show its events make.
func TestSnapshots_TakenByWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := postgres.NewStore(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	snaps := postgres.NewSnapshots(pool)
	h := commands.NewHandler(&commands.Handler{Store: store, Registry: reg, Snapshots: snaps, SnapshotEvery: 10})
	org := domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}
	show, err := h.CreateShow(ctx, org, domain.CreateShow{Title: "Gig", Venue: "Hall", StartsAt: time.Now().Add(time.Hour),
		Sections: []domain.SectionSpec{{Name: "floor", PriceCents: 500, Capacity: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.PublishShow(ctx, org, show.ID); err != nil {
		t.Fatal(err)
	}
	// A snapshot is skipped while the one before is still being saved, and
	// taken at a later append: hold until one at version 20 or later lands.
	holds := 0
	for {
		v, _, ok, err := snaps.Load(ctx, domain.ShowStream(show.ID))
		if err != nil {
			t.Fatal(err)
		}
		if ok && v >= 20 {
			break
		}
		if holds == 500 {
			t.Fatalf("no snapshot at version 20 or later after %d holds; latest %d (%v)", holds, v, ok)
		}
		buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		if _, err := h.PlaceOrder(ctx, buyer, commands.PlaceOrder{ShowID: show.ID, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}); err != nil {
			t.Fatal(err)
		}
		holds++
		time.Sleep(time.Millisecond)
	}
	full, err := newLoader(t, pool, store, false).LoadShow(ctx, show.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newLoader(t, pool, store, true).LoadShow(ctx, show.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Snapshot()) != fmt.Sprint(full.Snapshot()) || got.Version() != full.Version() || got.Available("floor") != 1000-holds {
		t.Fatalf("loaded from the snapshot:\n%+v\nwant\n%+v", got.Snapshot(), full.Snapshot())
	}
}
