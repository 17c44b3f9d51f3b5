package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Queries reads the read models. It never reads the event store, so what it
// returns lags the log by the projections' delay; WaitForPosition closes the
// gap for read-your-writes.
type Queries struct {
	db    DB
	names []string
}

// NewQueries returns queries over the read-model database db.
func NewQueries(db DB) *Queries {
	q := &Queries{db: db}
	for _, p := range All() {
		q.names = append(q.names, p.Name())
	}
	return q
}

// pollEvery is how often WaitForPosition reads the checkpoints.
const pollEvery = 5 * time.Millisecond

// notFound wraps ErrNotFound with the domain error of the missing thing.
func notFound(what error, id uuid.UUID) error {
	return fmt.Errorf("%w: %s: %w", what, id, ErrNotFound)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

const showColumns = `id, seq, organizer_id, title, venue, starts_at, status, created_at, updated_at`

// ListShows returns the public catalog: every show that is neither a draft
// nor cancelled, in the order they were created.
func (q *Queries) ListShows(ctx context.Context, p Page) (List[ShowView], error) {
	limit, k, err := p.parse(cursorShows)
	if err != nil {
		return List[ShowView]{}, err
	}
	return q.shows(ctx, limit, `select `+showColumns+` from rm_shows
		where status <> 'draft' and status <> 'cancelled' and (seq, id) > ($1, $2) order by seq, id limit $3`, k.seq, k.id, limit+1)
}

// ShowsByOrganizer returns the shows of an organizer, drafts included, in
// the order they were created.
func (q *Queries) ShowsByOrganizer(ctx context.Context, organizer uuid.UUID, p Page) (List[ShowView], error) {
	limit, k, err := p.parse(cursorShows)
	if err != nil {
		return List[ShowView]{}, err
	}
	return q.shows(ctx, limit, `select `+showColumns+` from rm_shows
		where organizer_id = $4 and (seq, id) > ($1, $2) order by seq, id limit $3`, k.seq, k.id, limit+1, organizer)
}

// LiveShows counts the shows of an organizer neither cancelled nor started
// at now.
func (q *Queries) LiveShows(ctx context.Context, organizer uuid.UUID, now time.Time) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, `select count(*) from rm_shows where organizer_id = $1 and status <> $2 and starts_at > $3`,
		organizer, string(domain.ShowStatusCancelled), now).Scan(&n)
	return n, err
}

// Show returns a show, whatever its status. A show that does not exist
// fails with an error matching both domain.ErrShowNotFound and ErrNotFound.
func (q *Queries) Show(ctx context.Context, id uuid.UUID) (ShowView, error) {
	l, err := q.shows(ctx, 1, `select `+showColumns+` from rm_shows where id = $1`, id)
	if err != nil {
		return ShowView{}, err
	}
	if len(l.Items) == 0 {
		return ShowView{}, notFound(domain.ErrShowNotFound, id)
	}
	return l.Items[0], nil
}

// scanShow scans a row of showColumns, its sections still to come.
func scanShow(rows Rows) (ShowView, key, error) {
	var s ShowView
	var k key
	if err := rows.Scan(&s.ID, &k.seq, &s.OrganizerID, &s.Title, &s.Venue, &s.StartsAt, &s.Status, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return s, k, err
	}
	k.id = s.ID
	s.StartsAt, s.CreatedAt, s.UpdatedAt = s.StartsAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.Sections = []SectionView{}
	return s, k, nil
}

