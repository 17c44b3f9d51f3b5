package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

// NameRefunds is the refunds projection: the state of the refund process.
const NameRefunds = "refunds"

var _ Projector = Refunds{}

// Refunds maintains the state the refund process (commands.Refunder)
// polls: confirmed orders with their issued and voided tickets, cancelled
// shows, and the decided refunds. Which refunds are settled the process
// records apart (refund_settlements), outside the projection.
type Refunds struct{}

// Name returns NameRefunds.
func (Refunds) Name() string { return NameRefunds }

// Tables returns the tables of the projection.
func (Refunds) Tables() []string {
	return []string{"pm_refund_orders", "pm_refund_shows", "pm_refunds"}
}

// Apply projects confirmations, cancellations of shows and refunds.
func (Refunds) Apply(ctx context.Context, db DB, rec domain.RecordedEvent, e domain.Event) error {
	switch e := e.(type) {
	case domain.OrderConfirmed:
		return db.Exec(ctx, `insert into pm_refund_orders (order_id, show_id, tickets, show_cancelled)
			values ($1, $2, $3, exists (select 1 from pm_refund_shows where show_id = $2)) on conflict (order_id) do nothing`,
			e.OrderID, e.ShowID, len(e.Tickets))
	case domain.ShowCancelled:
		if err := db.Exec(ctx, `insert into pm_refund_shows (show_id, cancelled_at) values ($1, $2) on conflict (show_id) do nothing`,
			e.ShowID, e.At); err != nil {
			return err
		}
		return db.Exec(ctx, `update pm_refund_orders set show_cancelled = true where show_id = $1`, e.ShowID)
	case domain.OrderRefunded:
		if err := db.Exec(ctx, `update pm_refund_orders set voided = voided + $2 where order_id = $1`, e.OrderID, len(e.TicketIDs)); err != nil {
			return err
		}
		// Nothing to settle: no money and no units move.
		trivial := (e.AmountCents == 0 || e.PaymentID == "") && !e.Restock
		return db.Exec(ctx, `insert into pm_refunds (refund_id, order_id, show_id, amount_cents, restock, recorded_at, trivial)
			values ($1, $2, $3, $4, $5, $6, $7) on conflict (refund_id) do nothing`,
			e.RefundID, e.OrderID, e.ShowID, e.AmountCents, e.Restock, rec.RecordedAt, trivial)
	}
	return nil
}

// RefundRef names a decided refund.
type RefundRef struct {
	OrderID  uuid.UUID
	RefundID string
}

