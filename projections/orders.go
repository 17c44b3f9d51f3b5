package projections

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
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
	case domain.TicketTransferred: // issue 14: door
		return transferTicket(ctx, db, e)
	case domain.OrderRefunded: // issue 14: money
		return refundOrder(ctx, db, e)
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
	ts := e.Tickets
	return db.Exec(ctx, `insert into rm_tickets (id, order_id, show_id, buyer_id, seq, idx, section, row_label, seat, code)
		select t.id, $1, $2, $3, $4, t.idx - 1, t.section, t.row_label, t.seat, t.code
		from unnest($5::uuid[], $6::text[], $7::text[], $8::bigint[], $9::text[]) with ordinality as t(id, section, row_label, seat, code, idx)
		on conflict (id) do nothing`,
		e.OrderID, e.ShowID, buyer, seq, column(ts, func(t domain.Ticket) uuid.UUID { return t.ID }),
		column(ts, func(t domain.Ticket) string { return t.Section }), column(ts, func(t domain.Ticket) string { return t.Row }),
		column(ts, func(t domain.Ticket) int64 { return int64(t.Seat) }), column(ts, func(t domain.Ticket) string { return t.Code }))
}

var _ BatchProjector = Orders{}

// ApplyBatch projects the order events of a batch, a run at a time, in a
// few statements: the orders and tickets that the run's outcomes and
// check-ins touch are read, the run's events resolved in order as Apply
// would, then the orders and tickets written as the run leaves them.
func (p Orders) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &ordersRun{}, p.Apply)
}

// ordersRun is a run of order events.
type ordersRun struct {
	// events are the order events of the run, in order, with the
	// sequence numbers of their positions and, for OrderPlaced, the
	// lines encoded.
	events []domain.Event
	seqs   []int64
	lines  [][2]string
	// touched are the orders with an event other than OrderPlaced in the
	// run; checked are the tickets checked in.
	touched keyed[uuid.UUID, struct{}]
	checked keyed[uuid.UUID, struct{}]
}

// runOrder is an order of rm_orders as a run leaves it.
type runOrder struct {
	placedOrder
	status  domain.OrderStatus
	payment string
	paid    bool // payment set in the run
	updated time.Time
	stored  bool // in rm_orders before the run
	changed bool
}

type placedOrder struct {
	seq          int64
	show, buyer  uuid.UUID
	items, seats string
	total        int64
	expires, at  time.Time
}

// runTicket is a ticket of rm_tickets as a run leaves it.
type runTicket struct {
	order, show, buyer uuid.UUID
	seq                int64
	idx                int32
	section, row, code string
	seat               int64
	checked            bool      // checked in, before or in the run
	checkedAt          time.Time // when, if in the run
	checkedIn          bool      // checked in by the run
	stored             bool      // stored before the run, else inserted by it
}

func (r *ordersRun) add(rec domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.OrderPlaced, domain.OrderConfirmed:
		seq, err := seqOf(rec)
		if err != nil {
			return 0, err
		}
		var lines [2]string
		switch e := e.(type) {
		case domain.OrderPlaced:
			if lines[0], lines[1], err = encodeLines(e.Items, e.Seats); err != nil {
				return 0, err
			}
		case domain.OrderConfirmed:
			r.touched.get(e.OrderID)
		}
		r.events, r.seqs, r.lines = append(r.events, e), append(r.seqs, seq), append(r.lines, lines)
		return runJoined, nil
	case domain.OrderCancelled:
		r.touched.get(e.OrderID)
	case domain.OrderExpired:
		r.touched.get(e.OrderID)
	case domain.TicketCheckedIn:
		r.touched.get(e.OrderID)
		r.checked.get(e.TicketID)
	case domain.ShowCreated, domain.ShowDetailsChanged, domain.SectionPriceChanged, domain.ShowPublished,
		domain.ShowCancelled, domain.SeatsHeld, domain.SeatsReleased, domain.SeatsSold:
		return runIgnored, nil
	default:
		return runAlone, nil
	}
	r.events, r.seqs, r.lines = append(r.events, e), append(r.seqs, 0), append(r.lines, [2]string{})
	return runJoined, nil
}