// shows runs a query of showColumns and returns up to limit shows with their
// sections, and the cursor after them when the query returned more.
func (q *Queries) shows(ctx context.Context, limit int, sql string, args ...any) (List[ShowView], error) {
	out, err := queryPage(ctx, q.db, "shows", cursorShows, limit, scanShow, sql, args...)
	if err != nil || len(out.Items) == 0 {
		return out, err
	}
	ids, at := indexed(out.Items, func(s ShowView) uuid.UUID { return s.ID })
	err = queryEach(ctx, q.db, func(rows Rows) error {
		var show uuid.UUID
		var s SectionView
		if err := rows.Scan(&show, &s.Name, &s.Kind, &s.PriceCents, &s.Capacity, &s.Held, &s.Sold, &s.Reserved); err != nil {
			return err
		}
		s.Available = s.Capacity - s.Held - s.Sold - s.Reserved
		i := at[show]
		out.Items[i].Sections = append(out.Items[i].Sections, s)
		return nil
	}, `select c.show_id, c.name, c.kind, c.price_cents, c.capacity, c.held, c.sold, coalesce(r.reserved, 0)
		from rm_sections c left join rm_waitlist_reserved r on r.show_id = c.show_id and r.section = c.name
		where c.show_id = any($1) order by c.show_id, c.idx`, ids)
	if err != nil {
		return List[ShowView]{}, fmt.Errorf("query sections: %w", err)
	}
	return out, nil
}

// ErrSectionNotFound says that a show has no seated section of a name.
// Queries wrap it with ErrNotFound.
var ErrSectionNotFound = errors.New("section not found")

// SeatMap returns the seated sections of a show with their counts, without
// their seats. A show that does not exist fails with an error matching both
// domain.ErrShowNotFound and ErrNotFound.
func (q *Queries) SeatMap(ctx context.Context, showID uuid.UUID) (SeatMap, error) {
	var status string
	if err := q.db.QueryRow(ctx, `select status from rm_shows where id = $1`, showID).Scan(&status); err != nil {
		if isNotFound(err) {
			return SeatMap{}, notFound(domain.ErrShowNotFound, showID)
		}
		return SeatMap{}, fmt.Errorf("query seat map: %w", err)
	}
	// Rows are numbered 0, 1, ... within a section: the last one, read
	// from the end of rm_seats_order, counts them.
	rows, err := q.db.Query(ctx, `select c.name, c.capacity, c.held, c.sold,
		coalesce((select s.row_idx + 1 from rm_seats s where s.show_id = c.show_id and s.section = c.name
			order by s.row_idx desc, s.seat desc limit 1), 0)
		from rm_sections c where c.show_id = $1 and c.kind = $2 order by c.idx`, showID, KindSeated)
	if err != nil {
		return SeatMap{}, fmt.Errorf("query seat map: %w", err)
	}
	defer rows.Close()
	m := SeatMap{ShowID: showID, Sections: []SeatMapSection{}}
	for rows.Next() {
		var s SeatMapSection
		if err := rows.Scan(&s.Name, &s.Capacity, &s.Held, &s.Sold, &s.Rows); err != nil {
			return SeatMap{}, fmt.Errorf("query seat map: %w", err)
		}
		s.Available = s.Capacity - s.Held - s.Sold
		m.Sections = append(m.Sections, s)
	}
	if err := rows.Err(); err != nil {
		return SeatMap{}, fmt.Errorf("query seat map: %w", err)
	}
	return m, nil
}

