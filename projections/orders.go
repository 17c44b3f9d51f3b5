package projections

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var _ Projector = Orders{}

// Orders maintains rm_orders and rm_tickets. An OrderExpired without an
// order (a tombstone) changes nothing.
type Orders struct{}

// Name returns NameOrders.
func (Orders) Name() string { return NameOrders }

// Tables returns the tables of the projection.
func (Orders) Tables() []string { return []string{"rm_orders", "rm_tickets"} }

// Apply projects the order events.
func (Orders) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.OrderPlaced:
		seq, err := seqOf(rec)
		if err != nil {
			return err
		}
		items, seats, err := encodeLines(e.Items, e.Seats)
		if err != nil {
			return err
		}
		return db.Exec(ctx, `insert into rm_orders (id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, created_at, updated_at)
			values ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $10)
			on conflict (id) do nothing`,
			e.OrderID, seq, e.ShowID, e.BuyerID, string(domain.OrderStatusHeld), items, seats, e.TotalCents, e.ExpiresAt, e.PlacedAt)
	case domain.OrderConfirmed:
		return confirmOrder(ctx, db, rec, e)
	case domain.OrderCancelled:
		return setOrderStatus(ctx, db, e.OrderID, domain.OrderStatusCancelled, e.At)
	case domain.OrderExpired:
		return setOrderStatus(ctx, db, e.OrderID, domain.OrderStatusExpired, e.At)
	case domain.TicketCheckedIn:
		if err := db.Exec(ctx, `update rm_tickets set checked_in_at = $2 where id = $1 and checked_in_at is null`,
			e.TicketID, e.At); err != nil {
			return err
		}
		return db.Exec(ctx, `update rm_orders set updated_at = $2 where id = $1`, e.OrderID, e.At)
	}
	return nil
}

func encodeLines(items []domain.HeldItem, seats []domain.HeldSeat) (string, string, error) {
	if items == nil {
		items = []domain.HeldItem{}
	}
	if seats == nil {
		seats = []domain.HeldSeat{}
	}
	i, err := json.Marshal(items)
	if err != nil {
		return "", "", err
	}
	s, err := json.Marshal(seats)
	if err != nil {
		return "", "", err
	}
	return string(i), string(s), nil
}

func setOrderStatus(ctx context.Context, db DB, order uuid.UUID, status domain.OrderStatus, at time.Time) error {
	return db.Exec(ctx, `update rm_orders set status = $2, updated_at = $3 where id = $1`, order, string(status), at)
}

func confirmOrder(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.OrderConfirmed) error {
	seq, err := seqOf(rec)
	if err != nil {
		return err
	}
	var buyer uuid.UUID
	err = db.QueryRow(ctx, `update rm_orders set status = $2, payment_id = $3, updated_at = $4 where id = $1 returning buyer_id`,
		e.OrderID, string(domain.OrderStatusConfirmed), e.PaymentID, e.ConfirmedAt).Scan(&buyer)
	if errors.Is(err, ErrNotFound) {
		return nil // never placed: nothing to confirm
	}
	if err != nil {
		return err
	}
	n := len(e.Tickets)
	ids, secs, rows, codes := make([]uuid.UUID, n), make([]string, n), make([]string, n), make([]string, n)
	seats := make([]int32, n)
	for i, t := range e.Tickets {
		ids[i], secs[i], rows[i], seats[i], codes[i] = t.ID, t.Section, t.Row, int32(t.Seat), t.Code
	}
	return db.Exec(ctx, `insert into rm_tickets (id, order_id, show_id, buyer_id, seq, idx, section, row_label, seat, code)
		select t.id, $1, $2, $3, $4, t.idx - 1, t.section, t.row_label, t.seat, t.code
		from unnest($5::uuid[], $6::text[], $7::text[], $8::int[], $9::text[]) with ordinality as t(id, section, row_label, seat, code, idx)
		on conflict (id) do nothing`,
		e.OrderID, e.ShowID, buyer, seq, ids, secs, rows, seats, codes)
}

var _ BatchProjector = Orders{}

// ApplyBatch projects the order events of a batch. Runs of OrderPlaced are
// inserted in one statement; other events are applied one by one.
func (p Orders) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &ordersRun{}, p.Apply)
}

// ordersRun is a run of OrderPlaced events: the first of each order is
// inserted, unless the order is there already, as Apply does.
type ordersRun struct {
	placed keyed[uuid.UUID, placedOrder]
}

type placedOrder struct {
	seq          int64
	show, buyer  uuid.UUID
	items, seats string
	total        int64
	expires, at  time.Time
}

func (r *ordersRun) add(rec domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.OrderPlaced:
		seq, err := seqOf(rec)
		if err != nil {
			return 0, err
		}
		items, seats, err := encodeLines(e.Items, e.Seats)
		if err != nil {
			return 0, err
		}
		if !r.placed.has(e.OrderID) { // placed twice: the first one counts
			*r.placed.get(e.OrderID) = placedOrder{seq, e.ShowID, e.BuyerID, items, seats, e.TotalCents, e.ExpiresAt, e.PlacedAt}
		}
		return runJoined, nil
	case domain.ShowCreated, domain.ShowDetailsChanged, domain.SectionPriceChanged, domain.ShowPublished,
		domain.ShowCancelled, domain.SeatsHeld, domain.SeatsReleased, domain.SeatsSold:
		return runIgnored, nil
	}
	return runAlone, nil
}

func (r *ordersRun) flush(ctx context.Context, db DB) error {
	defer r.placed.reset()
	n := r.placed.len()
	if n == 0 {
		return nil
	}
	seqs, shows, buyers := make([]int64, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	items, seats, totals := make([]string, n), make([]string, n), make([]int64, n)
	expires, ats := make([]time.Time, n), make([]time.Time, n)
	for i, o := range r.placed.vals {
		seqs[i], shows[i], buyers[i] = o.seq, o.show, o.buyer
		items[i], seats[i], totals[i] = o.items, o.seats, o.total
		expires[i], ats[i] = o.expires, o.at
	}
	return db.Exec(ctx, `insert into rm_orders (id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, created_at, updated_at)
		select o.id, o.seq, o.show_id, o.buyer_id, $1::text, o.items::jsonb, o.seats::jsonb, o.total_cents, o.expires_at, o.placed_at, o.placed_at
		from unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::bigint[], $9::timestamptz[], $10::timestamptz[])
			as o(id, seq, show_id, buyer_id, items, seats, total_cents, expires_at, placed_at)
		on conflict (id) do nothing`,
		string(domain.OrderStatusHeld), r.placed.keys, seqs, shows, buyers, items, seats, totals, expires, ats)
}
