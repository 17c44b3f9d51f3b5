package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// The known history of the analysts' tests: one show on 21 November 2026,
// told event by event with the time each was recorded. Order A's hold is
// stored in the shape of show.seats_held version 1, before hold_ttl_seconds.
var (
	h0     = time.Date(2026, 11, 21, 19, 0, 0, 0, time.UTC)
	hShow  = uuid.MustParse("0195f000-0000-7000-8000-00000000a001")
	hOrg   = uuid.MustParse("0195f000-0000-7000-8000-00000000b001")
	hBuyer = uuid.MustParse("0195f000-0000-7000-8000-00000000c001")
	hA     = uuid.MustParse("0195f000-0000-7000-8000-00000000d00a")
	hB     = uuid.MustParse("0195f000-0000-7000-8000-00000000d00b")
	hC     = uuid.MustParse("0195f000-0000-7000-8000-00000000d00c")
	hD     = uuid.MustParse("0195f000-0000-7000-8000-00000000d00d")
	hE     = uuid.MustParse("0195f000-0000-7000-8000-00000000d00e")
)

// at returns the time of the history at hh:mm:ss after 19:00.
func at(min, sec int) time.Time {
	return h0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

// historyEvent is an event of the known history: a domain event, or data
// in an old shape as it was stored then.
type historyEvent struct {
	stream string
	at     time.Time
	event  domain.Event
	oldTyp string // with old: the type and data stored as they are, without a schema version
	old    string
}

func floor(n int, price int64) []domain.HeldItem {
	return []domain.HeldItem{{Section: "floor", Quantity: n, UnitPriceCents: price}}
}

func seat(n int) []domain.HeldSeat {
	return []domain.HeldSeat{{SeatRef: domain.SeatRef{Section: "balcony", Row: "A", Seat: n}, PriceCents: 900}}
}

func held(order uuid.UUID, items []domain.HeldItem, seats []domain.HeldSeat, total int64, t time.Time) domain.SeatsHeld {
	return domain.SeatsHeld{ShowID: hShow, OrderID: order, BuyerID: hBuyer, Items: items, Seats: seats, TotalCents: total,
		HeldAt: t, ExpiresAt: t.Add(15 * time.Minute), HoldTTLSeconds: 900}
}

func placed(h domain.SeatsHeld) domain.OrderPlaced {
	return domain.OrderPlaced{OrderID: h.OrderID, ShowID: h.ShowID, BuyerID: h.BuyerID, Items: h.Items, Seats: h.Seats,
		TotalCents: h.TotalCents, PlacedAt: h.HeldAt, ExpiresAt: h.ExpiresAt}
}

func confirmed(order uuid.UUID, total int64, t time.Time) domain.OrderConfirmed {
	return domain.OrderConfirmed{OrderID: order, ShowID: hShow, BuyerID: hBuyer, PaymentID: "pay-" + order.String()[len(order.String())-3:],
		TotalCents: total, Tickets: []domain.Ticket{{ID: order, Section: "floor", Code: "CODE"}}, ConfirmedAt: t}
}

// knownHistory is, in log order:
//
//	19:00 the show is created (floor: 10 units at 5.00; balcony: row A, seats 1-3 at 9.00), 19:01 published
//	19:10 A holds 2 floor units (stored as version 1: a 10-minute hold), 19:18 A pays, 19:18:01 the show sells them
//	19:15 B holds seat A/1, 19:22 B cancels, 19:22:01 the show releases it
//	19:20 C holds seat A/2 and 1 floor unit, 19:35:30 C expires, 19:35:31 the show releases them
//	20:05 D holds seat A/3, 20:07 D pays, 20:30 the show sells it (late: the process died in between)
//	20:00 E holds 1 floor unit, 20:10 E pays, 20:10:01 the show sells it
func knownHistory() []historyEvent {
	show, sh := domain.ShowStream(hShow), func(id uuid.UUID) string { return domain.OrderStream(id) }
	hb, hc, hd, he := held(hB, nil, seat(1), 900, at(15, 0)), held(hC, floor(1, 500), seat(2), 1400, at(20, 0)),
		held(hD, nil, seat(3), 900, at(65, 0)), held(hE, floor(1, 500), nil, 500, at(60, 0))
	oldA := `{"show_id":"` + hShow.String() + `","order_id":"` + hA.String() + `","buyer_id":"` + hBuyer.String() +
		`","items":[{"section":"floor","quantity":2,"unit_price_cents":500}],"total_cents":1000,` +
		`"held_at":"2026-11-21T19:10:00Z","expires_at":"2026-11-21T19:20:00Z"}`
	placedA := domain.OrderPlaced{OrderID: hA, ShowID: hShow, BuyerID: hBuyer, Items: floor(2, 500), TotalCents: 1000,
		PlacedAt: at(10, 0), ExpiresAt: at(20, 0)}
	return []historyEvent{
		{stream: show, at: at(0, 0), event: domain.ShowCreated{ShowID: hShow, OrganizerID: hOrg, Title: "Night Gig", Venue: "Main Hall",
			StartsAt: h0.Add(48 * time.Hour), CreatedAt: at(0, 0), Sections: []domain.SectionSpec{
				{Name: "floor", PriceCents: 500, Capacity: 10},
				{Name: "balcony", PriceCents: 900, Rows: []domain.RowSpec{{Label: "A", Seats: 3}}}}}},
		{stream: show, at: at(1, 0), event: domain.ShowPublished{ShowID: hShow, At: at(1, 0)}},
		{stream: show, at: at(10, 0), oldTyp: "show.seats_held", old: oldA},
		{stream: sh(hA), at: at(10, 0), event: placedA},
		{stream: show, at: at(15, 0), event: hb},
		{stream: sh(hB), at: at(15, 0), event: placed(hb)},
		{stream: sh(hA), at: at(18, 0), event: confirmed(hA, 1000, at(18, 0))},
		{stream: show, at: at(18, 1), event: domain.SeatsSold{ShowID: hShow, OrderID: hA, Items: floor(2, 500), TotalCents: 1000, At: at(18, 1)}},
		{stream: show, at: at(20, 0), event: hc},
		{stream: sh(hC), at: at(20, 0), event: placed(hc)},
		{stream: sh(hB), at: at(22, 0), event: domain.OrderCancelled{OrderID: hB, ShowID: hShow, At: at(22, 0)}},
		{stream: show, at: at(22, 1), event: domain.SeatsReleased{ShowID: hShow, OrderID: hB, Reason: domain.ReleaseCancelled, Seats: seat(1), At: at(22, 1)}},
		{stream: sh(hC), at: at(35, 30), event: domain.OrderExpired{OrderID: hC, ShowID: hShow, At: at(35, 30)}},
		{stream: show, at: at(35, 31), event: domain.SeatsReleased{ShowID: hShow, OrderID: hC, Reason: domain.ReleaseExpired, Items: floor(1, 500), Seats: seat(2), At: at(35, 31)}},
		{stream: show, at: at(60, 0), event: he},
		{stream: sh(hE), at: at(60, 0), event: placed(he)},
		{stream: show, at: at(65, 0), event: hd},
		{stream: sh(hD), at: at(65, 0), event: placed(hd)},
		{stream: sh(hD), at: at(67, 0), event: confirmed(hD, 900, at(67, 0))},
		{stream: sh(hE), at: at(70, 0), event: confirmed(hE, 500, at(70, 0))},
		{stream: show, at: at(70, 1), event: domain.SeatsSold{ShowID: hShow, OrderID: hE, Items: floor(1, 500), TotalCents: 500, At: at(70, 1)}},
		{stream: show, at: at(90, 0), event: domain.SeatsSold{ShowID: hShow, OrderID: hD, Seats: seat(3), TotalCents: 900, At: at(90, 0)}},
	}
}

// seedHistory stores the known history in the event store of the database
// at dbURL as it was recorded then, at its own times, and returns the pool.
func seedHistory(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.Connect(t, dbURL)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var head int64
	if err := tx.QueryRow(ctx, "select position from log_head for update").Scan(&head); err != nil {
		t.Fatal(err)
	}
	versions := map[string]int64{}
	for _, h := range knownHistory() {
		typ, data, meta := h.oldTyp, []byte(h.old), []byte(`{"user_id":"`+hBuyer.String()+`"}`)
		if h.event != nil {
			enc, err := domain.Encode([]domain.Event{h.event}, uuid.New, domain.Metadata{UserID: hBuyer.String()})
			if err != nil {
				t.Fatal(err)
			}
			typ, data, meta = enc[0].Type, enc[0].Data, enc[0].Metadata
		}
		head++
		versions[h.stream]++
		if _, err := tx.Exec(ctx, `insert into events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
			values ($1, $2, $3, $4, $5, $6, $7, $8)`, head, uuid.New(), h.stream, versions[h.stream], typ, data, meta, h.at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, "update log_head set position = $1", head); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return pool
}

// jsonLines decodes JSON lines: one object on each line.
func jsonLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not a JSON object on a line: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// historyStore returns the event store of the database at dbURL and a
// registry of the domain's events.
func historyStore(t *testing.T, dbURL string) (*postgres.Store, *domain.Registry) {
	t.Helper()
	store, err := postgres.NewStore(context.Background(), pgtest.Connect(t, dbURL))
	if err != nil {
		t.Fatal(err)
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	return store, registry
}
