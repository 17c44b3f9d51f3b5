package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/infra/follow"
)

// Singleton defaults: see Singleton.Timeout and Singleton.Poll.
const (
	DefaultSingletonTimeout = 5 * time.Second
	DefaultSingletonPoll    = 500 * time.Millisecond
)

// Singleton runs a role that only one process at a time may run per name
// and schema (issue 15: singleton): the relay of a topic, the expirer.
//
// The active process holds a PostgreSQL session advisory lock on a
// connection of its own, never one of the pool's: a session lock belongs to
// the connection, and a pooled one would go back to the pool still holding
// it, or be unlocked on another. The others stand by, trying the lock every
// Poll. The lock goes with the session:
//   - a process that dies closes its socket, its session ends and the lock is
//     free at once;
//   - a process that hangs, or loses the network, stops sending its
//     heartbeat; the session's idle_session_timeout (Timeout) makes the
//     server end it, and free the lock, Timeout after the last heartbeat.
//
// The holder fences itself: Held is false once a heartbeat failed or none
// succeeded for most of Timeout, before the server could have given the lock
// to another process, and the role's context ends.
type Singleton struct {
	// Pool gives the connection settings; the lock's connection is its own.
	Pool *pgxpool.Pool
	// Name names the role, e.g. "relay:events" or "expirer".
	Name string
	// Timeout bounds how long a hung holder keeps the lock; zero means
	// DefaultSingletonTimeout.
	Timeout time.Duration
	// Poll is how often a standby tries the lock; zero means
	// DefaultSingletonPoll.
	Poll time.Duration
	// Log receives the changes of leadership; nil discards them.
	Log *slog.Logger

	mu    sync.Mutex
	valid time.Time // Held until then; zero when not held

	beforeHeartbeat func() // tests: a hung holder
}

