package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/webhooks"
)

// FanoutCheckpoint returns the fanout's position in the global log.
func (s *Webhooks) FanoutCheckpoint(ctx context.Context) (domain.Position, error) {
	var c, p int64
	if err := s.pool.QueryRow(ctx, `select commit, prepare from webhook_fanout where id = 1`).Scan(&c, &p); err != nil {
		return domain.Position{}, fmt.Errorf("webhook fanout checkpoint: %w", err)
	}
	return domain.Position{Commit: uint64(c), Prepare: uint64(p)}, nil
}

// queueDelivery queues an event for every enabled endpoint, created before
// it, that subscribes to its type and sees its show.
const queueDelivery = `insert into webhook_deliveries (id, endpoint_id, event_id, event_type, position, payload,
		state, due_at, give_up_at, created_at)
	select gen_random_uuid(), e.id, $1, $2, $3, $4, 'pending', $5, $6, $5
	from webhook_endpoints e
	where e.enabled and $2 = any(e.event_types) and e.created_at <= $7
		and (e.all_shows or e.owner_id = (select organizer_id from webhook_show_owners where show_id = $8))
	on conflict (endpoint_id, event_id) do nothing`

// Fanout records items after the checkpoint and moves it to to, in one
// transaction that locks it; see webhooks.Store. It takes two round trips:
// BEGIN with the locked checkpoint, then the items with the COMMIT.
func (s *Webhooks) Fanout(ctx context.Context, to domain.Position, items []webhooks.Item, now, giveUpAt time.Time) (int, error) {
	queued := 0
	err := withPipelinedTx(ctx, s.pool, func(tx *pipeTx) error {
		var c, p int64
		first := tx.begin()
		first.Queue(`select commit, prepare from webhook_fanout where id = 1 for update`).QueryRow(func(row pgx.Row) error {
			return row.Scan(&c, &p)
		})
		// issue 17: feed: the types some enabled endpoint subscribes to; an
		// item of another type queues nothing, and its payload is not built.
		var subscribed []string
		first.Queue(subscribedTypes).QueryRow(func(row pgx.Row) error { return row.Scan(&subscribed) })
		if err := tx.conn.SendBatch(ctx, first).Close(); err != nil {
			return err
		}
		cp := domain.Position{Commit: uint64(c), Prepare: uint64(p)}
		b := &pgx.Batch{}
		if cp.Less(to) {
			for _, it := range items {
				if cp.Less(it.Position) {
					queueItem(b, it, subscribed, now, giveUpAt, &queued)
				}
			}
			b.Queue(`update webhook_fanout set commit = $1, prepare = $2 where id = 1`, int64(to.Commit), int64(to.Prepare))
		}
		// Close, unlike tx.commit, runs the callbacks that count the
		// deliveries; an error of any statement is its error, and a
		// COMMIT after one would have rolled back.
		b.Queue("commit")
		if err := tx.conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		tx.committed = true
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook fanout: %w", err)
	}
	return queued, nil
}

// subscribedTypes are the event types some enabled endpoint subscribes to.
const subscribedTypes = `select coalesce(array_agg(distinct t), '{}') from webhook_endpoints e cross join unnest(e.event_types) t
	where e.enabled`

// queueItem queues the statements of it on b, counting the deliveries
// they queue into queued. A delivery is queued only when an endpoint
// subscribes to its type; Encode is called only then.
func queueItem(b *pgx.Batch, it webhooks.Item, subscribed []string, now, giveUpAt time.Time, queued *int) {
	if it.OrganizerID != uuid.Nil {
		b.Queue(`insert into webhook_show_owners values ($1, $2) on conflict do nothing`, it.ShowID, it.OrganizerID)
	}
	if !slices.Contains(subscribed, it.Type) {
		return
	}
	if it.Payload == nil && it.Encode != nil {
		var ok bool
		if it.Payload, it.ShowID, ok = it.Encode(); !ok {
			return
		}
	}
	if it.Payload != nil {
		b.Queue(queueDelivery, it.EventID, it.Type, it.Position.String(), it.Payload, now, giveUpAt, it.RecordedAt, it.ShowID).
			Exec(func(tag pgconn.CommandTag) error { *queued += int(tag.RowsAffected()); return nil })
	}
}

// claimDue leases due deliveries, at most $3 of each enabled endpoint not
// in $4, endpoints in random order so that none is always last.
const claimDue = `with c as (
		select d.id from (
			select id from webhook_endpoints where enabled and id <> all($4::uuid[]) order by random()
		) e cross join lateral (
			select id from webhook_deliveries d
			where d.endpoint_id = e.id and d.state = 'pending' and d.due_at <= $1
			order by d.due_at limit $3 for update skip locked
		) d
		limit $2
	)
	update webhook_deliveries d set claim = $5, due_at = $6
	from c, webhook_endpoints e where d.id = c.id and e.id = d.endpoint_id
	returning `

// Claim leases due deliveries; see webhooks.Store.
func (s *Webhooks) Claim(ctx context.Context, now time.Time, limit, perEndpoint int, skip []uuid.UUID,
	lease time.Duration) ([]webhooks.Claimed, error) {
	if skip == nil {
		skip = []uuid.UUID{}
	}
	token := uuid.New()
	rows, err := s.pool.Query(ctx, claimDue+prefixed("d.", deliveryColumns)+", "+prefixed("e.", endpointColumns),
		now, limit, perEndpoint, skip, token, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return collect(rows, func(r pgx.Rows) (webhooks.Claimed, error) {
		var d deliveryRow
		var e endpointRow
		err := r.Scan(append(d.dest(), e.dest()...)...)
		return webhooks.Claimed{Delivery: d.done(), Endpoint: e.done(), Claim: token}, err
	})
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// recordAttempt updates a claimed delivery after an attempt and, when it
// failed for good, disables its endpoint, in one statement.
const recordAttempt = `with d as (
		update webhook_deliveries set state = $3, attempts = $4, due_at = coalesce($5, due_at), last_status = $6,
			last_latency_ms = $7, last_error = $8, last_attempt_at = $9, delivered_at = $10, claim = null
		where id = $1 and claim = $2
		returning endpoint_id, state
	)
	update webhook_endpoints e set enabled = false, disabled_reason = $11, disabled_at = $9
	from d where e.id = d.endpoint_id and d.state = 'failed' and e.enabled`

// Record stores an attempt and its outcome, in one round trip; see
// webhooks.Store.
func (s *Webhooks) Record(ctx context.Context, c webhooks.Claimed, a webhooks.Attempt, done bool, next time.Time, reason string) error {
	state := webhooks.StatePending
	switch {
	case done:
		state = webhooks.StateSucceeded
	case next.IsZero():
		state = webhooks.StateFailed
	}
	var delivered *time.Time
	if done {
		delivered = &a.At
	}
	err := withPipelinedTx(ctx, s.pool, func(tx *pipeTx) error {
		b := tx.begin()
		b.Queue(`insert into webhook_attempts values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
			a.DeliveryID, a.Attempt, a.At, a.Status, a.Latency.Milliseconds(), a.Error)
		b.Queue(recordAttempt, a.DeliveryID, c.Claim, state, a.Attempt, orNull(next), a.Status,
			a.Latency.Milliseconds(), a.Error, a.At, delivered, reason)
		_, err := tx.commit(ctx, b)
		return err
	})
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}
