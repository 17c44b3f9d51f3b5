package projections

import (
	"context"
	"errors"
	"math"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

var _ Projector = Sales{}

// Sales maintains rm_sales, the sales figures of each show. Units (held,
// sold, expired, cancelled) and revenue come from the show's inventory
// events; order counts come from the order events, each order counted once by
// its outcome, through rm_sales_orders. Expiry tombstones of orders never
// placed count no order.
type Sales struct{}

// Name returns NameSales.
func (Sales) Name() string { return NameSales }

// Tables returns the tables of the projection.
func (Sales) Tables() []string { return []string{"rm_sales", "rm_sales_orders"} }

// Apply projects the events that move sales figures.
func (Sales) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.ShowCreated:
		return db.Exec(ctx, `insert into rm_sales (show_id, organizer_id) values ($1, $2)
			on conflict (show_id) do update set organizer_id = excluded.organizer_id`, e.ShowID, e.OrganizerID)
	case domain.SeatsHeld:
		return addSales(ctx, db, e.ShowID, salesDelta{held: units(e.Items, e.Seats)})
	case domain.SeatsSold:
		n := units(e.Items, e.Seats)
		return addSales(ctx, db, e.ShowID, salesDelta{held: -n, sold: n, revenue: e.TotalCents})
	case domain.SeatsReleased:
		d := salesDelta{held: -units(e.Items, e.Seats)}
		switch e.Reason {
		case domain.ReleaseExpired:
			d.expired = -d.held
		case domain.ReleaseCancelled:
			d.cancelled = -d.held
		}
		return addSales(ctx, db, e.ShowID, d)
	case domain.OrderPlaced:
		return db.Exec(ctx, `insert into rm_sales_orders (order_id, show_id, status) values ($1, $2, $3) on conflict (order_id) do nothing`,
			e.OrderID, e.ShowID, string(domain.OrderStatusHeld))
	case domain.OrderConfirmed:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusConfirmed)
	case domain.OrderCancelled:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusCancelled)
	case domain.OrderExpired:
		return countOrder(ctx, db, e.OrderID, domain.OrderStatusExpired)
	case domain.OrderRefunded: // issue 14: money: revenue is net of refunds
		return addSales(ctx, db, e.ShowID, salesDelta{revenue: -e.AmountCents})
	case domain.SeatsReturned: // issue 14: money
		return addSales(ctx, db, e.ShowID, salesDelta{sold: -units(e.Items, e.Seats)})
	}
	return nil
}

// countOrder moves a held order to its outcome and counts it. An
// order that was never placed, or that already has an outcome, counts nothing.
func countOrder(ctx context.Context, db DB, order uuid.UUID, status domain.OrderStatus) error {
	var show uuid.UUID
	err := db.QueryRow(ctx, `update rm_sales_orders set status = $2 where order_id = $1 and status = $3 returning show_id`,
		order, string(status), string(domain.OrderStatusHeld)).Scan(&show)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var d salesDelta
	switch status {
	case domain.OrderStatusConfirmed:
		d.confirmed = 1
	case domain.OrderStatusCancelled:
		d.ordersCancelled = 1
	case domain.OrderStatusExpired:
		d.ordersExpired = 1
	}
	return addSales(ctx, db, show, d)
}

// salesDelta is a change of a show's sales figures.
type salesDelta struct {
	held, sold, expired, cancelled            int
	revenue                                   int64
	confirmed, ordersExpired, ordersCancelled int
	// named: a ShowCreated in the run set the organizer (the last one's
	// counts, as in Apply); for runs only.
	named     bool
	organizer uuid.UUID
}

// organizerOf returns the organizer a run sets, or nil: the column's
// value when the run has no ShowCreated of the show.
func organizerOf(d salesDelta) *uuid.UUID {
	if !d.named {
		return nil
	}
	return &d.organizer
}

// addSales adds d to a show's figures, creating its row if this is the
// first event of the show to arrive: through Kafka, the events of the show's
// orders may come before those of the show.
func addSales(ctx context.Context, db DB, show uuid.UUID, d salesDelta) error {
	return db.Exec(ctx, `insert into rm_sales (show_id, held, sold, revenue_cents, expired, cancelled,
			orders_confirmed, orders_expired, orders_cancelled)
		values ($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint)
		on conflict (show_id) do update set
			held = rm_sales.held + excluded.held, sold = rm_sales.sold + excluded.sold,
			revenue_cents = rm_sales.revenue_cents + excluded.revenue_cents,
			expired = rm_sales.expired + excluded.expired, cancelled = rm_sales.cancelled + excluded.cancelled,
			orders_confirmed = rm_sales.orders_confirmed + excluded.orders_confirmed,
			orders_expired = rm_sales.orders_expired + excluded.orders_expired,
			orders_cancelled = rm_sales.orders_cancelled + excluded.orders_cancelled`,
		show, d.held, d.sold, d.revenue, d.expired, d.cancelled, d.confirmed, d.ordersExpired, d.ordersCancelled)
}

