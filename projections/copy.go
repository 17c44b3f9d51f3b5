package projections

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Copier is a DB that loads rows with COPY, PostgreSQL's bulk path (issue
// 17: rebuilds): no statement, no arrays to unpack and no conflict check per
// row. A DB of a rebuild's store is one.
//
// COPY fails on a key that is there already, where the projectors' INSERTs
// (on conflict do nothing) leave the row as it is: a projector copies only
// rows it looked for in the same transaction and did not find, so that the
// two paths leave the same rows; or, in a savepoint (Try), rows it takes to
// be new, the whole run done again with every row looked up should the
// COPY find one there.
type Copier interface {
	// CopyFrom sends the statements queued before it, then loads rows into
	// table, each with the values of columns in order.
	CopyFrom(ctx context.Context, table string, columns []string, rows [][]any) error
	// CopyMin is the fewest rows a projector loads with COPY; fewer go in
	// its INSERT statement. Zero: never COPY.
	CopyMin() int
	// Try runs fn, and the statements it queues, in a savepoint: when
	// they fail, what they did is undone and Try returns the failure,
	// the transaction still open for what the caller does instead.
	Try(ctx context.Context, fn func() error) error
}

// errNotCopied fails the optimistic flush of a run that has rows to create
// that COPY cannot load: the run is then done with the rows looked up.
var errNotCopied = errors.New("rows to create that COPY cannot load")

// copier returns db as a Copier when it is one that copies at all: a
// projector's flush then looks up the rows it may copy.
func copier(db DB) (Copier, bool) {
	c, ok := db.(Copier)
	if !ok || c.CopyMin() <= 0 {
		return nil, false
	}
	return c, true
}

// copyRows loads rows into table with c when there are at least c.CopyMin()
// of them, and reports whether it did; the caller inserts them otherwise.
//
// all copies any number of rows, for a flush that copies rows it did not
// look up (see Copier.Try): the COPY fails on a key that is there.
func copyRows(ctx context.Context, c Copier, all bool, table string, columns []string, n int, row func(i int) []any) (bool, error) {
	if c == nil || n == 0 || (n < c.CopyMin() && !all) {
		return false, nil
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = row(i)
	}
	return true, c.CopyFrom(ctx, table, columns, rows)
}

// without returns ids but those in drop, in order: the rows an optimistic
// flush reads, those its run touches but does not create.
func without(ids []uuid.UUID, drop map[uuid.UUID]bool) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range ids {
		if !drop[id] {
			out = append(out, id)
		}
	}
	return out
}