func (r *ordersRun) flush(ctx context.Context, db DB) error {
	defer r.reset()
	if len(r.events) == 0 {
		return nil
	}
	if c, copying := copier(db); copying {
		// Optimistically, as a rebuild's rows are new: only the rows the
		// run touches and does not create are read, and what it creates is
		// copied. Should one be there already, the COPY fails, and the run
		// is done again after looking them all up.
		err := c.Try(ctx, func() error {
			known, tickets, err := r.load(ctx, db, r.stored())
			if err != nil {
				return err
			}
			return r.resolve(known, tickets).copy(ctx, c, db, true)
		})
		if err == nil || ctx.Err() != nil {
			return err
		}
		known, tickets, err := r.load(ctx, db, r.lookUpAll())
		if err != nil {
			return err
		}
		return r.resolve(known, tickets).copy(ctx, c, db, false)
	}
	known, tickets, err := r.load(ctx, db, r.lookups())
	if err != nil {
		return err
	}
	w := r.resolve(known, tickets)
	if r.touched.len() == 0 {
		return insertPlaced(ctx, db, &w.placed)
	}
	return w.write(ctx, db)
}

// ordersLookup is what load reads: orders and tickets by id.
type ordersLookup struct{ orders, tickets []uuid.UUID }

// lookups returns the orders and tickets the run touches.
func (r *ordersRun) lookups() ordersLookup {
	return ordersLookup{r.touched.keys, r.checked.keys}
}

// lookUpAll has load read every order the run places and every ticket it
// confirms, as those it touches: the rows resolve then finds new are known
// to be new, and can be copied (issue 17: rebuilds).
func (r *ordersRun) lookUpAll() ordersLookup {
	for _, e := range r.events {
		switch e := e.(type) {
		case domain.OrderPlaced:
			r.touched.get(e.OrderID)
		case domain.OrderConfirmed:
			for _, t := range e.Tickets {
				r.checked.get(t.ID)
			}
		}
	}
	return r.lookups()
}

// stored returns the orders and tickets the run touches but does not
// create: those that, unless the log repeats a creation, can only be
// stored before the run. The others are taken to be new.
func (r *ordersRun) stored() ordersLookup {
	var placed, confirmed map[uuid.UUID]bool
	for _, e := range r.events {
		switch e := e.(type) {
		case domain.OrderPlaced:
			if placed == nil {
				placed = map[uuid.UUID]bool{}
			}
			placed[e.OrderID] = true
		case domain.OrderConfirmed:
			if confirmed == nil {
				confirmed = map[uuid.UUID]bool{}
			}
			for _, t := range e.Tickets {
				confirmed[t.ID] = true
			}
		}
	}
	return ordersLookup{without(r.touched.keys, placed), without(r.checked.keys, confirmed)}
}

// Columns of the rows ordersWrite.copy loads.
var (
	copiedOrderColumns = []string{"id", "seq", "show_id", "buyer_id", "status", "items", "seats", "total_cents", "expires_at",
		"payment_id", "created_at", "updated_at"}
	copiedTicketColumns = []string{"id", "order_id", "show_id", "buyer_id", "seq", "idx", "section", "row_label", "seat", "code",
		"checked_in_at"}
)