// UnsettledRefunds returns up to limit refunds recorded before before that
// the refund process has not settled, oldest first.
func (q *Queries) UnsettledRefunds(ctx context.Context, before time.Time, limit int) ([]RefundRef, error) {
	rows, err := q.db.Query(ctx, `select r.order_id, r.refund_id from pm_refunds r
		where not r.trivial and r.recorded_at < $1 and `+unsettled+`
		order by r.recorded_at, r.refund_id limit $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("query unsettled refunds: %w", err)
	}
	defer rows.Close()
	out := []RefundRef{}
	for rows.Next() {
		var r RefundRef
		if err := rows.Scan(&r.OrderID, &r.RefundID); err != nil {
			return nil, fmt.Errorf("query unsettled refunds: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// unsettled is the condition that the refund r is not settled.
const unsettled = `not exists (select 1 from refund_settlements s where s.refund_id = r.refund_id and s.settled)`

// SettleRefund records the outcome of settling a refund in
// refund_settlements: settled, or one more failed attempt and its error.
func (q *Queries) SettleRefund(ctx context.Context, refundID string, failure error) error {
	settled, attempts, msg := true, 0, ""
	if failure != nil {
		r := []rune(failure.Error())
		settled, attempts, msg = false, 1, string(r[:min(len(r), 500)])
	}
	return q.db.Exec(ctx, `insert into refund_settlements (refund_id, settled, attempts, last_error) values ($1, $2, $3, $4)
		on conflict (refund_id) do update set settled = refund_settlements.settled or excluded.settled,
			attempts = refund_settlements.attempts + excluded.attempts, last_error = excluded.last_error, updated_at = now()`,
		refundID, settled, attempts, msg)
}

// failing is the condition that the unsettled refund r failed at least once.
const failing = `exists (select 1 from refund_settlements s where s.refund_id = r.refund_id and not s.settled and s.attempts > 0)`

// OrdersToRefund returns up to limit confirmed orders of cancelled shows
// with tickets not voided yet.
func (q *Queries) OrdersToRefund(ctx context.Context, limit int) ([]uuid.UUID, error) {
	return q.ids(ctx, "orders to refund", `select order_id from pm_refund_orders where show_cancelled and voided < tickets
		order by show_id, order_id limit $1`, limit)
}

// ids runs a query of one uuid column.
func (q *Queries) ids(ctx context.Context, what, sql string, args ...any) ([]uuid.UUID, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	defer rows.Close()
	out := []uuid.UUID{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query %s: %w", what, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Refund process states of a cancelled show.
const (
	RefundsInProgress = "in_progress"
	RefundsDone       = "done"
)

// RefundProgress is how far the refunds of a cancelled show are: of its
// confirmed orders, how many are refunded in full and settled.
type RefundProgress struct {
	Orders   int    `json:"orders"`
	Refunded int    `json:"refunded"`
	State    string `json:"state"`
	// Failing counts the unsettled refunds whose last attempt failed.
	Failing int `json:"failing,omitempty"`
}

// ShowRefunds returns the refund progress of a show, nil when it is not
// cancelled (as far as the refunds projection knows).
func (q *Queries) ShowRefunds(ctx context.Context, show uuid.UUID) (*RefundProgress, error) {
	var p RefundProgress
	err := q.db.QueryRow(ctx, `select
		(select count(*) from pm_refund_orders where show_id = $1),
		(select count(*) from pm_refund_orders o where show_id = $1 and voided >= tickets
			and not exists (select 1 from pm_refunds r where r.order_id = o.order_id and not r.trivial and `+unsettled+`)),
		(select count(*) from pm_refunds r where show_id = $1 and not r.trivial and `+failing+`)
		from pm_refund_shows where show_id = $1`, show).Scan(&p.Orders, &p.Refunded, &p.Failing)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query show refunds: %w", err)
	}
	p.State = RefundsInProgress
	if p.Refunded == p.Orders {
		p.State = RefundsDone
	}
	return &p, nil
}

// RefundBacklog is the refund process's work left: orders of cancelled
// shows to refund, decided refunds not settled, and of those how many
// failed at least once and the oldest's recording time.
type RefundBacklog struct {
	OrdersToRefund int        `json:"orders_to_refund"`
	Unsettled      int        `json:"unsettled"`
	Failing        int        `json:"failing"`
	Oldest         *time.Time `json:"oldest_unsettled,omitempty"`
}

// RefundBacklog returns the refund process's work left.
func (q *Queries) RefundBacklog(ctx context.Context) (RefundBacklog, error) {
	var b RefundBacklog
	err := q.db.QueryRow(ctx, `select
		(select count(*) from pm_refund_orders where show_cancelled and voided < tickets),
		(select count(*) from pm_refunds r where not r.trivial and `+unsettled+`),
		(select count(*) from pm_refunds r where not r.trivial and `+failing+`),
		(select min(recorded_at) from pm_refunds r where not r.trivial and `+unsettled+`)`).Scan(&b.OrdersToRefund, &b.Unsettled, &b.Failing, &b.Oldest)
	if err != nil {
		return RefundBacklog{}, fmt.Errorf("query refund backlog: %w", err)
	}
	return b, nil
}

// refundOrder voids the refunded tickets in rm_tickets and counts the
// refund in rm_orders; an order with no live ticket left is refunded.
func refundOrder(ctx context.Context, db DB, e domain.OrderRefunded) error {
	if err := db.Exec(ctx, `update rm_tickets set voided_at = $2 where id = any($1::uuid[]) and voided_at is null`,
		e.TicketIDs, e.RefundedAt); err != nil {
		return err
	}
	return db.Exec(ctx, `update rm_orders set refunded_cents = refunded_cents + $2, updated_at = $3,
		status = case when exists (select 1 from rm_tickets where order_id = $1 and voided_at is null) then status else $4 end
		where id = $1`, e.OrderID, e.AmountCents, e.RefundedAt, string(domain.OrderStatusRefunded))
}

// HoldsToRelease returns up to limit orders with open holds on cancelled
// shows, as the holds and refunds projections know them.
func (q *Queries) HoldsToRelease(ctx context.Context, limit int) ([]uuid.UUID, error) {
	return q.ids(ctx, "holds to release", `select h.order_id from hold_deadlines h join pm_refund_shows s on s.show_id = h.show_id
		order by h.expires_at, h.order_id limit $1`, limit)
}

var _ BatchProjector = Refunds{}

// ApplyBatch projects a batch as Apply does, the confirmations of each run
// of them in one statement: the hot path confirms orders in bulk.
func (p Refunds) ApplyBatch(ctx context.Context, db DB, recs []domain.RecordedEvent, events []domain.Event) error {
	return applyRuns(ctx, db, recs, events, &refundsRun{}, p.Apply)
}

// refundsRun is a run of confirmations; cancellations and refunds are
// applied alone, in order.
type refundsRun struct {
	orders, shows []uuid.UUID
	tickets       []int
}

func (r *refundsRun) add(_ domain.RecordedEvent, e domain.Event) (runAction, error) {
	switch e := e.(type) {
	case domain.OrderConfirmed:
		r.orders, r.shows, r.tickets = append(r.orders, e.OrderID), append(r.shows, e.ShowID), append(r.tickets, len(e.Tickets))
		return runJoined, nil
	case domain.ShowCancelled, domain.OrderRefunded:
		return runAlone, nil
	}
	return runIgnored, nil
}

func (r *refundsRun) flush(ctx context.Context, db DB) error {
	defer func() { r.orders, r.shows, r.tickets = r.orders[:0], r.shows[:0], r.tickets[:0] }()
	if len(r.orders) == 0 {
		return nil
	}
	return db.Exec(ctx, `insert into pm_refund_orders (order_id, show_id, tickets, show_cancelled)
		select o.id, o.show, o.tickets, exists (select 1 from pm_refund_shows s where s.show_id = o.show)
		from unnest($1::uuid[], $2::uuid[], $3::int[]) as o(id, show, tickets)
		on conflict (order_id) do nothing`, r.orders, r.shows, r.tickets)
}