// corruptUnits stands for the units of an event whose quantities are not
// positive or do not add up, as only events stored before the domain
// bounded them have: past every int column, so that the statement fails
// and the event's stream parks, and small enough that a run's sums of it
// never overflow.
const corruptUnits = math.MaxInt32 + 1

// units counts the units of items and seats; see corruptUnits.
func units(items []domain.HeldItem, seats []domain.HeldSeat) int {
	n, ok := domain.UnitsOf(items, seats)
	if !ok || n > corruptUnits {
		return corruptUnits
	}
	return n
}

var _ BatchProjector = Sales{}

// ApplyBatch projects the events of a batch that move sales figures. Runs
// of inventory events and order events are done in a few statements: the
// orders with an outcome in the run are read, their events resolved in
// order as Apply would (each order counted once, by its first outcome while
// held), then each show's figures are moved by the sum of their changes and
// the orders recorded; a ShowCreated sets the organizer in the same
// statement.
func (p Sales) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &salesRun{}, p.Apply)
}

// salesRun is a run of inventory events and order events of the sales
// projection.
type salesRun struct {
	figures keyed[uuid.UUID, salesDelta]
	// orders are the order events of the run, in order.
	orders []salesOrderEvent
	// ended are the orders with an outcome in the run.
	ended keyed[uuid.UUID, struct{}]
}

// salesOrderEvent is an OrderPlaced (status held) or an outcome.
type salesOrderEvent struct {
	order, show uuid.UUID
	status      domain.OrderStatus
}

// salesOrder is an order of rm_sales_orders as a run leaves it.
type salesOrder struct {
	show    uuid.UUID
	status  domain.OrderStatus
	stored  bool // in rm_sales_orders before the run
	changed bool
}

func (r *salesRun) add(_ domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.SeatsHeld:
		r.figures.get(e.ShowID).held += units(e.Items, e.Seats)
	case domain.SeatsSold:
		n := units(e.Items, e.Seats)
		var before int64
		if r.figures.has(e.ShowID) {
			before = r.figures.get(e.ShowID).revenue
		}
		revenue, err := addCents(before, e.TotalCents)
		if err != nil {
			return 0, err
		}
		d := r.figures.get(e.ShowID)
		d.held -= n
		d.sold += n
		d.revenue = revenue
	case domain.SeatsReleased:
		n := units(e.Items, e.Seats)
		d := r.figures.get(e.ShowID)
		d.held -= n
		switch e.Reason {
		case domain.ReleaseExpired:
			d.expired += n
		case domain.ReleaseCancelled:
			d.cancelled += n
		}
	case domain.ShowCreated:
		// The organizer commutes with the figures' sums: one column each.
		d := r.figures.get(e.ShowID)
		d.named, d.organizer = true, e.OrganizerID
	case domain.OrderPlaced:
		r.orders = append(r.orders, salesOrderEvent{e.OrderID, e.ShowID, domain.OrderStatusHeld})
	case domain.OrderConfirmed:
		r.end(e.OrderID, domain.OrderStatusConfirmed)
	case domain.OrderCancelled:
		r.end(e.OrderID, domain.OrderStatusCancelled)
	case domain.OrderExpired:
		r.end(e.OrderID, domain.OrderStatusExpired)
	case domain.ShowDetailsChanged, domain.SectionPriceChanged, domain.ShowPublished, domain.ShowCancelled, domain.TicketCheckedIn:
		return runIgnored, nil
	default:
		return runAlone, nil
	}
	return runJoined, nil
}

func (r *salesRun) end(order uuid.UUID, status domain.OrderStatus) {
	r.orders = append(r.orders, salesOrderEvent{order: order, status: status})
	r.ended.get(order)
}

