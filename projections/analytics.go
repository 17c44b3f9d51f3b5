package projections

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// NameAnalytics is the name of the analytics projection.
const NameAnalytics = "analytics"

var _ Projector = Analytics{}

// Analytics maintains rm_analytics_hours, what happened to each show's
// orders hour by hour (held, paid, cancelled, expired; units and revenue),
// and rm_analytics_orders, each order's hold time and outcome, from which
// conversion and the time from hold to payment are computed. It reads only
// order streams, each in its own order; the hours come from the times the
// events carry (UTC), so a replay builds the same rows. Expiry tombstones of
// orders never placed count nothing. The tables are created by the migration
// schema/00009_analytics.sql.
type Analytics struct{}

// Name returns NameAnalytics.
func (Analytics) Name() string { return NameAnalytics }

// Tables returns the tables of the projection.
func (Analytics) Tables() []string { return []string{"rm_analytics_hours", "rm_analytics_orders"} }

// hourOf is the hour of t, in UTC.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Apply projects the events of orders.
func (Analytics) Apply(ctx context.Context, db DB, _ domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.OrderPlaced:
		n := units(e.Items, e.Seats)
		var id uuid.UUID
		err := db.QueryRow(ctx, `insert into rm_analytics_orders (order_id, show_id, held_hour, held_at, units, total_cents, status)
			values ($1, $2, $3, $4, $5::bigint, $6::bigint, $7) on conflict (order_id) do nothing returning order_id`,
			e.OrderID, e.ShowID, hourOf(e.PlacedAt), e.PlacedAt, n, e.TotalCents, string(domain.OrderStatusHeld)).Scan(&id)
		if errors.Is(err, ErrNotFound) {
			return nil // placed twice: counted once
		}
		if err != nil {
			return err
		}
		return addHour(ctx, db, e.ShowID, e.PlacedAt, hourDelta{holds: 1, unitsHeld: n})
	case domain.OrderConfirmed:
		var units int
		err := db.QueryRow(ctx, `update rm_analytics_orders
			set status = $2, pay_ms = floor(extract(epoch from ($3::timestamptz - held_at)) * 1000)::bigint
			where order_id = $1 and status = $4 returning units`,
			e.OrderID, string(domain.OrderStatusConfirmed), e.ConfirmedAt, string(domain.OrderStatusHeld)).Scan(&units)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return addHour(ctx, db, e.ShowID, e.ConfirmedAt, hourDelta{confirmed: 1, unitsSold: units, revenue: e.TotalCents})
	case domain.OrderCancelled:
		return endOrder(ctx, db, e.OrderID, e.ShowID, e.At, domain.OrderStatusCancelled, hourDelta{cancelled: 1})
	case domain.OrderExpired:
		return endOrder(ctx, db, e.OrderID, e.ShowID, e.At, domain.OrderStatusExpired, hourDelta{expired: 1})
	}
	return nil
}

// endOrder records that a held order ended unpaid at at, and counts it in
// that hour. An order never placed, or no longer held, counts nothing.
func endOrder(ctx context.Context, db DB, order, show uuid.UUID, at time.Time, status domain.OrderStatus, d hourDelta) error {
	var id uuid.UUID
	err := db.QueryRow(ctx, `update rm_analytics_orders set status = $2 where order_id = $1 and status = $3 returning order_id`,
		order, string(status), string(domain.OrderStatusHeld)).Scan(&id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return addHour(ctx, db, show, at, d)
}

// addHours ends the INSERTs into rm_analytics_hours: an hour's figures move
// by those inserted.
const addHours = `
	on conflict (show_id, hour) do update set
		holds = rm_analytics_hours.holds + excluded.holds,
		units_held = rm_analytics_hours.units_held + excluded.units_held,
		confirmed = rm_analytics_hours.confirmed + excluded.confirmed,
		units_sold = rm_analytics_hours.units_sold + excluded.units_sold,
		revenue_cents = rm_analytics_hours.revenue_cents + excluded.revenue_cents,
		expired = rm_analytics_hours.expired + excluded.expired,
		cancelled = rm_analytics_hours.cancelled + excluded.cancelled`

// hourDelta is a change of one hour's figures.
type hourDelta struct {
	holds, unitsHeld, confirmed, unitsSold, expired, cancelled int
	revenue                                                    int64
}

// addHour adds d to the figures of the hour of at.
func addHour(ctx context.Context, db DB, show uuid.UUID, at time.Time, d hourDelta) error {
	return db.Exec(ctx, `insert into rm_analytics_hours (show_id, hour, holds, units_held, confirmed, units_sold, revenue_cents, expired, cancelled)
		values ($1, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint)`+addHours,
		show, hourOf(at), d.holds, d.unitsHeld, d.confirmed, d.unitsSold, d.revenue, d.expired, d.cancelled)
}

var _ BatchProjector = Analytics{}

// ApplyBatch projects the order events of a batch, a run at a time, in a
// few statements: the orders with an outcome in the run are read, their
// events resolved in order as Apply would (an order counts its first
// placing, and its first outcome while held), then the orders are recorded
// and each hour's figures moved by the sum of their changes.
func (p Analytics) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &analyticsRun{}, p.Apply)
}

