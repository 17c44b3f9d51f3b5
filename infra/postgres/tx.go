package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// errRollback, returned by the function withTx runs, rolls the transaction
// back without an error.
var errRollback = errors.New("roll back")

// withTx runs fn in a transaction of pool. It commits when fn returns nil and
// rolls back otherwise; errRollback rolls back and withTx returns nil. An
// error of BEGIN is wrapped as "begin: ...", fn's and COMMIT's come as they
// are.
func withTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		if errors.Is(err, errRollback) {
			return nil
		}
		return err
	}
	return tx.Commit(ctx)
}

// pipeTx is a transaction whose BEGIN and COMMIT travel in batches with
// other statements, on one connection: a pipelined transaction.
type pipeTx struct {
	conn      *pgx.Conn
	committed bool
}

// begin returns a batch that begins the transaction. fn queues its first
// statements after the BEGIN and sends it.
func (t *pipeTx) begin() *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("begin")
	return b
}

// commit sends b with a COMMIT after its statements and reads every result,
// handing each statement queued with a function (QueryRow, Query) its own.
// It returns the index of the statement that failed (b.Len() for the COMMIT
// itself) with its error; a transaction that had failed, and so rolled back
// at COMMIT, is pgx.ErrTxCommitRollback.
func (t *pipeTx) commit(ctx context.Context, b *pgx.Batch) (int, error) {
	b.Queue("commit")
	n := b.Len()
	results := t.conn.SendBatch(ctx, b)
	var tag string
	for i := range n {
		if fn := b.QueuedQueries[i].Fn; fn != nil && i < n-1 { // a statement whose rows are read
			if err := fn(results); err != nil {
				_ = results.Close()
				return i, err
			}
			continue
		}
		ct, err := results.Exec()
		if err != nil {
			_ = results.Close()
			return i, err
		}
		tag = ct.String()
	}
	if err := results.Close(); err != nil {
		return n - 1, err
	}
	if tag != "COMMIT" {
		return n - 1, pgx.ErrTxCommitRollback
	}
	t.committed = true
	return n, nil
}

// unsent records that the batch of begin was never sent: there is no
// transaction to roll back.
func (t *pipeTx) unsent() { t.committed = true }

// withPipelinedTx runs fn in a pipelined transaction on a connection of
// pool: fn sends the batch of tx.begin and, to commit, calls tx.commit. A
// transaction fn did not commit is rolled back, and its connection closed if
// that fails. The error is fn's; an error to acquire a connection comes as it
// is.
func withPipelinedTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx *pipeTx) error) error {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	tx := &pipeTx{conn: pc.Conn()}
	defer func() {
		if !tx.committed && !tx.conn.IsClosed() {
			if _, rerr := tx.conn.Exec(context.WithoutCancel(ctx), "rollback"); rerr != nil {
				_ = tx.conn.Close(ctx)
			}
		}
	}()
	return fn(tx)
}
