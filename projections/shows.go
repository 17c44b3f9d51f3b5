package projections

import (
	"context"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Projection names: the keys of their checkpoints. Never rename one: a new
// name rebuilds the projection from the start of the log.
const (
	NameShows  = "shows"
	NameOrders = "orders"
	NameSales  = "sales"
	NameHolds  = "holds"
)

// Section kinds in the read models.
const (
	KindGeneralAdmission = "general_admission"
	KindSeated           = "seated"
)

// Seat states in the read models.
const (
	SeatAvailable = "available"
	SeatHeld      = "held"
	SeatSold      = "sold"
)

var _ Projector = Shows{}

// Shows maintains rm_shows, rm_sections (prices and counters of units held
// and sold) and rm_seats (the state of every seat).
type Shows struct{}

// Name returns NameShows.
func (Shows) Name() string { return NameShows }

// Tables returns the tables of the projection.
func (Shows) Tables() []string {
	return []string{"rm_shows", "rm_sections", "rm_seats", "rm_show_rules" /* issue 14: rules */}
}

// Apply projects the show events.
func (Shows) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.ShowCreated:
		return createShow(ctx, db, rec, e)
	case domain.ShowDetailsChanged:
		return db.Exec(ctx, `update rm_shows set title = $2, venue = $3, starts_at = $4, updated_at = $5 where id = $1`,
			e.ShowID, e.Title, e.Venue, e.StartsAt, rec.RecordedAt)
	case domain.SectionPriceChanged:
		if err := db.Exec(ctx, `update rm_sections set price_cents = $3 where show_id = $1 and name = $2`,
			e.ShowID, e.Section, e.PriceCents); err != nil {
			return err
		}
		return touchShow(ctx, db, e.ShowID, rec)
	case domain.ShowPublished:
		return db.Exec(ctx, `update rm_shows set status = $2, updated_at = $3 where id = $1`,
			e.ShowID, string(domain.ShowStatusOnSale), e.At)
	case domain.ShowCancelled:
		return db.Exec(ctx, `update rm_shows set status = $2, updated_at = $3 where id = $1`,
			e.ShowID, string(domain.ShowStatusCancelled), e.At)
	case domain.SeatsHeld:
		if err := moveRuleUses(ctx, db, e.ShowID, e.Voucher, e.Quotas, 1); err != nil { // issue 14: rules
			return err
		}
		return moveInventory(ctx, db, e.ShowID, e.OrderID, e.Items, e.Seats, SeatHeld, 1, 0)
	case domain.SeatsReleased:
		if err := moveRuleUses(ctx, db, e.ShowID, e.Voucher, e.Quotas, -1); err != nil { // issue 14: rules
			return err
		}
		return moveInventory(ctx, db, e.ShowID, uuid.Nil, e.Items, e.Seats, SeatAvailable, -1, 0)
	case domain.SeatsSold:
		return moveInventory(ctx, db, e.ShowID, e.OrderID, e.Items, e.Seats, SeatSold, -1, 1)
	case domain.TicketTypeSet, domain.QuotaSet, domain.OrderLimitsChanged, domain.VoucherCreated, domain.VoucherDisabled: // issue 14: rules
		return applyRule(ctx, db, rec, e)
	case domain.SeatsReturned: // issue 14: money; its quota units come back (rules)
		if err := moveRuleUses(ctx, db, e.ShowID, "", e.Quotas, -1); err != nil {
			return err
		}
		return moveInventory(ctx, db, e.ShowID, uuid.Nil, e.Items, e.Seats, SeatAvailable, 0, -1)
	}
	return nil
}