// analyticsRun is a run of order events of the analytics projection.
type analyticsRun struct {
	// events are the order events of the run, in order.
	events []domain.Event
	// ended are the orders with an outcome in the run.
	ended keyed[uuid.UUID, struct{}]
}

// analyticsOrder is an order of rm_analytics_orders as a run leaves it.
type analyticsOrder struct {
	status  domain.OrderStatus
	units   int
	stored  bool // in rm_analytics_orders before the run
	changed bool
	placed  domain.OrderPlaced // the placing that counted, when not stored
	paid    bool               // paid in the run, at paidAt
	paidAt  time.Time
}

func (r *analyticsRun) add(_ domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.OrderPlaced:
	case domain.OrderConfirmed:
		r.ended.get(e.OrderID)
	case domain.OrderCancelled:
		r.ended.get(e.OrderID)
	case domain.OrderExpired:
		r.ended.get(e.OrderID)
	case domain.ShowCreated, domain.ShowDetailsChanged, domain.SectionPriceChanged, domain.ShowPublished,
		domain.ShowCancelled, domain.SeatsHeld, domain.SeatsReleased, domain.SeatsSold, domain.TicketCheckedIn:
		return runIgnored, nil
	default:
		return runAlone, nil
	}
	r.events = append(r.events, e)
	return runJoined, nil
}

func (r *analyticsRun) flush(ctx context.Context, db DB) error {
	defer r.reset()
	if len(r.events) == 0 {
		return nil
	}
	c, copying := copier(db)
	if copying {
		// Optimistically, as a rebuild's orders are new: only those the
		// run ends and does not place are read, and those it places
		// copied. Should one be there already, the COPY fails, and the
		// run is done again after looking them all up.
		err := c.Try(ctx, func() error {
			return r.flushWith(ctx, db, r.endedOnly(), func(w *analyticsWrite) (bool, error) {
				copied, err := w.copy(ctx, c, db, true)
				if err == nil && !copied && w.placed.len() > 0 {
					err = errNotCopied
				}
				return copied, err
			})
		})
		if err == nil || ctx.Err() != nil {
			return err
		}
		// Every order placed is looked up too: those resolve then finds
		// new are known to be new, and can be copied (issue 17: rebuilds).
		for _, e := range r.events {
			if e, ok := e.(domain.OrderPlaced); ok {
				r.ended.get(e.OrderID)
			}
		}
		return r.flushWith(ctx, db, r.ended.keys, func(w *analyticsWrite) (bool, error) { return w.copy(ctx, c, db, false) })
	}
	return r.flushWith(ctx, db, r.ended.keys, nil)
}

// flushWith reads the orders of ids, resolves the run, and writes it with
// copy, when not nil and it copied, or else with INSERTs.
func (r *analyticsRun) flushWith(ctx context.Context, db DB, ids []uuid.UUID, copy func(*analyticsWrite) (bool, error)) error {
	known, err := r.load(ctx, db, ids)
	if err != nil {
		return err
	}
	w, err := r.resolve(known)
	if err != nil {
		return err
	}
	if copy != nil {
		copied, err := copy(w)
		if err != nil || copied {
			return err
		}
	}
	if r.ended.len() == 0 {
		return insertHolds(ctx, db, &w.placed)
	}
	return w.write(ctx, db)
}

// endedOnly returns the orders the run ends but does not place: those that,
// unless the log repeats a placing, can only be stored before the run.
func (r *analyticsRun) endedOnly() []uuid.UUID {
	placed := map[uuid.UUID]bool{}
	for _, e := range r.events {
		if e, ok := e.(domain.OrderPlaced); ok {
			placed[e.OrderID] = true
		}
	}
	return without(r.ended.keys, placed)
}