func (r *salesRun) flush(ctx context.Context, db DB) error {
	defer r.reset()
	if r.figures.len() == 0 && len(r.orders) == 0 {
		return nil
	}
	c, copying := copier(db)
	if !copying {
		return r.flushWith(ctx, db, r.ended.keys, nil, false)
	}
	// Optimistically, as a rebuild's orders are new: only those the run
	// ends and does not place are read, and those it places copied.
	// Should one be there already, the COPY fails, and the run is done
	// again after looking them all up.
	placed := map[uuid.UUID]bool{}
	for _, ev := range r.orders {
		if ev.status == domain.OrderStatusHeld {
			placed[ev.order] = true
		}
	}
	err := c.Try(ctx, func() error { return r.flushWith(ctx, db, without(r.ended.keys, placed), c, true) })
	if err == nil || ctx.Err() != nil {
		return err
	}
	// Every order placed is looked up too: those resolve then finds new
	// are known to be new, and can be copied (issue 17: rebuilds).
	for id := range placed {
		r.ended.get(id)
	}
	return r.flushWith(ctx, db, r.ended.keys, c, false)
}

// flushWith reads the orders of ids, resolves the run and writes it, the
// orders it places copied with c when not nil; all as copyRows.
func (r *salesRun) flushWith(ctx context.Context, db DB, ids []uuid.UUID, c Copier, all bool) error {
	known, err := r.load(ctx, db, ids)
	if err != nil {
		return err
	}
	w := r.resolve(known)
	copied, err := copyRows(ctx, c, all, "rm_sales_orders", []string{"order_id", "show_id", "status"}, w.placed.len(), func(i int) []any {
		return []any{w.placed.keys[i], w.placed.vals[i].show, string(w.placed.vals[i].status)}
	})
	if err != nil {
		return err
	}
	if copied {
		w.placed.reset()
	}
	if r.ended.len() == 0 {
		return w.writeInventory(ctx, db)
	}
	return w.write(ctx, db)
}

// reset empties the run.
func (r *salesRun) reset() {
	r.figures.reset()
	r.ended.reset()
	r.orders = r.orders[:0]
}

// load reads the orders of ids, as they stand before the run, in one
// query.
func (r *salesRun) load(ctx context.Context, db DB, ids []uuid.UUID) (known keyed[uuid.UUID, salesOrder], err error) {
	if len(ids) == 0 {
		return known, nil
	}
	err = queryEach(ctx, db, func(rows Rows) error {
		var id uuid.UUID
		var o salesOrder
		if err := rows.Scan(&id, &o.show, (*string)(&o.status)); err != nil {
			return err
		}
		o.stored = true
		*known.get(id) = o
		return nil
	}, `select order_id, show_id, status from rm_sales_orders where order_id = any($1::uuid[])`, ids)
	return known, err
}

// salesWrite is what a run of the sales projection writes.
type salesWrite struct {
	// figures are the changes of each show's figures.
	figures keyed[uuid.UUID, salesDelta]
	// placed are the orders to insert (unless there already, for those
	// not read), updated those stored before the run that it changes:
	// distinct rows.
	placed, updated keyed[uuid.UUID, salesOrder]
}

// resolve applies the run's order events in order, as Apply does, to the
// orders known before the run (see load), and returns what to write with
// the run's figures: an order counts its first placing, and its first
// outcome while held.
func (r *salesRun) resolve(known keyed[uuid.UUID, salesOrder]) *salesWrite {
	w := &salesWrite{}
	for i, show := range r.figures.keys {
		*w.figures.get(show) = r.figures.vals[i]
	}
	for _, ev := range r.orders {
		if ev.status == domain.OrderStatusHeld {
			if r.ended.has(ev.order) {
				if !known.has(ev.order) {
					*known.get(ev.order) = salesOrder{show: ev.show, status: domain.OrderStatusHeld}
				}
			} else if !w.placed.has(ev.order) {
				*w.placed.get(ev.order) = salesOrder{show: ev.show, status: domain.OrderStatusHeld}
			}
			continue
		}
		if !known.has(ev.order) {
			continue // never placed: counts nothing
		}
		o := known.get(ev.order)
		if o.status != domain.OrderStatusHeld {
			continue // counted already
		}
		o.status, o.changed = ev.status, true
		d := w.figures.get(o.show)
		switch ev.status {
		case domain.OrderStatusConfirmed:
			d.confirmed++
		case domain.OrderStatusCancelled:
			d.ordersCancelled++
		case domain.OrderStatusExpired:
			d.ordersExpired++
		}
	}
	for i, o := range known.vals {
		switch {
		case !o.stored:
			*w.placed.get(known.keys[i]) = o
		case o.changed:
			*w.updated.get(known.keys[i]) = o
		}
	}
	return w
}

