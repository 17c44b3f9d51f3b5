package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// NameWaitlist is the name of the waiting-list projection (issue 14).
const NameWaitlist = "waitlist"

var _ Projector = Waitlist{}

// Waitlist maintains rm_waitlist, the buyers waiting in each section in
// order, and rm_waitlist_offers, the offers made to them. It reads only
// the waiting-list events: the hot path's events cost it nothing.
type Waitlist struct{}

// Name returns NameWaitlist.
func (Waitlist) Name() string { return NameWaitlist }

// Tables returns the tables of the projection.
func (Waitlist) Tables() []string {
	return []string{"rm_waitlist", "rm_waitlist_offers", "rm_waitlist_reserved"}
}

// Apply projects the waiting-list events.
func (Waitlist) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.WaitlistJoined:
		return db.Exec(ctx, `insert into rm_waitlist (show_id, section, buyer_id, quantity, joined_at, seq, ticket_type)
			values ($1, $2, $3, $4, $5, $6, $7) on conflict (show_id, section, buyer_id) do nothing`,
			e.ShowID, e.Section, e.BuyerID, e.Quantity, e.JoinedAt, int64(rec.Position.Commit), e.TicketType)
	case domain.WaitlistLeft:
		return leaveWaitlist(ctx, db, e.ShowID, e.Section, e.BuyerID, 0)
	case domain.WaitlistReserved:
		return db.Exec(ctx, `insert into rm_waitlist_reserved (show_id, section, reserved) values ($1, $2, $3)
			on conflict (show_id, section) do update set reserved = rm_waitlist_reserved.reserved + excluded.reserved`,
			e.ShowID, e.Section, int64(e.Quantity))
	case domain.WaitlistOffered:
		if err := leaveWaitlist(ctx, db, e.ShowID, e.Section, e.BuyerID, e.Quantity); err != nil {
			return err
		}
		return db.Exec(ctx, `insert into rm_waitlist_offers (order_id, show_id, section, buyer_id, quantity, offered_at, expires_at, ticket_type)
			values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (order_id) do nothing`,
			e.OrderID, e.ShowID, e.Section, e.BuyerID, e.Quantity, e.At, e.ExpiresAt, e.TicketType)
	}
	return nil
}

// leaveWaitlist takes a buyer off a section's list, as the show does: an
// offer takes its units from the reserved ones first, and the units
// reserved beyond what the list still wants go back on sale.
func leaveWaitlist(ctx context.Context, db DB, show uuid.UUID, section string, buyer uuid.UUID, offered int) error {
	if err := db.Exec(ctx, `delete from rm_waitlist where show_id = $1 and section = $2 and buyer_id = $3`, show, section, buyer); err != nil {
		return err
	}
	return db.Exec(ctx, `update rm_waitlist_reserved r set reserved = least(greatest(r.reserved - $3::bigint, 0),
			coalesce((select sum(w.quantity) from rm_waitlist w where w.show_id = r.show_id and w.section = r.section), 0))
		where r.show_id = $1 and r.section = $2`, show, section, int64(offered))
}

// WaitlistPlaceView is a buyer's place in a section's waiting list.
type WaitlistPlaceView struct {
	ShowID   uuid.UUID `json:"show_id"`
	Section  string    `json:"section"`
	Quantity int       `json:"quantity"`
	Place    int       `json:"place"` // 1: next in line
	JoinedAt time.Time `json:"joined_at"`
	// TicketType is the type waited for; "" for the section's price.
	TicketType string `json:"ticket_type,omitempty"`
}

// WaitlistOfferView is an open offer: its hold has not ended.
type WaitlistOfferView struct {
	OrderID   uuid.UUID `json:"order_id"`
	ShowID    uuid.UUID `json:"show_id"`
	Section   string    `json:"section"`
	Quantity  int       `json:"quantity"`
	OfferedAt time.Time `json:"offered_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// TicketType is the type of the offer's hold; "" for the section's.
	TicketType string `json:"ticket_type,omitempty"`
}

// BuyerWaitlist is where a buyer waits and what they were offered.
type BuyerWaitlist struct {
	Places []WaitlistPlaceView `json:"places"`
	Offers []WaitlistOfferView `json:"offers"`
}

// WaitlistOfBuyer returns the buyer's places (the first MaxLimit, by join)
// and open offers.
func (q *Queries) WaitlistOfBuyer(ctx context.Context, buyer uuid.UUID) (BuyerWaitlist, error) {
	out := BuyerWaitlist{Places: []WaitlistPlaceView{}, Offers: []WaitlistOfferView{}}
	rows, err := q.db.Query(ctx, `select w.show_id, w.section, w.quantity, w.joined_at, w.ticket_type,
			(select count(*) from rm_waitlist x where x.show_id = w.show_id and x.section = w.section and x.seq <= w.seq)
		from rm_waitlist w where w.buyer_id = $1 order by w.seq limit $2`, buyer, MaxLimit)
	if err != nil {
		return out, fmt.Errorf("query waitlist: %w", err)
	}
	for rows.Next() {
		var p WaitlistPlaceView
		if err := rows.Scan(&p.ShowID, &p.Section, &p.Quantity, &p.JoinedAt, &p.TicketType, &p.Place); err != nil {
			rows.Close()
			return out, fmt.Errorf("query waitlist: %w", err)
		}
		p.JoinedAt = p.JoinedAt.UTC()
		out.Places = append(out.Places, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("query waitlist: %w", err)
	}
	return q.openOffers(ctx, buyer, out)
}

// openOffers adds the buyer's offers whose holds are open to out.
func (q *Queries) openOffers(ctx context.Context, buyer uuid.UUID, out BuyerWaitlist) (BuyerWaitlist, error) {
	rows, err := q.db.Query(ctx, `select o.order_id, o.show_id, o.section, o.quantity, o.offered_at, o.expires_at, o.ticket_type
		from rm_waitlist_offers o join hold_deadlines h on h.order_id = o.order_id
		where o.buyer_id = $1 order by o.expires_at, o.order_id limit $2`, buyer, MaxLimit)
	if err != nil {
		return out, fmt.Errorf("query offers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o WaitlistOfferView
		if err := rows.Scan(&o.OrderID, &o.ShowID, &o.Section, &o.Quantity, &o.OfferedAt, &o.ExpiresAt, &o.TicketType); err != nil {
			return out, fmt.Errorf("query offers: %w", err)
		}
		o.OfferedAt, o.ExpiresAt = o.OfferedAt.UTC(), o.ExpiresAt.UTC()
		out.Offers = append(out.Offers, o)
	}
	return out, rows.Err()
}