// copiedAnalyticsColumns are the columns of the orders analyticsWrite.copy
// loads.
var copiedAnalyticsColumns = []string{"order_id", "show_id", "held_hour", "held_at", "units", "total_cents", "status", "pay_ms"}

// copy writes what write does, the orders placed with COPY, and reports
// whether it did: of a run whose every order was looked up, those placed
// are not there. Their holds are counted in their hours here, and their
// pay times computed as PostgreSQL computes them from the microseconds
// stored. Orders whose units are past an int column go in the INSERT,
// which fails as it does without COPY.
//
// all copies the orders placed whatever their number; see copyRows.
func (w *analyticsWrite) copy(ctx context.Context, c Copier, db DB, all bool) (bool, error) {
	p := w.placed.vals
	if slices.ContainsFunc(p, func(o analyticsOrder) bool { return o.units != int(int32(o.units)) }) {
		return false, nil
	}
	copied, err := copyRows(ctx, c, all, "rm_analytics_orders", copiedAnalyticsColumns, len(p), func(i int) []any {
		o := &p[i]
		var payMS *int64
		if o.paid {
			ms := floorDiv(microseconds(o.paidAt)-microseconds(o.placed.PlacedAt), 1000)
			payMS = &ms
		}
		return []any{w.placed.keys[i], o.placed.ShowID, hourOf(o.placed.PlacedAt), o.placed.PlacedAt, int32(o.units),
			o.placed.TotalCents, string(o.status), payMS}
	})
	if err != nil || !copied {
		return false, err
	}
	for _, o := range p {
		d := w.hours.get(hourKey{o.placed.ShowID, hourOf(o.placed.PlacedAt)})
		d.holds++
		d.unitsHeld += o.units
	}
	return true, w.writeCopied(ctx, db)
}

// microseconds is t as PostgreSQL stores it, in whole microseconds since
// 1970 (the driver drops the nanoseconds).
func microseconds(t time.Time) int64 { return t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 }

// floorDiv is a / b rounded down, as floor() rounds.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// writeCopied writes the orders updated and the hours of a run whose
// orders placed were copied, holds included, in one statement.
func (w *analyticsWrite) writeCopied(ctx context.Context, db DB) error {
	u, h := w.updated.vals, w.hours.vals
	return db.Exec(ctx, `with ended as (
			update rm_analytics_orders a set status = u.status,
				pay_ms = case when u.paid then floor(extract(epoch from (u.paid_at - a.held_at)) * 1000)::bigint else a.pay_ms end
			from unnest($1::uuid[], $2::text[], $3::bool[], $4::timestamptz[]) as u(order_id, status, paid, paid_at)
			where a.order_id = u.order_id)
		insert into rm_analytics_hours (show_id, hour, holds, units_held, confirmed, units_sold, revenue_cents, expired, cancelled)
		select * from unnest($5::uuid[], $6::timestamptz[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
			$12::bigint[], $13::bigint[])`+addHours,
		w.updated.keys, column(u, func(o analyticsOrder) string { return string(o.status) }),
		column(u, func(o analyticsOrder) bool { return o.paid }), column(u, func(o analyticsOrder) time.Time { return o.paidAt }),
		column(w.hours.keys, func(k hourKey) uuid.UUID { return k.show }),
		column(w.hours.keys, func(k hourKey) time.Time { return k.hour }),
		column(h, func(d hourDelta) int64 { return int64(d.holds) }), column(h, func(d hourDelta) int64 { return int64(d.unitsHeld) }),
		column(h, func(d hourDelta) int64 { return int64(d.confirmed) }), column(h, func(d hourDelta) int64 { return int64(d.unitsSold) }),
		column(h, func(d hourDelta) int64 { return d.revenue }), column(h, func(d hourDelta) int64 { return int64(d.expired) }),
		column(h, func(d hourDelta) int64 { return int64(d.cancelled) }))
}

// reset empties the run.
func (r *analyticsRun) reset() {
	r.ended.reset()
	clear(r.events)
	r.events = r.events[:0]
}