// copy writes what write does, the new orders and tickets with COPY: of a
// run whose every order and ticket was looked up (lookUpAll), those placed
// and inserted are not there. A ticket whose seat is past an int column
// goes in the INSERT, which fails as it does without COPY.
//
// optimistic copies rows that were not looked up (see ordersRun.stored):
// all of them then go in the COPY, whatever their number, for the COPY to
// fail on one that is there, where an INSERT would leave it as it is; a
// seat past an int column fails with errNotCopied.
func (w *ordersWrite) copy(ctx context.Context, c Copier, db DB, optimistic bool) error {
	p := w.placed.vals
	copied, err := copyRows(ctx, c, optimistic, "rm_orders", copiedOrderColumns, len(p), func(i int) []any {
		o := &p[i]
		return []any{w.placed.keys[i], o.seq, o.show, o.buyer, string(o.status), o.items, o.seats, o.total, o.expires,
			o.payment, o.at, o.updated}
	})
	if err != nil {
		return err
	}
	if copied {
		w.placed.reset()
	}
	t := w.inserted.vals
	if slices.ContainsFunc(t, func(t runTicket) bool { return t.seat != int64(int32(t.seat)) }) {
		if optimistic {
			return errNotCopied
		}
	} else {
		copied, err = copyRows(ctx, c, optimistic, "rm_tickets", copiedTicketColumns, len(t), func(i int) []any {
			t := &t[i]
			var checked *time.Time
			if t.checked {
				checked = &t.checkedAt
			}
			return []any{w.inserted.keys[i], t.order, t.show, t.buyer, t.seq, t.idx, t.section, t.row, int32(t.seat), t.code, checked}
		})
		if err != nil {
			return err
		}
		if copied {
			w.inserted.reset()
		}
	}
	if w.placed.len()+w.updated.len()+w.checked.len()+w.inserted.len() == 0 {
		return nil
	}
	return w.write(ctx, db)
}

// reset empties the run.
func (r *ordersRun) reset() {
	r.touched.reset()
	r.checked.reset()
	clear(r.events)
	r.events, r.seqs, r.lines = r.events[:0], r.seqs[:0], r.lines[:0]
}

// load reads the orders and tickets the run touches, as they stand before
// the run, in one query.
func (r *ordersRun) load(ctx context.Context, db DB, l ordersLookup) (known keyed[uuid.UUID, runOrder], tickets keyed[uuid.UUID, runTicket], err error) {
	if len(l.orders)+len(l.tickets) == 0 {
		return known, tickets, nil
	}
	rows, err := db.Query(ctx, `select true, id, buyer_id, false from rm_orders where id = any($1::uuid[])
		union all
		select false, id, buyer_id, checked_in_at is not null from rm_tickets where id = any($2::uuid[])`,
		l.orders, l.tickets)
	if err != nil {
		return known, tickets, err
	}
	defer rows.Close()
	for rows.Next() {
		var order, checked bool
		var id, buyer uuid.UUID
		if err := rows.Scan(&order, &id, &buyer, &checked); err != nil {
			return known, tickets, err
		}
		if order {
			*known.get(id) = runOrder{placedOrder: placedOrder{buyer: buyer}, stored: true}
		} else {
			*tickets.get(id) = runTicket{checked: checked, stored: true}
		}
	}
	return known, tickets, rows.Err()
}

// ordersWrite is what a run writes: distinct rows each.
type ordersWrite struct {
	// placed are the orders to insert (unless there already, for those
	// not read), updated those stored before the run that it changes.
	placed, updated keyed[uuid.UUID, runOrder]
	// inserted are the tickets to insert (unless there already, for
	// those not read); checked the stored ones the run checks in, when.
	inserted keyed[uuid.UUID, runTicket]
	checked  keyed[uuid.UUID, time.Time]
}

