package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/writeapi"
)

var _ writeapi.IdempotencyStore = (*Idempotency)(nil)

// ErrNoClaim means Complete found no open claim for the key: it was never
// claimed, was released, or is completed already.
var ErrNoClaim = errors.New("no open idempotency claim")

// beginAttempts bounds how often Begin re-reads a key whose row changed
// under it (released, completed or taken over by another request).
const beginAttempts = 5

// Idempotency stores idempotency keys and their responses in the
// idempotency_keys table. Ages are measured with the database's clock, so
// that engine processes with skewed clocks agree on when a claim is stale.
type Idempotency struct {
	pool *pgxpool.Pool
}

// NewIdempotency returns an Idempotency backed by pool.
func NewIdempotency(pool *pgxpool.Pool) *Idempotency {
	return &Idempotency{pool: pool}
}

// Begin claims key within scope, as writeapi.IdempotencyStore documents:
// (nil, nil) for a new claim or one taken over from a request older than
// staleAfter, the stored response for a completed key,
// writeapi.ErrIdempotencyMismatch for another fingerprint and
// writeapi.ErrIdempotencyInProgress for a live claim.
func (s *Idempotency) Begin(ctx context.Context, scope, key, fingerprint string, staleAfter time.Duration) (*writeapi.StoredResponse, error) {
	for range beginAttempts {
		tag, err := s.pool.Exec(ctx, `
			insert into idempotency_keys (scope, key, fingerprint, created_at)
			values ($1, $2, $3, now())
			on conflict do nothing`, scope, key, fingerprint)
		if err != nil {
			return nil, fmt.Errorf("idempotency begin: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}

		var (
			stored      string
			status      *int32
			contentType *string
			body        []byte
			createdAt   time.Time
			completed   bool
			stale       bool
		)
		err = s.pool.QueryRow(ctx, `
			select fingerprint, status, content_type, body, created_at,
			       completed_at is not null,
			       created_at <= now() - $3::bigint * interval '1 microsecond'
			from idempotency_keys where scope = $1 and key = $2`,
			scope, key, staleAfter.Microseconds()).
			Scan(&stored, &status, &contentType, &body, &createdAt, &completed, &stale)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released since the insert: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency begin: %w", err)
		}
		switch {
		case stored != fingerprint:
			return nil, fmt.Errorf("idempotency begin %q: %w", key, writeapi.ErrIdempotencyMismatch)
		case completed:
			resp := &writeapi.StoredResponse{Body: body}
			if status != nil {
				resp.Status = int(*status)
			}
			if contentType != nil {
				resp.ContentType = *contentType
			}
			return resp, nil
		case !stale:
			return nil, fmt.Errorf("idempotency begin %q: %w", key, writeapi.ErrIdempotencyInProgress)
		}

		// The claim is stale: its request died. Take it over, on condition
		// that nobody else did since we read it.
		tag, err = s.pool.Exec(ctx, `
			update idempotency_keys set created_at = now()
			where scope = $1 and key = $2 and created_at = $3 and completed_at is null`,
			scope, key, createdAt)
		if err != nil {
			return nil, fmt.Errorf("idempotency begin: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		// Someone else took it over, completed or released it: look again.
	}
	return nil, fmt.Errorf("idempotency begin %q: %w", key, writeapi.ErrIdempotencyInProgress)
}

// Complete stores resp for the claimed key. It fails with ErrNoClaim when
// the key has no open claim.
func (s *Idempotency) Complete(ctx context.Context, scope, key string, resp writeapi.StoredResponse) error {
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `
		update idempotency_keys
		set status = $3, content_type = $4, body = $5, completed_at = now()
		where scope = $1 and key = $2 and completed_at is null`,
		scope, key, resp.Status, resp.ContentType, body)
	if err != nil {
		return fmt.Errorf("idempotency complete: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("idempotency complete %q: %w", key, ErrNoClaim)
	}
	return nil
}

// Release drops the uncompleted claim on key, so that the request may be
// retried. Releasing a key that has no open claim does nothing.
func (s *Idempotency) Release(ctx context.Context, scope, key string) error {
	if _, err := s.pool.Exec(ctx, `
		delete from idempotency_keys
		where scope = $1 and key = $2 and completed_at is null`, scope, key); err != nil {
		return fmt.Errorf("idempotency release: %w", err)
	}
	return nil
}