// Seats returns one page of the seats of the seated section named section
// of a show, by row in the order the organizer created them, then by seat
// number; a page holds at most MaxSeatLimit seats (DefaultSeatLimit when
// p.Limit is zero). A show that does not exist fails with an error matching
// both domain.ErrShowNotFound and ErrNotFound; a section it does not have,
// or that is not seated, with one matching both ErrSectionNotFound and
// ErrNotFound; a bad limit or cursor with a *domain.ValidationError.
func (q *Queries) Seats(ctx context.Context, showID uuid.UUID, section string, p Page) (SeatPage, error) {
	noSection := fmt.Errorf("%w: show %s has no seated section %q: %w", ErrSectionNotFound, showID, section, ErrNotFound)
	// No section has a name PostgreSQL text cannot hold, or longer than
	// the domain allows: do not ask.
	if !utf8.ValidString(section) || strings.ContainsRune(section, 0) || utf8.RuneCountInString(section) > domain.MaxNameLen {
		return SeatPage{}, noSection
	}
	var idx *int
	err := q.db.QueryRow(ctx, `select c.idx from rm_shows s
		left join rm_sections c on c.show_id = s.id and c.name = $2 and c.kind = $3
		where s.id = $1`, showID, section, KindSeated).Scan(&idx)
	if isNotFound(err) {
		return SeatPage{}, notFound(domain.ErrShowNotFound, showID)
	}
	if err != nil {
		return SeatPage{}, fmt.Errorf("query seats: %w", err)
	}
	if idx == nil {
		return SeatPage{}, noSection
	}
	limit, k, err := p.parseSeats(showID, *idx)
	if err != nil {
		return SeatPage{}, err
	}
	rows, err := q.db.Query(ctx, `select row_label, row_idx, seat, state from rm_seats
		where show_id = $1 and section = $2 and (row_idx, seat) > ($3, $4)
		order by row_idx, seat limit $5`, showID, section, k.row, k.seat, limit+1)
	if err != nil {
		return SeatPage{}, fmt.Errorf("query seats: %w", err)
	}
	defer rows.Close()
	out := SeatPage{ShowID: showID, Section: section, Rows: []SeatMapRow{}}
	n, last := 0, k
	for rows.Next() {
		var label string
		var rowIdx int
		var seat SeatMapSeat
		if err := rows.Scan(&label, &rowIdx, &seat.Seat, &seat.State); err != nil {
			return SeatPage{}, fmt.Errorf("query seats: %w", err)
		}
		if n == limit {
			out.NextCursor = last.cursor()
			break
		}
		if r := len(out.Rows); r == 0 || last.row != rowIdx {
			out.Rows = append(out.Rows, SeatMapRow{Label: label})
		}
		r := &out.Rows[len(out.Rows)-1]
		r.Seats = append(r.Seats, seat)
		n, last.row, last.seat = n+1, rowIdx, seat.Seat
	}
	if err := rows.Err(); err != nil {
		return SeatPage{}, fmt.Errorf("query seats: %w", err)
	}
	return out, nil
}

const orderColumns = `id, seq, show_id, buyer_id, status, items, seats, total_cents, expires_at, created_at, updated_at, refunded_cents`

// Order returns an order with its tickets. An order that does not exist
// fails with an error matching both domain.ErrOrderNotFound and ErrNotFound.
func (q *Queries) Order(ctx context.Context, id uuid.UUID) (OrderView, error) {
	l, err := q.orders(ctx, 1, `select `+orderColumns+` from rm_orders where id = $1`, id)
	if err != nil {
		return OrderView{}, err
	}
	if len(l.Items) == 0 {
		return OrderView{}, notFound(domain.ErrOrderNotFound, id)
	}
	return l.Items[0], nil
}

// OrdersByBuyer returns the orders of a buyer with their tickets, in the
// order they were placed.
func (q *Queries) OrdersByBuyer(ctx context.Context, buyer uuid.UUID, p Page) (List[OrderView], error) {
	limit, k, err := p.parse(cursorOrders)
	if err != nil {
		return List[OrderView]{}, err
	}
	return q.orders(ctx, limit, `select `+orderColumns+` from rm_orders
		where buyer_id = $4 and (seq, id) > ($1, $2) order by seq, id limit $3`, k.seq, k.id, limit+1, buyer)
}

// scanOrder scans a row of orderColumns, its tickets still to come.
func scanOrder(rows Rows) (OrderView, key, error) {
	var o OrderView
	var k key
	var items, seats []byte
	if err := rows.Scan(&o.ID, &k.seq, &o.ShowID, &o.BuyerID, &o.Status, &items, &seats, &o.TotalCents, &o.ExpiresAt, &o.CreatedAt, &o.UpdatedAt, &o.RefundedCents); err != nil {
		return o, k, err
	}
	if err := json.Unmarshal(items, &o.Items); err != nil {
		return o, k, fmt.Errorf("items of %s: %w", o.ID, err)
	}
	if err := json.Unmarshal(seats, &o.Seats); err != nil {
		return o, k, fmt.Errorf("seats of %s: %w", o.ID, err)
	}
	if o.Items == nil {
		o.Items = []domain.HeldItem{}
	}
	if o.Seats == nil {
		o.Seats = []domain.HeldSeat{}
	}
	k.id = o.ID
	o.ExpiresAt, o.CreatedAt, o.UpdatedAt = o.ExpiresAt.UTC(), o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	o.Tickets = []TicketView{}
	return o, k, nil
}

