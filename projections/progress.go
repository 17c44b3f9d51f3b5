package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// Feeding modes of a projection.
const (
	ModeInProcess = "in-process"
	ModeKafka     = "kafka"
)

// Progress is how far a projection got, as recorded in the database, so
// that any process can tell.
type Progress struct {
	Name string `json:"name"`
	// Mode is ModeKafka when the projection is fed through Kafka.
	Mode string `json:"mode"`
	// Position is the point of the global log up to which the projection is
	// known to have applied every event.
	Position domain.Position `json:"-"`
	// State, LastError and Failures are what the running process last
	// reported (State is "" when none did).
	State     string    `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	Failures  int       `json:"failures"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Rebuild is set while `ticketing replay` rebuilds the projection, or
	// after one was killed (its UpdatedAt then stops moving).
	Rebuild *RebuildProgress `json:"rebuild,omitempty"`
	// Parked are the streams the projection parked, the first parked
	// first.
	Parked []ParkedStream `json:"parked,omitempty"`
}

// RebuildProgress is how far a rebuild got.
type RebuildProgress struct {
	Mode      string    `json:"mode"`
	Position  uint64    `json:"position"`
	Target    uint64    `json:"target"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RelayPosition returns how far the Kafka relay published the log, and false
// when no relay ever did.
func (q *Queries) RelayPosition(ctx context.Context) (domain.Position, bool, error) {
	var c, p int64
	err := q.db.QueryRow(ctx, `select commit_pos, prepare_pos from relay_checkpoints order by commit_pos, prepare_pos limit 1`).Scan(&c, &p)
	if errors.Is(err, ErrNotFound) {
		return domain.Start, false, nil
	}
	if err != nil {
		return domain.Start, false, fmt.Errorf("query relay position: %w", err)
	}
	return pos(c, p), true, nil
}

func pos(c, p int64) domain.Position { return domain.Position{Commit: uint64(c), Prepare: uint64(p)} }

// Progress returns the progress of every projection of All, in that order.
// A projection fed by Kafka is at the earliest position it applied in a
// partition that is behind what the relay published there, or at the
// relay's position when no partition is behind.
func (q *Queries) Progress(ctx context.Context) ([]Progress, error) {
	relay, hasRelay, err := q.RelayPosition(ctx)
	if err != nil {
		return nil, err
	}
	parked, err := q.ParkedStreams(ctx, q.names...)
	if err != nil {
		return nil, err
	}
	out := make([]Progress, 0, len(q.names))
	for _, name := range q.names {
		pr := Progress{Name: name, Mode: ModeInProcess}
		var c, p int64
		err := q.db.QueryRow(ctx, `select commit_pos, prepare_pos from projection_checkpoints where name = $1`, name).Scan(&c, &p)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("query progress: %w", err)
		}
		pr.Position = pos(c, p)
		var partitions int
		if err := q.db.QueryRow(ctx, `select count(*) from projection_partitions where name = $1`, name).Scan(&partitions); err != nil {
			return nil, fmt.Errorf("query progress: %w", err)
		}
		if partitions > 0 && hasRelay {
			pr.Mode, pr.Position = ModeKafka, relay
			err := q.db.QueryRow(ctx, `select coalesce(pp.commit_pos, 0), coalesce(pp.prepare_pos, 0)
				from relay_partitions rp
				left join projection_partitions pp on pp.name = $1 and pp.partition = rp.partition
				where (coalesce(pp.commit_pos, 0), coalesce(pp.prepare_pos, 0)) < (rp.commit_pos, rp.prepare_pos)
				order by 1, 2 limit 1`, name).Scan(&c, &p)
			switch {
			case err == nil:
				pr.Position = pos(c, p)
			case !errors.Is(err, ErrNotFound):
				return nil, fmt.Errorf("query progress: %w", err)
			}
		}
		err = q.db.QueryRow(ctx, `select state, last_error, failures, updated_at from projection_state where name = $1`, name).
			Scan(&pr.State, &pr.LastError, &pr.Failures, &pr.UpdatedAt)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("query progress: %w", err)
		}
		var rb RebuildProgress
		var at, target int64
		err = q.db.QueryRow(ctx, `select mode, position, target, updated_at from projection_rebuilds where name = $1`, name).
			Scan(&rb.Mode, &at, &target, &rb.UpdatedAt)
		switch {
		case err == nil:
			rb.Position, rb.Target = uint64(at), uint64(target)
			pr.Rebuild = &rb
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("query progress: %w", err)
		}
		for _, s := range parked {
			if s.Projection == name {
				pr.Parked = append(pr.Parked, s)
			}
		}
		out = append(out, pr)
	}
	return out, nil
}

// ParkedStreams returns the streams the projections names parked (every
// projection's when names is empty), the first parked first, each with the
// number of its events waiting.
func (q *Queries) ParkedStreams(ctx context.Context, names ...string) ([]ParkedStream, error) {
	if names == nil {
		names = []string{} // not NULL
	}
	rows, err := q.db.Query(ctx, `select s.name, s.stream_id, s.version, s.commit_pos, s.prepare_pos, s.type, s.error, s.parked_at,
			(select count(*) from projection_parked_events e where e.name = s.name and e.stream_id = s.stream_id)
		from projection_parked_streams s where cardinality($1::text[]) = 0 or s.name = any($1)
		order by s.parked_at, s.name, s.stream_id`, names)
	if err != nil {
		return nil, fmt.Errorf("query parked streams: %w", err)
	}
	defer rows.Close()
	out := []ParkedStream{}
	for rows.Next() {
		var s ParkedStream
		var c, p int64
		if err := rows.Scan(&s.Projection, &s.Stream, &s.Version, &c, &p, &s.Type, &s.Error, &s.ParkedAt, &s.Waiting); err != nil {
			return nil, fmt.Errorf("query parked streams: %w", err)
		}
		s.Position, s.ParkedAt = pos(c, p), s.ParkedAt.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query parked streams: %w", err)
	}
	return out, nil
}