// load reads the orders of ids, as they stand before the run, in one
// query.
func (r *analyticsRun) load(ctx context.Context, db DB, ids []uuid.UUID) (known keyed[uuid.UUID, analyticsOrder], err error) {
	if len(ids) == 0 {
		return known, nil
	}
	err = queryEach(ctx, db, func(rows Rows) error {
		var id uuid.UUID
		o := analyticsOrder{stored: true}
		if err := rows.Scan(&id, (*string)(&o.status), &o.units); err != nil {
			return err
		}
		*known.get(id) = o
		return nil
	}, `select order_id, status, units from rm_analytics_orders where order_id = any($1::uuid[])`, ids)
	return known, err
}

// hourKey is an hour of a show's figures.
type hourKey struct {
	show uuid.UUID
	hour time.Time
}

// analyticsWrite is what a run of the analytics projection writes.
type analyticsWrite struct {
	// placed are the orders to insert (unless there already, for those
	// not read), updated those stored before the run that it changes:
	// distinct rows.
	placed, updated keyed[uuid.UUID, analyticsOrder]
	// hours are the changes of the figures of each hour, but for the
	// holds of the orders placed, counted as they are inserted.
	hours keyed[hourKey, hourDelta]
}

// resolve applies the run's events in order, as Apply does, to the orders
// known before the run (see load), and returns what to write. An order
// counts its first placing, and its first outcome while held.
func (r *analyticsRun) resolve(known keyed[uuid.UUID, analyticsOrder]) (*analyticsWrite, error) {
	w := &analyticsWrite{}
	for _, e := range r.events {
		switch e := e.(type) {
		case domain.OrderPlaced:
			o := analyticsOrder{status: domain.OrderStatusHeld, units: units(e.Items, e.Seats), placed: e}
			if r.ended.has(e.OrderID) {
				if !known.has(e.OrderID) {
					*known.get(e.OrderID) = o
				}
			} else if !w.placed.has(e.OrderID) {
				*w.placed.get(e.OrderID) = o
			}
		case domain.OrderConfirmed:
			if o := w.end(&known, e.OrderID, e.ShowID, e.ConfirmedAt, domain.OrderStatusConfirmed); o != nil {
				o.paid, o.paidAt = true, e.ConfirmedAt
				d := w.hours.get(hourKey{e.ShowID, hourOf(e.ConfirmedAt)})
				revenue, err := addCents(d.revenue, e.TotalCents)
				if err != nil {
					return nil, err
				}
				d.confirmed++
				d.unitsSold += o.units
				d.revenue = revenue
			}
		case domain.OrderCancelled:
			w.end(&known, e.OrderID, e.ShowID, e.At, domain.OrderStatusCancelled)
		case domain.OrderExpired:
			w.end(&known, e.OrderID, e.ShowID, e.At, domain.OrderStatusExpired)
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
	return w, nil
}

// end ends an order known and held with status at at, as endOrder, and
// returns it; an order never placed, or no longer held, counts nothing
// and end returns nil.
func (w *analyticsWrite) end(known *keyed[uuid.UUID, analyticsOrder], order, show uuid.UUID, at time.Time, status domain.OrderStatus) *analyticsOrder {
	if !known.has(order) {
		return nil // never placed: counts nothing
	}
	o := known.get(order)
	if o.status != domain.OrderStatusHeld {
		return nil // counted already
	}
	o.status, o.changed = status, true
	d := w.hours.get(hourKey{show, hourOf(at)})
	switch status {
	case domain.OrderStatusCancelled:
		d.cancelled++
	case domain.OrderStatusExpired:
		d.expired++
	}
	return o
}

// write writes the orders and hours of a run in one statement.
func (w *analyticsWrite) write(ctx context.Context, db DB) error {
	p, u, h := w.placed.vals, w.updated.vals, w.hours.vals
	return db.Exec(ctx, writeAnalytics,
		w.placed.keys, column(p, func(o analyticsOrder) uuid.UUID { return o.placed.ShowID }),
		column(p, func(o analyticsOrder) time.Time { return hourOf(o.placed.PlacedAt) }),
		column(p, func(o analyticsOrder) time.Time { return o.placed.PlacedAt }),
		column(p, func(o analyticsOrder) int64 { return int64(o.units) }),
		column(p, func(o analyticsOrder) int64 { return o.placed.TotalCents }),
		column(p, func(o analyticsOrder) string { return string(o.status) }),
		column(p, func(o analyticsOrder) bool { return o.paid }), column(p, func(o analyticsOrder) time.Time { return o.paidAt }),
		w.updated.keys, column(u, func(o analyticsOrder) string { return string(o.status) }),
		column(u, func(o analyticsOrder) bool { return o.paid }), column(u, func(o analyticsOrder) time.Time { return o.paidAt }),
		column(w.hours.keys, func(k hourKey) uuid.UUID { return k.show }),
		column(w.hours.keys, func(k hourKey) time.Time { return k.hour }),
		column(h, func(d hourDelta) int64 { return int64(d.confirmed) }), column(h, func(d hourDelta) int64 { return int64(d.unitsSold) }),
		column(h, func(d hourDelta) int64 { return d.revenue }), column(h, func(d hourDelta) int64 { return int64(d.expired) }),
		column(h, func(d hourDelta) int64 { return int64(d.cancelled) }))
}

// writeAnalytics is the statement of analyticsWrite.write. The orders
// inserted are those whose placing counts; the orders updated, stored
// before the run, are distinct from them. Pay times are computed as in
// Apply. Each hour's figures move as addHour.
const writeAnalytics = `with placed as (
		insert into rm_analytics_orders (order_id, show_id, held_hour, held_at, units, total_cents, status, pay_ms)
		select o.order_id, o.show_id, o.held_hour, o.held_at, o.units, o.total_cents, o.status,
			case when o.paid then floor(extract(epoch from (o.paid_at - o.held_at)) * 1000)::bigint end
		from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::text[],
				$8::bool[], $9::timestamptz[])
			as o(order_id, show_id, held_hour, held_at, units, total_cents, status, paid, paid_at)
		on conflict (order_id) do nothing
		returning show_id, held_hour, units),
	ended as (
		update rm_analytics_orders a set status = u.status,
			pay_ms = case when u.paid then floor(extract(epoch from (u.paid_at - a.held_at)) * 1000)::bigint else a.pay_ms end
		from unnest($10::uuid[], $11::text[], $12::bool[], $13::timestamptz[]) as u(order_id, status, paid, paid_at)
		where a.order_id = u.order_id)
	insert into rm_analytics_hours (show_id, hour, holds, units_held, confirmed, units_sold, revenue_cents, expired, cancelled)
	select show_id, hour, sum(holds), sum(units_held), sum(confirmed), sum(units_sold), sum(revenue_cents), sum(expired), sum(cancelled)
	from (
		select show_id, held_hour, 1::bigint, units::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint from placed
		union all
		select h.show_id, h.hour, 0, 0, h.confirmed, h.units_sold, h.revenue_cents, h.expired, h.cancelled
		from unnest($14::uuid[], $15::timestamptz[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[])
			as h(show_id, hour, confirmed, units_sold, revenue_cents, expired, cancelled)
	) as d(show_id, hour, holds, units_held, confirmed, units_sold, revenue_cents, expired, cancelled)
	group by show_id, hour` + addHours

// insertHolds records orders placed, held, unless recorded already, and
// counts those recorded in their hours: the flush of a run of OrderPlaced
// alone, in a simpler statement.
func insertHolds(ctx context.Context, db DB, placed *keyed[uuid.UUID, analyticsOrder]) error {
	p := placed.vals
	// The orders inserted are those counted: as addHour, per hour.
	return db.Exec(ctx, `with placed as (
			insert into rm_analytics_orders (order_id, show_id, held_hour, held_at, units, total_cents, status)
			select o.order_id, o.show_id, o.held_hour, o.held_at, o.units, o.total_cents, $6::text
			from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $7::bigint[])
				as o(order_id, show_id, held_hour, held_at, units, total_cents)
			on conflict (order_id) do nothing
			returning show_id, held_hour, units)
		insert into rm_analytics_hours (show_id, hour, holds, units_held)
		select show_id, held_hour, count(*), sum(units) from placed group by show_id, held_hour
		on conflict (show_id, hour) do update set
			holds = rm_analytics_hours.holds + excluded.holds,
			units_held = rm_analytics_hours.units_held + excluded.units_held`,
		placed.keys, column(p, func(o analyticsOrder) uuid.UUID { return o.placed.ShowID }),
		column(p, func(o analyticsOrder) time.Time { return hourOf(o.placed.PlacedAt) }),
		column(p, func(o analyticsOrder) time.Time { return o.placed.PlacedAt }),
		column(p, func(o analyticsOrder) int64 { return int64(o.units) }),
		string(domain.OrderStatusHeld), column(p, func(o analyticsOrder) int64 { return o.placed.TotalCents }))
}
