package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// Issue 14 (door): transfers in rm_tickets, the organizer's attendee and
// order lists of a show, and the show's title and start in the buyer's
// views.

// cursorAttendees is the cursor kind of the attendee list.
const cursorAttendees = "a"

// ShowInfo is the title and start of an order's or ticket's show.
type ShowInfo struct {
	ShowTitle    string    `json:"show_title"`
	ShowStartsAt time.Time `json:"show_starts_at"`
}

// Attendee is a ticket in the attendee list of a show.
type Attendee struct {
	TicketID    uuid.UUID  `json:"ticket_id"`
	OrderID     uuid.UUID  `json:"order_id"`
	HolderID    uuid.UUID  `json:"holder_id"`
	Section     string     `json:"section"`
	Row         string     `json:"row,omitempty"`
	Seat        int        `json:"seat,omitempty"`
	CheckedIn   bool       `json:"checked_in"`
	CheckedInAt *time.Time `json:"checked_in_at"`
	// issue 14: money — a voided ticket's state goes here.
}

// transferTicket moves a ticket to its new holder; an older generation
// than the row's changes nothing.
func transferTicket(ctx context.Context, db DB, e domain.TicketTransferred) error {
	return db.Exec(ctx, `update rm_tickets set holder_id = $2, generation = $3,
			former_holders = case when $4 = any(former_holders) then former_holders else former_holders || $4::uuid end
		where id = $1 and generation < $3`, e.TicketID, e.ToUserID, e.Generation, e.FromUserID)
}

// Attendees returns the tickets of a show's confirmed orders, in the order
// they were issued, with their holders and check-in state.
func (q *Queries) Attendees(ctx context.Context, show uuid.UUID, p Page) (List[Attendee], error) {
	limit, k, err := p.parse(cursorAttendees)
	if err != nil {
		return List[Attendee]{}, err
	}
	return queryPage(ctx, q.db, "attendees", cursorAttendees, limit, func(rows Rows) (Attendee, key, error) {
		var a Attendee
		var k key
		err := rows.Scan(&k.seq, &a.OrderID, &k.idx, &a.TicketID, &a.HolderID, &a.Section, &a.Row, &a.Seat, &a.CheckedInAt)
		k.id = a.OrderID
		utcPtr(a.CheckedInAt)
		a.CheckedIn = a.CheckedInAt != nil
		return a, k, err
	}, `select seq, order_id, idx, id, coalesce(holder_id, buyer_id), section, row_label, seat, checked_in_at
		from rm_tickets where show_id = $1 and (seq, order_id, idx) > ($2, $3, $4)
		order by seq, order_id, idx limit $5`, show, k.seq, k.id, k.idx, limit+1)
}

// OrdersByShow returns the orders of a show with their tickets, in the
// order they were placed.
func (q *Queries) OrdersByShow(ctx context.Context, show uuid.UUID, p Page) (List[OrderView], error) {
	limit, k, err := p.parse(cursorOrders)
	if err != nil {
		return List[OrderView]{}, err
	}
	return q.orders(ctx, limit, `select `+orderColumns+` from rm_orders
		where show_id = $4 and (seq, id) > ($1, $2) order by seq, id limit $3`, k.seq, k.id, limit+1, show)
}

// showInfos returns the title and start of shows.
func (q *Queries) showInfos(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]ShowInfo, error) {
	out := map[uuid.UUID]ShowInfo{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.db.Query(ctx, `select id, title, starts_at from rm_shows where id = any($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("query shows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var s ShowInfo
		if err := rows.Scan(&id, &s.ShowTitle, &s.ShowStartsAt); err != nil {
			return nil, fmt.Errorf("query shows: %w", err)
		}
		s.ShowStartsAt = s.ShowStartsAt.UTC()
		out[id] = s
	}
	return out, rows.Err()
}

// orderShows fills the show of each order.
func (q *Queries) orderShows(ctx context.Context, orders []OrderView) error {
	infos, err := q.showInfos(ctx, distinct(orders, func(o OrderView) uuid.UUID { return o.ShowID }))
	for i := range orders {
		orders[i].ShowInfo = infos[orders[i].ShowID]
	}
	return err
}

// ticketShows fills the show of each ticket.
func (q *Queries) ticketShows(ctx context.Context, tickets []BuyerTicket) error {
	infos, err := q.showInfos(ctx, distinct(tickets, func(t BuyerTicket) uuid.UUID { return t.ShowID }))
	for i := range tickets {
		tickets[i].ShowInfo = infos[tickets[i].ShowID]
	}
	return err
}

func distinct[T any](xs []T, id func(T) uuid.UUID) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, x := range xs {
		if i := id(x); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}