// write writes the figures and orders of a run in one statement: as
// addSales, countOrder and the insert of OrderPlaced; the three touch
// distinct rows.
func (w *salesWrite) write(ctx context.Context, db DB) error {
	f := w.figures.vals
	return db.Exec(ctx, `with figures as (
			insert into rm_sales (show_id, held, sold, revenue_cents, expired, cancelled,
				orders_confirmed, orders_expired, orders_cancelled, organizer_id)
			select * from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
				$7::bigint[], $8::bigint[], $9::bigint[], $15::uuid[])
			on conflict (show_id) do update set
				organizer_id = coalesce(excluded.organizer_id, rm_sales.organizer_id),
				held = rm_sales.held + excluded.held, sold = rm_sales.sold + excluded.sold,
				revenue_cents = rm_sales.revenue_cents + excluded.revenue_cents,
				expired = rm_sales.expired + excluded.expired, cancelled = rm_sales.cancelled + excluded.cancelled,
				orders_confirmed = rm_sales.orders_confirmed + excluded.orders_confirmed,
				orders_expired = rm_sales.orders_expired + excluded.orders_expired,
				orders_cancelled = rm_sales.orders_cancelled + excluded.orders_cancelled),
		ended as (
			update rm_sales_orders s set status = u.status
			from unnest($10::uuid[], $11::text[]) as u(order_id, status)
			where s.order_id = u.order_id)
		insert into rm_sales_orders (order_id, show_id, status)
		select * from unnest($12::uuid[], $13::uuid[], $14::text[])
		on conflict (order_id) do nothing`,
		w.figures.keys, column(f, func(d salesDelta) int64 { return int64(d.held) }),
		column(f, func(d salesDelta) int64 { return int64(d.sold) }), column(f, func(d salesDelta) int64 { return d.revenue }),
		column(f, func(d salesDelta) int64 { return int64(d.expired) }), column(f, func(d salesDelta) int64 { return int64(d.cancelled) }),
		column(f, func(d salesDelta) int64 { return int64(d.confirmed) }),
		column(f, func(d salesDelta) int64 { return int64(d.ordersExpired) }),
		column(f, func(d salesDelta) int64 { return int64(d.ordersCancelled) }),
		w.updated.keys, column(w.updated.vals, func(o salesOrder) string { return string(o.status) }),
		w.placed.keys, column(w.placed.vals, func(o salesOrder) uuid.UUID { return o.show }),
		column(w.placed.vals, func(o salesOrder) string { return string(o.status) }),
		column(f, organizerOf))
}

// writeInventory is the write of a run without outcomes, in simpler
// statements: the figures moved by inventory events, and the orders placed
// recorded unless there already.
func (w *salesWrite) writeInventory(ctx context.Context, db DB) error {
	if f := w.figures.vals; len(f) > 0 {
		// As addSales; the order counts do not change.
		if err := db.Exec(ctx, `insert into rm_sales (show_id, held, sold, revenue_cents, expired, cancelled, organizer_id)
			select * from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::uuid[])
			on conflict (show_id) do update set
				organizer_id = coalesce(excluded.organizer_id, rm_sales.organizer_id),
				held = rm_sales.held + excluded.held, sold = rm_sales.sold + excluded.sold,
				revenue_cents = rm_sales.revenue_cents + excluded.revenue_cents,
				expired = rm_sales.expired + excluded.expired, cancelled = rm_sales.cancelled + excluded.cancelled`,
			w.figures.keys, column(f, func(d salesDelta) int64 { return int64(d.held) }),
			column(f, func(d salesDelta) int64 { return int64(d.sold) }), column(f, func(d salesDelta) int64 { return d.revenue }),
			column(f, func(d salesDelta) int64 { return int64(d.expired) }),
			column(f, func(d salesDelta) int64 { return int64(d.cancelled) }), column(f, organizerOf)); err != nil {
			return err
		}
	}
	if w.placed.len() == 0 {
		return nil
	}
	return db.Exec(ctx, `insert into rm_sales_orders (order_id, show_id, status)
		select o.order_id, o.show_id, $3::text from unnest($1::uuid[], $2::uuid[]) as o(order_id, show_id)
		on conflict (order_id) do nothing`,
		w.placed.keys, column(w.placed.vals, func(o salesOrder) uuid.UUID { return o.show }), string(domain.OrderStatusHeld))
}