// orders runs a query of orderColumns and returns up to limit orders with
// their tickets, and the cursor after them when the query returned more.
func (q *Queries) orders(ctx context.Context, limit int, sql string, args ...any) (List[OrderView], error) {
	out, err := queryPage(ctx, q.db, "orders", cursorOrders, limit, scanOrder, sql, args...)
	if err != nil || len(out.Items) == 0 {
		return out, err
	}
	ids, at := indexed(out.Items, func(o OrderView) uuid.UUID { return o.ID })
	err = queryEach(ctx, q.db, func(rows Rows) error {
		var order uuid.UUID
		var t TicketView
		if err := rows.Scan(&order, &t.ID, &t.Section, &t.Row, &t.Seat, &t.Generation, &t.HolderID, &t.CheckedInAt, &t.VoidedAt); err != nil {
			return err
		}
		utcPtr(t.CheckedInAt)
		utcPtr(t.VoidedAt)
		i := at[order]
		out.Items[i].Tickets = append(out.Items[i].Tickets, t)
		return nil
	}, `select order_id, id, section, row_label, seat, generation, coalesce(holder_id, buyer_id), checked_in_at, voided_at
		from rm_tickets where order_id = any($1) order by order_id, idx`, ids)
	if err != nil {
		return List[OrderView]{}, fmt.Errorf("query tickets: %w", err)
	}
	return out, q.orderShows(ctx, out.Items) // issue 14: door
}

// indexed returns the ids of items, in order, and the index of each id.
func indexed[T any](items []T, id func(T) uuid.UUID) ([]uuid.UUID, map[uuid.UUID]int) {
	ids := make([]uuid.UUID, len(items))
	at := make(map[uuid.UUID]int, len(items))
	for i, v := range items {
		ids[i] = id(v)
		at[ids[i]] = i
	}
	return ids, at
}

func utcPtr(t *time.Time) {
	if t != nil {
		*t = t.UTC()
	}
}

// TicketsByBuyer returns the tickets of a buyer, in the order they were
// issued.
func (q *Queries) TicketsByBuyer(ctx context.Context, buyer uuid.UUID, p Page) (List[BuyerTicket], error) {
	limit, k, err := p.parse(cursorTickets)
	if err != nil {
		return List[BuyerTicket]{}, err
	}
	// issue 14: door. The tickets the buyer bought, holds or gave away.
	out, err := queryPage(ctx, q.db, "tickets", cursorTickets, limit, func(rows Rows) (BuyerTicket, key, error) {
		var t BuyerTicket
		var k key
		err := rows.Scan(&k.seq, &t.OrderID, &k.idx, &t.ShowID, &t.ID, &t.Section, &t.Row, &t.Seat, &t.Generation, &t.HolderID, &t.CheckedInAt, &t.VoidedAt)
		k.id = t.OrderID
		utcPtr(t.CheckedInAt)
		utcPtr(t.VoidedAt)
		return t, k, err
	}, `select seq, order_id, idx, show_id, id, section, row_label, seat, generation,
			coalesce(holder_id, buyer_id), checked_in_at, voided_at
		from rm_tickets where (buyer_id = $1 or holder_id = $1 or former_holders @> array[$1::uuid])
			and (seq, order_id, idx) > ($2, $3, $4)
		order by seq, order_id, idx limit $5`, buyer, k.seq, k.id, k.idx, limit+1)
	if err != nil {
		return out, err
	}
	return out, q.ticketShows(ctx, out.Items) // issue 14: door
}

// Sales returns the sales figures of a show. A show that does not exist
// fails with an error matching both domain.ErrShowNotFound and ErrNotFound.
func (q *Queries) Sales(ctx context.Context, showID uuid.UUID) (SalesView, error) {
	s := SalesView{ShowID: showID}
	// A row without an organizer has figures of a show not projected yet.
	err := q.db.QueryRow(ctx, `select organizer_id, sold, revenue_cents, held, expired, cancelled, orders_confirmed, orders_expired, orders_cancelled
		from rm_sales where show_id = $1 and organizer_id is not null`, showID).
		Scan(&s.OrganizerID, &s.Sold, &s.RevenueCents, &s.Held, &s.Expired, &s.Cancelled, &s.OrdersConfirmed, &s.OrdersExpired, &s.OrdersCancelled)
	if isNotFound(err) {
		return SalesView{}, notFound(domain.ErrShowNotFound, showID)
	}
	if err != nil {
		return SalesView{}, fmt.Errorf("query sales: %w", err)
	}
	return s, nil
}

