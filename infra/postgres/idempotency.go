package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/idempotency"
)

var _ idempotency.Store = (*Idempotency)(nil)

// ErrNoClaim means Complete found no open claim for the key: it was never
// claimed, was released, or is completed already.
var ErrNoClaim = errors.New("no open idempotency claim")

// beginAttempts bounds how often Begin re-reads a key whose row changed
// under it (released, completed or taken over by another request).
const beginAttempts = 5

// DefaultIdempotencyTTL is how long a key is remembered unless told
// otherwise: a day, as Stripe keeps its keys.
const DefaultIdempotencyTTL = 24 * time.Hour

// Idempotency stores idempotency keys and their responses in the
// idempotency_keys table. Ages are measured with the database's clock, so
// that engine processes with skewed clocks agree on when a claim is stale.
// A key expires ttl after it was claimed: Begin treats it as never used,
// and Purge deletes it.
type Idempotency struct {
	pool *pgxpool.Pool
	ttl  time.Duration
}

// NewIdempotency returns an Idempotency backed by pool whose keys expire
// after ttl (DefaultIdempotencyTTL when ttl is not positive).
func NewIdempotency(pool *pgxpool.Pool, ttl time.Duration) *Idempotency {
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	return &Idempotency{pool: pool, ttl: ttl}
}

// Begin claims key within scope, as idempotency.Store documents:
// (nil, nil) for a new claim, an expired key or one taken over from a
// request older than staleAfter, the stored response for a completed key,
// idempotency.ErrMismatch for another fingerprint and
// idempotency.ErrInProgress for a live claim.
func (s *Idempotency) Begin(ctx context.Context, scope, key, fingerprint string, staleAfter time.Duration) (*idempotency.StoredResponse, error) {
	for range beginAttempts {
		claimed, err := s.claim(ctx, `
			insert into idempotency_keys (scope, key, fingerprint, created_at)
			values ($1, $2, $3, now())
			on conflict do nothing`, scope, key, fingerprint)
		if err != nil || claimed {
			return nil, err
		}
		c, found, err := s.readClaim(ctx, scope, key, staleAfter)
		if err != nil {
			return nil, err
		}
		if !found {
			continue // released since the insert: claim again
		}
		if c.expired {
			// Forgotten: the key is new, whatever it was used for.
			claimed, err := s.claim(ctx, `
				update idempotency_keys
				set fingerprint = $4, status = null, content_type = null, body = null,
				    created_at = now(), completed_at = null
				where scope = $1 and key = $2 and created_at = $3`,
				scope, key, c.createdAt, fingerprint)
			if err != nil || claimed {
				return nil, err
			}
			continue // someone else renewed or purged it: look again
		}
		if resp, err := c.answer(key, fingerprint); resp != nil || err != nil {
			return resp, err
		}
		// The claim is stale: its request died. Take it over, on condition
		// that nobody else did since we read it.
		claimed, err = s.claim(ctx, `
			update idempotency_keys set created_at = now()
			where scope = $1 and key = $2 and created_at = $3 and completed_at is null`,
			scope, key, c.createdAt)
		if err != nil || claimed {
			return nil, err
		}
		// Someone else took it over, completed or released it: look again.
	}
	return nil, fmt.Errorf("idempotency begin %q: %w", key, idempotency.ErrInProgress)
}

// claim runs a statement of Begin's and reports whether it wrote the one
// row that makes the key the caller's.
func (s *Idempotency) claim(ctx context.Context, sql string, args ...any) (bool, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return false, fmt.Errorf("idempotency begin: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// storedClaim is a key's row as Begin reads it, with its age judged by the
// database's clock.
type storedClaim struct {
	fingerprint string
	status      *int32
	contentType *string
	body        []byte
	createdAt   time.Time
	completed   bool
	stale       bool // older than staleAfter
	expired     bool // older than the TTL
}

// readClaim reads the row of key; found is false when there is none.
func (s *Idempotency) readClaim(ctx context.Context, scope, key string, staleAfter time.Duration) (c storedClaim, found bool, err error) {
	err = s.pool.QueryRow(ctx, `
		select fingerprint, status, content_type, body, created_at,
		       completed_at is not null,
		       created_at <= now() - $3::bigint * interval '1 microsecond',
		       created_at <= now() - $4::bigint * interval '1 microsecond'
		from idempotency_keys where scope = $1 and key = $2`,
		scope, key, staleAfter.Microseconds(), s.ttl.Microseconds()).
		Scan(&c.fingerprint, &c.status, &c.contentType, &c.body, &c.createdAt, &c.completed, &c.stale, &c.expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("idempotency begin: %w", err)
	}
	return c, true, nil
}

// answer is what Begin returns for an unexpired claim made with
// fingerprint: the stored response, ErrMismatch or ErrInProgress; nil and
// nil for a stale claim, which Begin may take over.
func (c storedClaim) answer(key, fingerprint string) (*idempotency.StoredResponse, error) {
	switch {
	case c.fingerprint != fingerprint:
		return nil, fmt.Errorf("idempotency begin %q: %w", key, idempotency.ErrMismatch)
	case c.completed:
		resp := &idempotency.StoredResponse{Body: c.body}
		if c.status != nil {
			resp.Status = int(*c.status)
		}
		if c.contentType != nil {
			resp.ContentType = *c.contentType
		}
		return resp, nil
	case !c.stale:
		return nil, fmt.Errorf("idempotency begin %q: %w", key, idempotency.ErrInProgress)
	}
	return nil, nil
}

// Complete stores resp for the claimed key. It fails with ErrNoClaim when
// the key has no open claim.
func (s *Idempotency) Complete(ctx context.Context, scope, key string, resp idempotency.StoredResponse) error {
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

// Purge deletes the keys that expired, and returns how many.
func (s *Idempotency) Purge(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		delete from idempotency_keys
		where created_at <= now() - $1::bigint * interval '1 microsecond'`, s.ttl.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("idempotency purge: %w", err)
	}
	return tag.RowsAffected(), nil
}