// resolve applies the run's events in order, as Apply does, to the orders
// and tickets known and read before the run (see load), and returns what
// to write. Of the orders placed the first placing of each counts; of the
// tickets the first of each id.
func (r *ordersRun) resolve(known keyed[uuid.UUID, runOrder], tickets keyed[uuid.UUID, runTicket]) *ordersWrite {
	w := &ordersWrite{}
	for i, e := range r.events {
		switch e := e.(type) {
		case domain.OrderPlaced:
			r.place(&known, &w.placed, i, e)
		case domain.OrderConfirmed:
			r.confirm(&known, &tickets, &w.inserted, r.seqs[i], e)
		case domain.OrderCancelled:
			r.setStatus(&known, e.OrderID, domain.OrderStatusCancelled, e.At)
		case domain.OrderExpired:
			r.setStatus(&known, e.OrderID, domain.OrderStatusExpired, e.At)
		case domain.TicketCheckedIn:
			if tickets.has(e.TicketID) {
				if t := tickets.get(e.TicketID); !t.checked {
					t.checked, t.checkedAt, t.checkedIn = true, e.At, true
				}
			}
			if known.has(e.OrderID) {
				o := known.get(e.OrderID)
				o.updated, o.changed = e.At, true
			}
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
	for i, t := range tickets.vals {
		switch {
		case !t.stored:
			*w.inserted.get(tickets.keys[i]) = t
		case t.checkedIn:
			*w.checked.get(tickets.keys[i]) = t.checkedAt
		}
	}
	return w
}

// place places the order of the run's i-th event, e, as Apply: it joins
// the orders known, when touched by the run, or else those placed.
func (r *ordersRun) place(known, placed *keyed[uuid.UUID, runOrder], i int, e domain.OrderPlaced) {
	items, seats := r.lines[i][0], r.lines[i][1]
	o := runOrder{placedOrder: placedOrder{r.seqs[i], e.ShowID, e.BuyerID, items, seats, e.TotalCents, e.ExpiresAt, e.PlacedAt},
		status: domain.OrderStatusHeld, updated: e.PlacedAt}
	if r.touched.has(e.OrderID) {
		if !known.has(e.OrderID) {
			*known.get(e.OrderID) = o
		}
	} else if !placed.has(e.OrderID) {
		*placed.get(e.OrderID) = o
	}
}

// confirm confirms an order the run knows, as confirmOrder: its tickets
// join those known, when checked in by the run, or else those inserted.
func (r *ordersRun) confirm(known *keyed[uuid.UUID, runOrder], tickets, inserted *keyed[uuid.UUID, runTicket], seq int64, e domain.OrderConfirmed) {
	if !known.has(e.OrderID) {
		return // never placed: nothing to confirm
	}
	o := known.get(e.OrderID)
	o.status, o.payment, o.paid, o.updated, o.changed = domain.OrderStatusConfirmed, e.PaymentID, true, e.ConfirmedAt, true
	for j, t := range e.Tickets {
		rt := runTicket{order: e.OrderID, show: e.ShowID, buyer: o.buyer, seq: seq, idx: int32(j),
			section: t.Section, row: t.Row, seat: int64(t.Seat), code: t.Code}
		if r.checked.has(t.ID) {
			if tickets.has(t.ID) {
				continue // there already
			}
			*tickets.get(t.ID) = rt
		} else if !inserted.has(t.ID) {
			*inserted.get(t.ID) = rt
		}
	}
}

// write writes the orders and tickets of a run in one statement. The
// orders and tickets inserted and those updated, stored before the run,
// are distinct rows. An order's status is its last outcome's (none leaves
// it as it is), its payment its last confirmation's.
func (w *ordersWrite) write(ctx context.Context, db DB) error {
	p, u, t := w.placed.vals, w.updated.vals, w.inserted.vals
	return db.Exec(ctx, writeOrders,
		w.placed.keys, column(p, func(o runOrder) int64 { return o.seq }),
		column(p, func(o runOrder) uuid.UUID { return o.show }), column(p, func(o runOrder) uuid.UUID { return o.buyer }),
		column(p, func(o runOrder) string { return string(o.status) }),
		column(p, func(o runOrder) string { return o.items }), column(p, func(o runOrder) string { return o.seats }),
		column(p, func(o runOrder) int64 { return o.total }), column(p, func(o runOrder) time.Time { return o.expires }),
		column(p, func(o runOrder) string { return o.payment }), column(p, func(o runOrder) time.Time { return o.at }),
		column(p, func(o runOrder) time.Time { return o.updated }),
		w.updated.keys, column(u, func(o runOrder) string { return string(o.status) }),
		column(u, func(o runOrder) bool { return o.paid }), column(u, func(o runOrder) string { return o.payment }),
		column(u, func(o runOrder) time.Time { return o.updated }),
		w.checked.keys, w.checked.vals,
		w.inserted.keys, column(t, func(t runTicket) uuid.UUID { return t.order }),
		column(t, func(t runTicket) uuid.UUID { return t.show }), column(t, func(t runTicket) uuid.UUID { return t.buyer }),
		column(t, func(t runTicket) int64 { return t.seq }), column(t, func(t runTicket) int32 { return t.idx }),
		column(t, func(t runTicket) string { return t.section }), column(t, func(t runTicket) string { return t.row }),
		column(t, func(t runTicket) int64 { return t.seat }), column(t, func(t runTicket) string { return t.code }),
		column(t, func(t runTicket) bool { return t.checked }), column(t, func(t runTicket) time.Time { return t.checkedAt }))
}

// writeOrders is the statement of ordersWrite.write.
const writeOrders = `with placed as (
		insert into rm_orders (id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, payment_id, created_at, updated_at)
		select o.id, o.seq, o.show_id, o.buyer_id, o.status, o.items::jsonb, o.seats::jsonb, o.total_cents, o.expires_at,
			o.payment_id, o.placed_at, o.updated_at
		from unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::bigint[],
				$9::timestamptz[], $10::text[], $11::timestamptz[], $12::timestamptz[])
			as o(id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, payment_id, placed_at, updated_at)
		on conflict (id) do nothing),
	updated as (
		update rm_orders o set status = coalesce(nullif(u.status, ''), o.status),
			payment_id = case when u.paid then u.payment_id else o.payment_id end, updated_at = u.updated_at
		from unnest($13::uuid[], $14::text[], $15::bool[], $16::text[], $17::timestamptz[]) as u(id, status, paid, payment_id, updated_at)
		where o.id = u.id),
	checked as (
		update rm_tickets t set checked_in_at = c.at
		from unnest($18::uuid[], $19::timestamptz[]) as c(id, at)
		where t.id = c.id and t.checked_in_at is null)
	insert into rm_tickets (id, order_id, show_id, buyer_id, seq, idx, section, row_label, seat, code, checked_in_at)
	select t.id, t.order_id, t.show_id, t.buyer_id, t.seq, t.idx, t.section, t.row_label, t.seat, t.code,
		case when t.checked then t.checked_at end
	from unnest($20::uuid[], $21::uuid[], $22::uuid[], $23::uuid[], $24::bigint[], $25::int[], $26::text[], $27::text[],
			$28::bigint[], $29::text[], $30::bool[], $31::timestamptz[])
		as t(id, order_id, show_id, buyer_id, seq, idx, section, row_label, seat, code, checked, checked_at)
	on conflict (id) do nothing`

// insertPlaced inserts orders placed, held, unless there already: the
// flush of a run of OrderPlaced alone, in a simpler statement.
func insertPlaced(ctx context.Context, db DB, placed *keyed[uuid.UUID, runOrder]) error {
	p := placed.vals
	return db.Exec(ctx, `insert into rm_orders (id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, created_at, updated_at)
		select o.id, o.seq, o.show_id, o.buyer_id, $1::text, o.items::jsonb, o.seats::jsonb, o.total_cents, o.expires_at, o.placed_at, o.placed_at
		from unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::bigint[], $9::timestamptz[], $10::timestamptz[])
			as o(id, seq, show_id, buyer_id, items, seats, total_cents, expires_at, placed_at)
		on conflict (id) do nothing`,
		string(domain.OrderStatusHeld), placed.keys, column(p, func(o runOrder) int64 { return o.seq }),
		column(p, func(o runOrder) uuid.UUID { return o.show }), column(p, func(o runOrder) uuid.UUID { return o.buyer }),
		column(p, func(o runOrder) string { return o.items }), column(p, func(o runOrder) string { return o.seats }),
		column(p, func(o runOrder) int64 { return o.total }), column(p, func(o runOrder) time.Time { return o.expires }),
		column(p, func(o runOrder) time.Time { return o.at }))
}

// setStatus sets the status of an order the run knows, as setOrderStatus.
func (r *ordersRun) setStatus(known *keyed[uuid.UUID, runOrder], order uuid.UUID, status domain.OrderStatus, at time.Time) {
	if !known.has(order) {
		return // never placed
	}
	o := known.get(order)
	o.status, o.updated, o.changed = status, at, true
}