func createShow(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.ShowCreated) error {
	seq, err := seqOf(rec)
	if err != nil {
		return err
	}
	// A show is created once; a second ShowCreated for it changes nothing:
	// the sections go only to the show this event created, the one with its
	// seq. No statement returns a row, so that a batch's are sent together
	// (issue 15: klatency).
	if err := db.Exec(ctx, `insert into rm_shows (id, seq, organizer_id, title, venue, starts_at, status, created_at, updated_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		on conflict (id) do nothing`,
		e.ShowID, seq, e.OrganizerID, e.Title, e.Venue, e.StartsAt, string(domain.ShowStatusDraft), e.CreatedAt); err != nil {
		return err
	}
	for i, sec := range e.Sections {
		kind := KindGeneralAdmission
		if sec.Seated() {
			kind = KindSeated
		}
		if err := db.Exec(ctx, `insert into rm_sections (show_id, name, idx, kind, price_cents, capacity)
			select $1, $2, $3::bigint, $4, $5::bigint, $6::bigint
			where exists (select 1 from rm_shows where id = $1 and seq = $7)`,
			e.ShowID, sec.Name, i, kind, sec.PriceCents, sec.Units(), seq); err != nil {
			return err
		}
		if !sec.Seated() {
			continue
		}
		// A row of more seats than an int holds fails at the cast, before
		// any seat is generated.
		if err := db.Exec(ctx, `insert into rm_seats (show_id, section, row_label, row_idx, seat, state)
			select $1, $2, r.label, r.idx - 1, s, $5
			from unnest($3::text[], $4::bigint[]) with ordinality as r(label, seats, idx)
			cross join lateral generate_series(1, r.seats::int) as s
			where exists (select 1 from rm_shows where id = $1 and seq = $6)`,
			e.ShowID, sec.Name, column(sec.Rows, func(r domain.RowSpec) string { return r.Label }),
			column(sec.Rows, func(r domain.RowSpec) int64 { return int64(r.Seats) }), SeatAvailable, seq); err != nil {
			return err
		}
	}
	return nil
}

func touchShow(ctx context.Context, db DB, show uuid.UUID, rec domain.RecordedEvent) error {
	return db.Exec(ctx, `update rm_shows set updated_at = $2 where id = $1`, show, rec.RecordedAt)
}

// moveInventory moves general-admission units between the held and sold
// counters (held += dHeld, sold += dSold per unit) and sets seats to state.
func moveInventory(ctx context.Context, db DB, show, order uuid.UUID, items []domain.HeldItem, seats []domain.HeldSeat, state string, dHeld, dSold int) error {
	units := map[string]int{}
	var names []string
	for _, it := range items {
		if _, ok := units[it.Section]; !ok {
			names = append(names, it.Section)
		}
		units[it.Section] += quantity(it.Quantity)
	}
	for _, st := range seats {
		if _, ok := units[st.Section]; !ok {
			names = append(names, st.Section)
		}
		units[st.Section]++
	}
	for _, n := range names {
		if err := db.Exec(ctx, `update rm_sections set held = held + $3::bigint, sold = sold + $4::bigint where show_id = $1 and name = $2`,
			show, n, dHeld*units[n], dSold*units[n]); err != nil {
			return err
		}
	}
	if len(seats) == 0 {
		return nil
	}
	secs, rows, nums := seatColumns(seats)
	var orderID *uuid.UUID
	if order != uuid.Nil {
		orderID = &order
	}
	return db.Exec(ctx, `update rm_seats set state = $5, order_id = $6
		from unnest($2::text[], $3::text[], $4::bigint[]) as x(section, row_label, seat)
		where rm_seats.show_id = $1 and rm_seats.section = x.section and rm_seats.row_label = x.row_label and rm_seats.seat = x.seat`,
		show, secs, rows, nums, state, orderID)
}

// seatColumns returns the seats as columns. Seat numbers are bigint, so
// that one past an int column names no seat rather than wrap onto another.
func seatColumns(seats []domain.HeldSeat) (secs, rows []string, nums []int64) {
	return column(seats, func(s domain.HeldSeat) string { return s.Section }),
		column(seats, func(s domain.HeldSeat) string { return s.Row }),
		column(seats, func(s domain.HeldSeat) int64 { return int64(s.Seat) })
}

// seqOf returns the commit position of rec as the bigint of a seq column.
func seqOf(rec domain.RecordedEvent) (int64, error) {
	if rec.Position.Commit > math.MaxInt64 {
		return 0, fmt.Errorf("position %s does not fit a bigint", rec.Position)
	}
	return int64(rec.Position.Commit), nil
}

var _ BatchProjector = Shows{}

// ApplyBatch projects the show events of a batch. Runs of inventory events
// (SeatsHeld, SeatsReleased, SeatsSold) are done in two statements: the
// counters of each section moved by their sum, and each seat set to its
// last state in the run; the shows the run creates are inserted first, and
// its status changes set (see showsCreated). Other events are applied one
// by one.
func (p Shows) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &showsRun{}, p.Apply)
}

// showsRun is a run of inventory events of the shows projection.
type showsRun struct {
	counters keyed[sectionKey, counterDelta]
	seats    keyed[seatKey, seatState]
	shows    showsCreated // issue 17: rebuilds
}