// Leader is who holds, or last held, a singleton's lock.
type Leader struct {
	Name   string    `json:"name"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Since  time.Time `json:"since"`
	Active bool      `json:"active"` // the lock is held by that session now
}

// Run waits until it holds the lock, runs role with a context that ends
// when the lock is lost (or ctx ends), and stands by again, until ctx ends;
// it then returns nil. A role that returns while it holds the lock gives it
// up and waits Poll before it stands by again.
func (s *Singleton) Run(ctx context.Context, role func(context.Context) error) error {
	timeout, poll := s.timing()
	if poll >= timeout {
		return fmt.Errorf("singleton %s: poll %s must be shorter than timeout %s", s.Name, poll, timeout)
	}
	for ctx.Err() == nil {
		conn, err := s.acquire(ctx)
		if err != nil {
			continue // only when ctx ended
		}
		if s.lead(ctx, conn, role) {
			follow.Sleep(ctx, timeout) // a role that fails at once: not every Poll
		} else {
			follow.Sleep(ctx, poll)
		}
	}
	return nil
}

// Held reports whether this process holds the lock and a heartbeat
// confirmed it recently enough that no other process can hold it.
func (s *Singleton) Held() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.valid)
}

func (s *Singleton) timing() (timeout, poll time.Duration) {
	timeout, poll = s.Timeout, s.Poll
	if timeout <= 0 {
		timeout = DefaultSingletonTimeout
	}
	if poll <= 0 {
		poll = DefaultSingletonPoll
	}
	return timeout, poll
}

func (s *Singleton) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// setValid extends Held to t, or ends it when t is zero.
func (s *Singleton) setValid(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid = t
}

// acquire returns a connection that holds the lock; it fails only when ctx
// ends.
func (s *Singleton) acquire(ctx context.Context) (*pgx.Conn, error) {
	_, poll := s.timing()
	var conn *pgx.Conn
	for {
		if conn == nil {
			c, err := s.connect(ctx)
			if err != nil && ctx.Err() == nil {
				s.logger().Warn("singleton: connect failed", "singleton", s.Name, "err", err)
			}
			conn = c
		}
		if conn != nil {
			ok, err := s.tryLock(ctx, conn)
			if ok {
				return conn, nil
			}
			if err != nil {
				conn.Close(context.Background())
				conn = nil
			}
		}
		if !follow.Sleep(ctx, poll) {
			if conn != nil {
				conn.Close(context.Background())
			}
			return nil, ctx.Err()
		}
	}
}

// connect opens the lock's own connection; the server ends its session
// when it stays idle for Timeout.
func (s *Singleton) connect(ctx context.Context) (*pgx.Conn, error) {
	timeout, _ := s.timing()
	cfg := s.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["idle_session_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	cfg.RuntimeParams["application_name"] = "ticketing singleton " + s.Name
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(cctx, cfg)
}

// tryLock takes the lock if it is free and records this process as the
// leader; ok is false, with a nil error, when another session holds it.
func (s *Singleton) tryLock(ctx context.Context, conn *pgx.Conn) (ok bool, err error) {
	timeout, _ := s.timing()
	ctx, cancel := context.WithTimeout(ctx, timeout/2)
	defer cancel()
	var schema string
	if err := conn.QueryRow(ctx, "select current_schema()").Scan(&schema); err != nil {
		return false, err
	}
	key := singletonKey(schema, s.Name)
	sent := time.Now()
	if err := conn.QueryRow(ctx, "select pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		return false, err
	}
	host, _ := os.Hostname()
	_, err = conn.Exec(ctx, `insert into singleton_leaders (name, key, host, pid, backend_pid, since)
		values ($1, $2, $3, $4, pg_backend_pid(), now())
		on conflict (name) do update set key = excluded.key, host = excluded.host, pid = excluded.pid,
			backend_pid = excluded.backend_pid, since = excluded.since`, s.Name, key, host, os.Getpid())
	if err != nil {
		return false, fmt.Errorf("singleton %s: record leader: %w", s.Name, err)
	}
	s.setValid(sent.Add(validFor(timeout)))
	s.logger().Info("singleton: active", "singleton", s.Name, "host", host, "pid", os.Getpid())
	return true, nil
}

// validFor is how long after a heartbeat was sent the holder trusts it
// still holds the lock: the server cannot end the session before Timeout
// after it received the heartbeat; a quarter of it is left for clock drift
// and for the role to notice.
func validFor(timeout time.Duration) time.Duration { return timeout * 3 / 4 }

// lead runs role while a heartbeat on conn confirms the lock, then closes
// conn, which frees the lock. It reports whether the role ended by itself.
func (s *Singleton) lead(ctx context.Context, conn *pgx.Conn, role func(context.Context) error) (roleEnded bool) {
	roleCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- role(roleCtx) }()
	lost := s.heartbeat(roleCtx, conn, done)
	s.setValid(time.Time{}) // not Held before the role is told to stop
	cancel()
	if lost != nil && ctx.Err() == nil {
		s.logger().Error("singleton: lost the lock; standing by", "singleton", s.Name, "err", lost)
	}
	roleEnded = errors.Is(lost, errRoleEnded)
	if !roleEnded {
		<-done
	}
	conn.Close(context.Background())
	return roleEnded
}

var errRoleEnded = errors.New("role ended")

// heartbeat pings conn every Timeout/5 until ctx ends (nil), a ping fails
// or comes too late (its error), or the role ends (errRoleEnded).
func (s *Singleton) heartbeat(ctx context.Context, conn *pgx.Conn, done <-chan error) error {
	timeout, _ := s.timing()
	t := time.NewTicker(timeout / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			return fmt.Errorf("%w: %v", errRoleEnded, err)
		case <-t.C:
		}
		if s.beforeHeartbeat != nil {
			s.beforeHeartbeat()
		}
		if !s.Held() {
			return errors.New("no heartbeat succeeded in time")
		}
		sent := time.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout/4)
		_, err := conn.Exec(pctx, "select 1")
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		s.setValid(sent.Add(validFor(timeout)))
	}
}

// singletonKey is the advisory lock key of name in schema: schemas side by
// side (tests) do not share their singletons.
func singletonKey(schema, name string) int64 {
	return int64(crc64.Checksum([]byte("ticketing:singleton:"+schema+":"+name), crc64.MakeTable(crc64.ECMA)) >> 1)
}

// Leaders returns who holds, or last held, each singleton of the pool's
// schema, by name.
func Leaders(ctx context.Context, pool *pgxpool.Pool) ([]Leader, error) {
	rows, err := pool.Query(ctx, `select s.name, s.host, s.pid, s.since, exists (
			select 1 from pg_locks l
			where l.locktype = 'advisory' and l.granted and l.pid = s.backend_pid and l.objsubid = 1
			  and l.database = (select oid from pg_database where datname = current_database())
			  and ((l.classid::bigint << 32) | l.objid::bigint) = s.key)
		from singleton_leaders s order by s.name`)
	if err != nil {
		return nil, fmt.Errorf("singleton leaders: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Leader])
	if err != nil {
		return nil, fmt.Errorf("singleton leaders: %w", err)
	}
	return out, nil
}
