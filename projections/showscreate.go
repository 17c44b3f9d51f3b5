package projections

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Issue 17 (rebuilds): the shows projection's runs take the creation of
// shows and their status changes too, rather than cut the run at each: in
// a rebuild, shows are created throughout the first part of the log, and
// every cut flushed the run's seats and counters early (a seat held in
// one run and sold in the next is written twice).

// showsCreated is what a run of the shows projection creates and the
// status changes it makes, flushed before its inventory moves.
type showsCreated struct {
	// created are the shows created in the run, the first ShowCreated of
	// each, with the sequence number of its position.
	created keyed[uuid.UUID, createdShow]
	// status are the status changes (ShowPublished, ShowCancelled), the
	// last of each show.
	status keyed[uuid.UUID, statusChange]
	// touched are the shows with an event in the run.
	touched keyed[uuid.UUID, struct{}]
}

type createdShow struct {
	seq int64
	e   domain.ShowCreated
}

type statusChange struct {
	status string
	at     time.Time
}

// create takes a ShowCreated into the run, or says that it must be applied
// alone: when the run already has an event of the show, which must come
// first.
func (c *showsCreated) create(rec domain.RecordedEvent, e domain.ShowCreated) (runAction, error) {
	if c.created.has(e.ShowID) {
		return runJoined, nil // a second creation changes nothing
	}
	if c.touched.has(e.ShowID) {
		return runAlone, nil
	}
	seq, err := seqOf(rec)
	if err != nil {
		return 0, err
	}
	*c.created.get(e.ShowID) = createdShow{seq, e}
	c.touched.get(e.ShowID)
	return runJoined, nil
}

// setStatus takes a status change into the run.
func (c *showsCreated) setStatus(show uuid.UUID, status domain.ShowStatus, at time.Time) {
	*c.status.get(show) = statusChange{string(status), at}
	c.touched.get(show)
}

func (c *showsCreated) reset() {
	c.created.reset()
	c.status.reset()
	c.touched.reset()
}

// flush creates the run's shows, with their sections and seats, as
// createShow does (those already there get nothing), then sets the
// statuses.
func (c *showsCreated) flush(ctx context.Context, db DB) error {
	if c.created.len() > 0 {
		if err := c.insert(ctx, db); err != nil {
			return err
		}
	}
	if c.status.len() == 0 {
		return nil
	}
	v := c.status.vals
	return db.Exec(ctx, `update rm_shows s set status = x.status, updated_at = x.at
		from unnest($1::uuid[], $2::text[], $3::timestamptz[]) as x(id, status, at)
		where s.id = x.id`,
		c.status.keys, column(v, func(s statusChange) string { return s.status }),
		column(v, func(s statusChange) time.Time { return s.at }))
}

// createdRows are the columns of the sections and rows of seats created.
type createdRows struct {
	secShow                       []uuid.UUID
	secName, secKind              []string
	secIdx, secPrice, secCapacity []int64
	rowShow                       []uuid.UUID
	rowSection, rowLabel          []string
	rowSeats, rowIdx              []int64
}

func (c *showsCreated) rows() *createdRows {
	w := &createdRows{}
	for _, s := range c.created.vals {
		for i, sec := range s.e.Sections {
			kind := KindGeneralAdmission
			if sec.Seated() {
				kind = KindSeated
			}
			w.secShow, w.secName, w.secKind = append(w.secShow, s.e.ShowID), append(w.secName, sec.Name), append(w.secKind, kind)
			w.secIdx, w.secPrice, w.secCapacity = append(w.secIdx, int64(i)), append(w.secPrice, sec.PriceCents), append(w.secCapacity, int64(sec.Units()))
			for j, r := range sec.Rows {
				w.rowShow, w.rowSection, w.rowLabel = append(w.rowShow, s.e.ShowID), append(w.rowSection, sec.Name), append(w.rowLabel, r.Label)
				w.rowSeats, w.rowIdx = append(w.rowSeats, int64(r.Seats)), append(w.rowIdx, int64(j))
			}
		}
	}
	return w
}

// insert is createShow for the shows of the run, in one statement: only
// the shows inserted get sections and seats. As in createShow, a row of
// more seats than an int holds fails at the cast.
func (c *showsCreated) insert(ctx context.Context, db DB) error {
	v, w := c.created.vals, c.rows()
	return db.Exec(ctx, `with created as (
			insert into rm_shows (id, seq, organizer_id, title, venue, starts_at, status, created_at, updated_at)
			select x.id, x.seq, x.organizer_id, x.title, x.venue, x.starts_at, $7::text, x.created_at, x.created_at
			from unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $8::timestamptz[])
				as x(id, seq, organizer_id, title, venue, starts_at, created_at)
			on conflict (id) do nothing
			returning id),
		sections as (
			insert into rm_sections (show_id, name, idx, kind, price_cents, capacity)
			select x.show_id, x.name, x.idx, x.kind, x.price_cents, x.capacity
			from unnest($9::uuid[], $10::text[], $11::bigint[], $12::text[], $13::bigint[], $14::bigint[])
				as x(show_id, name, idx, kind, price_cents, capacity)
			where x.show_id in (select id from created))
		insert into rm_seats (show_id, section, row_label, row_idx, seat, state)
		select r.show_id, r.section, r.label, r.idx, n, $20::text
		from unnest($15::uuid[], $16::text[], $17::text[], $18::bigint[], $19::bigint[]) as r(show_id, section, label, seats, idx)
		cross join lateral generate_series(1, r.seats::int) as n
		where r.show_id in (select id from created)`,
		c.created.keys, column(v, func(s createdShow) int64 { return s.seq }),
		column(v, func(s createdShow) uuid.UUID { return s.e.OrganizerID }),
		column(v, func(s createdShow) string { return s.e.Title }), column(v, func(s createdShow) string { return s.e.Venue }),
		column(v, func(s createdShow) time.Time { return s.e.StartsAt }), string(domain.ShowStatusDraft),
		column(v, func(s createdShow) time.Time { return s.e.CreatedAt }),
		w.secShow, w.secName, w.secIdx, w.secKind, w.secPrice, w.secCapacity,
		w.rowShow, w.rowSection, w.rowLabel, w.rowSeats, w.rowIdx, SeatAvailable)
}