type sectionKey struct {
	show    uuid.UUID
	section string
}

type counterDelta struct{ held, sold int64 }

type seatKey struct {
	show    uuid.UUID
	section string
	row     string
	seat    int64
}

type seatState struct {
	state string
	order uuid.UUID // uuid.Nil: none
}

func (r *showsRun) add(rec domain.RecordedEvent, e domain.Event) (runAction, error) {
	if hasRuleUses(e) { // issue 14: rules: holds with voucher or quota uses go one by one
		return runAlone, nil
	}
	switch e := e.(type) {
	case domain.ShowCreated: // issue 17: rebuilds
		return r.shows.create(rec, e)
	case domain.ShowPublished:
		r.shows.setStatus(e.ShowID, domain.ShowStatusOnSale, e.At)
	case domain.ShowCancelled:
		r.shows.setStatus(e.ShowID, domain.ShowStatusCancelled, e.At)
	case domain.SeatsHeld:
		r.move(e.ShowID, e.OrderID, e.Items, e.Seats, SeatHeld, 1, 0)
	case domain.SeatsReleased:
		r.move(e.ShowID, uuid.Nil, e.Items, e.Seats, SeatAvailable, -1, 0)
	case domain.SeatsSold:
		r.move(e.ShowID, e.OrderID, e.Items, e.Seats, SeatSold, -1, 1)
	case domain.OrderPlaced, domain.OrderConfirmed, domain.OrderCancelled, domain.OrderExpired, domain.TicketCheckedIn:
		return runIgnored, nil
	default:
		return runAlone, nil
	}
	return runJoined, nil
}

// quantity is an item's quantity, or corruptUnits when it is not positive
// or past every int column: the statement then fails rather than a sum
// wrapping around.
func quantity(q int) int {
	if q <= 0 || q > corruptUnits {
		return corruptUnits
	}
	return q
}

// move is moveInventory, added to the run.
func (r *showsRun) move(show, order uuid.UUID, items []domain.HeldItem, seats []domain.HeldSeat, state string, dHeld, dSold int64) {
	r.shows.touched.get(show)
	for _, it := range items {
		d := r.counters.get(sectionKey{show, it.Section})
		d.held += dHeld * int64(quantity(it.Quantity))
		d.sold += dSold * int64(quantity(it.Quantity))
	}
	for _, st := range seats {
		d := r.counters.get(sectionKey{show, st.Section})
		d.held += dHeld
		d.sold += dSold
		*r.seats.get(seatKey{show, st.Section, st.Row, int64(st.Seat)}) = seatState{state, order}
	}
}

func (r *showsRun) flush(ctx context.Context, db DB) error {
	defer r.counters.reset()
	defer r.seats.reset()
	defer r.shows.reset()
	if err := r.shows.flush(ctx, db); err != nil {
		return err
	}
	if c := &r.counters; c.len() > 0 {
		if err := db.Exec(ctx, `update rm_sections s set held = s.held + d.held, sold = s.sold + d.sold
			from unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[]) as d(show_id, name, held, sold)
			where s.show_id = d.show_id and s.name = d.name`,
			column(c.keys, func(k sectionKey) uuid.UUID { return k.show }), column(c.keys, func(k sectionKey) string { return k.section }),
			column(c.vals, func(d counterDelta) int64 { return d.held }), column(c.vals, func(d counterDelta) int64 { return d.sold })); err != nil {
			return err
		}
	}
	if r.seats.len() == 0 {
		return nil
	}
	k, v := r.seats.keys, r.seats.vals
	// A nil order is no order, as in moveInventory.
	return db.Exec(ctx, `update rm_seats s set state = x.state, order_id = nullif(x.order_id, '00000000-0000-0000-0000-000000000000'::uuid)
		from unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::uuid[]) as x(show_id, section, row_label, seat, state, order_id)
		where s.show_id = x.show_id and s.section = x.section and s.row_label = x.row_label and s.seat = x.seat`,
		column(k, func(k seatKey) uuid.UUID { return k.show }), column(k, func(k seatKey) string { return k.section }),
		column(k, func(k seatKey) string { return k.row }), column(k, func(k seatKey) int64 { return k.seat }),
		column(v, func(s seatState) string { return s.state }), column(v, func(s seatState) uuid.UUID { return s.order }))
}
