package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Export calls fn with every event that f selects, in log order, until fn
// fails (Export then returns its error as it is) or f.Limit events were
// passed. The events come from one query whose rows are streamed as the
// server sends them, so an export of the whole log holds one row at a time
// and sees one snapshot of the log: the events committed when it started.
func (s *Store) Export(ctx context.Context, f domain.EventFilter, fn func(domain.RecordedEvent) error) error {
	fail := func(err error) error { return &commands.StoreError{Op: "export", Stream: f.Stream, Err: err} }
	// As in readAll: the first position after {c, p} is c+1, or c when p < c.
	after := f.After.Commit
	if f.After.Prepare < f.After.Commit {
		after--
	}
	if after >= math.MaxInt64 {
		return nil
	}
	var sql strings.Builder
	sql.WriteString(selectEvents + "where position > $1")
	args := []any{int64(after)}
	cond := func(format string, arg any) {
		args = append(args, arg)
		fmt.Fprintf(&sql, " and "+format, len(args))
	}
	if f.Stream != "" {
		cond("stream_id = $%d", f.Stream)
	}
	if len(f.Types) > 0 {
		cond("type = any($%d)", f.Types)
	}
	if !f.Since.IsZero() {
		cond("recorded_at >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		cond("recorded_at <= $%d", f.Until)
	}
	sql.WriteString(" order by position")
	if f.Limit > 0 {
		args = append(args, f.Limit)
		fmt.Fprintf(&sql, " limit $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, sql.String(), args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e domain.RecordedEvent
		var position int64
		if err := rows.Scan(&e.ID, &e.StreamID, &e.Version, &position, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return fail(err)
		}
		e.Position = domain.PositionAt(uint64(position))
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return nil
}