// TicketOrder returns the order and the show of a ticket. A ticket that does
// not exist fails with an error matching both domain.ErrTicketNotFound and
// ErrNotFound.
func (q *Queries) TicketOrder(ctx context.Context, ticketID uuid.UUID) (orderID, showID uuid.UUID, err error) {
	err = q.db.QueryRow(ctx, `select order_id, show_id from rm_tickets where id = $1`, ticketID).Scan(&orderID, &showID)
	if isNotFound(err) {
		return uuid.Nil, uuid.Nil, notFound(domain.ErrTicketNotFound, ticketID)
	}
	if err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("query ticket: %w", err)
	}
	return orderID, showID, nil
}

// DefaultDueHolds is how many holds DueHolds returns when limit is not
// positive.
const DefaultDueHolds = 100

// DueHolds returns up to limit open holds that ran out at or before now,
// those that ran out first first.
func (q *Queries) DueHolds(ctx context.Context, now time.Time, limit int) ([]DueHold, error) {
	if limit <= 0 {
		limit = DefaultDueHolds
	}
	rows, err := q.db.Query(ctx, `select show_id, order_id, expires_at from hold_deadlines
		where expires_at <= $1 order by expires_at, order_id limit $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("query due holds: %w", err)
	}
	defer rows.Close()
	out := []DueHold{}
	for rows.Next() {
		var h DueHold
		if err := rows.Scan(&h.ShowID, &h.OrderID, &h.ExpiresAt); err != nil {
			return nil, fmt.Errorf("query due holds: %w", err)
		}
		h.ExpiresAt = h.ExpiresAt.UTC()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query due holds: %w", err)
	}
	return out, nil
}

// WaitForPosition waits until every projection of All has applied the log
// up to pos, checking every few milliseconds. It reports false when timeout
// passes first, and fails when ctx ends or the checkpoints cannot be read.
// A stream a projection parked does not hold it back: see WaitFor.
func (q *Queries) WaitForPosition(ctx context.Context, pos domain.Position, timeout time.Duration) (bool, error) {
	return q.WaitFor(ctx, pos, q.names, nil, timeout)
}

// ErrInvalidPosition says that a position does not fit the read models'
// bigints: no write ever returned it.
var ErrInvalidPosition = errors.New("invalid position")

// WaitFor waits until the projections names (every projection of All when
// names is empty) have applied the log up to pos, as WaitForPosition does,
// for a read of the streams streams. When one
// of those projections parked one of those streams at or before pos, it
// fails at once with a *ParkedError: the read cannot reflect pos until the
// stream is retried. A position beyond a bigint fails with
// ErrInvalidPosition.
func (q *Queries) WaitFor(ctx context.Context, pos domain.Position, names, streams []string, timeout time.Duration) (bool, error) {
	if pos.IsZero() {
		return true, nil
	}
	if len(names) == 0 {
		names = q.names
	}
	if pos.Commit > math.MaxInt64 || pos.Prepare > math.MaxInt64 {
		return false, fmt.Errorf("%w: %s", ErrInvalidPosition, pos)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, err := q.reached(ctx, pos, names, streams)
		if err != nil || ok {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
	}
}

// reached reports whether every projection has applied the log up to pos.
// A projection fed in-process has reached it when its checkpoint has. One fed
// by Kafka has reached it when the relay published pos and, in every
// partition, the projection applied the last event the relay published there
// or an event at or past pos. That is conservative: it may wait for an event
// after pos in a partition, never the other way round.
//
// A stream of streams that one of the projections parked at or before pos
// is a *ParkedError.
func (q *Queries) reached(ctx context.Context, pos domain.Position, names, streams []string) (bool, error) {
	if streams == nil {
		streams = []string{} // not NULL
	}
	// One round trip: whether the projections reached pos, and the first
	// stream of streams parked at or before it, if any.
	var ok bool
	var (
		projection, stream, typ, perr *string
		version, c, p                 *int64
		at                            *time.Time
	)
	err := q.db.QueryRow(ctx, `select (select coalesce(bool_and(
		coalesce((select (c.commit_pos, c.prepare_pos) >= ($2::bigint, $3::bigint)
			from projection_checkpoints c where c.name = n.name), false)
		or exists (
			select 1 from relay_checkpoints r
			where (r.commit_pos, r.prepare_pos) >= ($2::bigint, $3::bigint)
			and not exists (
				select 1 from relay_partitions rp
				left join projection_partitions pp on pp.name = n.name and pp.partition = rp.partition
				where rp.name = r.name
				and (coalesce(pp.commit_pos, 0), coalesce(pp.prepare_pos, 0)) < (rp.commit_pos, rp.prepare_pos)
				and (coalesce(pp.commit_pos, 0), coalesce(pp.prepare_pos, 0)) < ($2::bigint, $3::bigint)))
		), false)
		from unnest($1::text[]) as n(name)),
		s.name, s.stream_id, s.version, s.commit_pos, s.prepare_pos, s.type, s.error, s.parked_at
		from (select) one left join lateral (
			select * from projection_parked_streams where cardinality($4::text[]) > 0 and name = any($1) and stream_id = any($4)
			and (commit_pos, prepare_pos) <= ($2::bigint, $3::bigint) order by commit_pos, prepare_pos limit 1) s on true`,
		names, int64(pos.Commit), int64(pos.Prepare), streams).Scan(&ok, &projection, &stream, &version, &c, &p, &typ, &perr, &at)
	if err != nil {
		return false, fmt.Errorf("query checkpoints: %w", err)
	}
	if stream != nil {
		s := ParkedStream{Projection: *projection, Stream: *stream, Version: *version,
			Position: domain.Position{Commit: uint64(*c), Prepare: uint64(*p)}, Type: *typ, Error: *perr, ParkedAt: at.UTC()}
		return false, &ParkedError{Parked: s, Position: pos}
	}
	return ok, nil
}

// Analytics returns the sales analytics of a show. A show without orders
// has zero figures and no hours; the caller checks that the show exists.
func (q *Queries) Analytics(ctx context.Context, showID uuid.UUID) (AnalyticsView, error) {
	v := AnalyticsView{ShowID: showID, Hours: []AnalyticsHour{}}
	rows, err := q.db.Query(ctx, `select hour, holds, units_held, confirmed, units_sold, revenue_cents, expired, cancelled
		from rm_analytics_hours where show_id = $1 order by hour`, showID)
	if err != nil {
		return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
	}
	defer rows.Close()
	at := map[time.Time]int{}
	for rows.Next() {
		var h AnalyticsHour
		f := &h.AnalyticsFigures
		if err := rows.Scan(&h.Hour, &f.Holds, &f.UnitsHeld, &f.Confirmed, &f.UnitsSold, &f.RevenueCents, &f.Expired, &f.Cancelled); err != nil {
			return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
		}
		h.Hour = h.Hour.UTC()
		at[h.Hour] = len(v.Hours)
		v.Hours = append(v.Hours, h)
		v.Totals.add(*f)
	}
	if err := rows.Err(); err != nil {
		return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
	}
	rows.Close()

	// The holds of each hour, and of all hours (the null hour of the
	// grouping set), followed to their payment.
	rows, err = q.db.Query(ctx, `select held_hour, count(pay_ms), percentile_cont(0.5) within group (order by pay_ms)
		from rm_analytics_orders where show_id = $1 group by grouping sets ((held_hour), ())`, showID)
	if err != nil {
		return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hour *time.Time
		var paid int
		var median *float64
		if err := rows.Scan(&hour, &paid, &median); err != nil {
			return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
		}
		if hour == nil {
			v.Totals.cohort(paid, median)
			continue
		}
		if i, ok := at[hour.UTC()]; ok {
			v.Hours[i].cohort(paid, median)
		}
	}
	if err := rows.Err(); err != nil {
		return AnalyticsView{}, fmt.Errorf("query analytics: %w", err)
	}
	return v, nil
}
