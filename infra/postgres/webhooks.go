package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/webhooks"
)

var _ webhooks.Store = (*Webhooks)(nil)

// Webhooks keeps webhook endpoints, their deliveries and attempts, and the
// fanout's checkpoint (issue 16: webhooks; migrations 00025 and 00026).
type Webhooks struct{ pool *pgxpool.Pool }

// NewWebhooks returns the webhook store on pool.
func NewWebhooks(pool *pgxpool.Pool) *Webhooks { return &Webhooks{pool: pool} }

const endpointColumns = `id, seq, owner_id, all_shows, url, description, event_types, secret, previous_secret,
	previous_until, enabled, disabled_reason, disabled_at, created_at`

// endpointRow scans the endpointColumns of a row.
type endpointRow struct {
	e               webhooks.Endpoint
	until, disabled *time.Time
}

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{&e.ID, &e.Seq, &e.OwnerID, &e.AllShows, &e.URL, &e.Description, &e.EventTypes, &e.Secret,
		&e.PreviousSecret, &r.until, &e.Enabled, &e.DisabledReason, &r.disabled, &e.CreatedAt}
}

func (r *endpointRow) done() webhooks.Endpoint {
	if r.until != nil {
		r.e.PreviousUntil = *r.until
	}
	if r.disabled != nil {
		r.e.DisabledAt = *r.disabled
	}
	return r.e
}

func scanEndpoint(row pgx.Row) (webhooks.Endpoint, error) {
	var r endpointRow
	err := row.Scan(r.dest()...)
	return r.done(), err
}

func orNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateEndpoint stores e.
func (s *Webhooks) CreateEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	_, err := s.pool.Exec(ctx, `insert into webhook_endpoints (id, owner_id, all_shows, url, description, event_types,
		secret, enabled, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.OwnerID, e.AllShows, e.URL, e.Description, e.EventTypes, e.Secret, e.Enabled, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", err)
	}
	return nil
}

// Endpoint returns endpoint id, or webhooks.ErrNotFound.
func (s *Webhooks) Endpoint(ctx context.Context, id uuid.UUID) (webhooks.Endpoint, error) {
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `select `+endpointColumns+` from webhook_endpoints where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, webhooks.ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("webhook endpoint: %w", err)
	}
	return e, nil
}

// Endpoints lists endpoints of owner (uuid.Nil: everyone's) after seq.
func (s *Webhooks) Endpoints(ctx context.Context, owner uuid.UUID, after int64, limit int) ([]webhooks.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `select `+endpointColumns+` from webhook_endpoints
		where ($1 = '00000000-0000-0000-0000-000000000000'::uuid or owner_id = $1) and seq > $2 order by seq limit $3`,
		owner, after, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	return collect(rows, func(r pgx.Rows) (webhooks.Endpoint, error) { return scanEndpoint(r) })
}

func collect[T any](rows pgx.Rows, scan func(pgx.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpdateEndpoint saves e's secrets and enabled state; enabling makes its
// pending deliveries due now with the horizon giveUpAt.
func (s *Webhooks) UpdateEndpoint(ctx context.Context, e webhooks.Endpoint, giveUpAt time.Time) error {
	return withTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update webhook_endpoints set secret = $2, previous_secret = $3, previous_until = $4,
			enabled = $5, disabled_reason = $6, disabled_at = $7 where id = $1`,
			e.ID, e.Secret, e.PreviousSecret, orNull(e.PreviousUntil), e.Enabled, e.DisabledReason, orNull(e.DisabledAt))
		if err != nil {
			return fmt.Errorf("update webhook endpoint: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return webhooks.ErrNotFound
		}
		if e.Enabled && !giveUpAt.IsZero() {
			_, err = tx.Exec(ctx, `update webhook_deliveries set due_at = now(), give_up_at = $2, claim = null
				where endpoint_id = $1 and state = 'pending'`, e.ID, giveUpAt)
		}
		return err
	})
}

const deliveryColumns = `id, seq, endpoint_id, event_id, event_type, position, payload, state, attempts, due_at,
	give_up_at, last_status, last_latency_ms, last_error, last_attempt_at, delivered_at, created_at`

// deliveryRow scans the deliveryColumns of a row.
type deliveryRow struct {
	d               webhooks.Delivery
	latency         int64
	last, delivered *time.Time
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.Seq, &d.EndpointID, &d.EventID, &d.EventType, &d.Position, &d.Payload, &d.State, &d.Attempts,
		&d.DueAt, &d.GiveUpAt, &d.LastStatus, &r.latency, &d.LastError, &r.last, &r.delivered, &d.CreatedAt}
}

func (r *deliveryRow) done() webhooks.Delivery {
	r.d.LastLatency = time.Duration(r.latency) * time.Millisecond
	if r.last != nil {
		r.d.LastAttemptAt = *r.last
	}
	if r.delivered != nil {
		r.d.DeliveredAt = *r.delivered
	}
	return r.d
}

func scanDelivery(row pgx.Row) (webhooks.Delivery, error) {
	var r deliveryRow
	err := row.Scan(r.dest()...)
	return r.done(), err
}

// Deliveries lists endpoint's deliveries before seq, newest first.
func (s *Webhooks) Deliveries(ctx context.Context, endpoint uuid.UUID, before int64, limit int) ([]webhooks.Delivery, error) {
	rows, err := s.pool.Query(ctx, `select `+deliveryColumns+` from webhook_deliveries
		where endpoint_id = $1 and ($2 = 0 or seq < $2) order by seq desc limit $3`, endpoint, before, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	return collect(rows, func(r pgx.Rows) (webhooks.Delivery, error) { return scanDelivery(r) })
}

// Delivery returns delivery id and its latest limit attempts, as of one
// snapshot: an attempt being recorded shows in both or in neither.
func (s *Webhooks) Delivery(ctx context.Context, id uuid.UUID, limit int) (webhooks.Delivery, []webhooks.Attempt, error) {
	var d webhooks.Delivery
	var attempts []webhooks.Attempt
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return d, nil, fmt.Errorf("webhook delivery: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	d, err = scanDelivery(tx.QueryRow(ctx, `select `+deliveryColumns+` from webhook_deliveries where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, nil, webhooks.ErrNotFound
	}
	if err != nil {
		return d, nil, fmt.Errorf("webhook delivery: %w", err)
	}
	rows, err := tx.Query(ctx, `select delivery_id, attempt, at, status, latency_ms, error from webhook_attempts
		where delivery_id = $1 order by attempt desc limit $2`, id, limit)
	if err != nil {
		return d, nil, fmt.Errorf("webhook attempts: %w", err)
	}
	attempts, err = collect(rows, func(r pgx.Rows) (webhooks.Attempt, error) {
		var a webhooks.Attempt
		var ms int64
		err := r.Scan(&a.DeliveryID, &a.Attempt, &a.At, &a.Status, &ms, &a.Error)
		a.Latency = time.Duration(ms) * time.Millisecond
		return a, err
	})
	if err != nil {
		return d, nil, fmt.Errorf("webhook attempts: %w", err)
	}
	return d, attempts, tx.Commit(ctx)
}

// Redeliver makes delivery id pending, due at now, with horizon giveUpAt.
func (s *Webhooks) Redeliver(ctx context.Context, id uuid.UUID, now, giveUpAt time.Time) error {
	tag, err := s.pool.Exec(ctx, `update webhook_deliveries set state = 'pending', due_at = $2, give_up_at = $3, claim = null
		where id = $1`, id, now, giveUpAt)
	if err != nil {
		return fmt.Errorf("redeliver webhook: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return webhooks.ErrNotFound
	}
	return nil
}
