package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testlog"
)

// issue 15: singleton. Two engine processes run a singleton role on one
// database; the active one is killed with SIGKILL; the other takes over.

// child is an engine process of its own, started from the test binary (see
// TestMain).
type child struct {
	cmd *exec.Cmd
	log *testlog.Buffer // what it printed
}

// startChild runs `ticketing serve --roles ROLES` on db in a process of its
// own, with the test environment and extra.
func startChild(t *testing.T, db, roles string, extra env) *child {
	t.Helper()
	vars := testEnv(db, time.Minute)
	for k, v := range extra {
		vars[k] = v
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"TICKETING_TEST_ARGS=serve\x1f--roles\x1f" + roles, "HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{cmd: cmd, log: &testlog.Buffer{}}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("process %d (%s):\n%s", cmd.Process.Pid, roles, c.log.String())
		}
	})
	return c
}

// activeLeader waits until a process other than not holds the singleton
// name and returns its pid.
func activeLeader(t *testing.T, pool *pgxpool.Pool, name string, not int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ls, err := postgres.Leaders(context.Background(), pool)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if l.Name == name && l.Active && l.PID != not {
				return l.PID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process took over %s within %s: %+v", name, within, ls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failover kills whichever of a and b holds name with SIGKILL, waits until
// the other holds it, and returns how long that took.
func failover(t *testing.T, pool *pgxpool.Pool, name string, a, b *child) time.Duration {
	t.Helper()
	pid := activeLeader(t, pool, name, 0, 15*time.Second)
	victim, other := a, b
	if b.cmd.Process.Pid == pid {
		victim, other = b, a
	} else if a.cmd.Process.Pid != pid {
		t.Fatalf("%s is held by pid %d, neither child (%d, %d)", name, pid, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	killed := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := activeLeader(t, pool, name, pid, 10*time.Second); got != other.cmd.Process.Pid {
		t.Fatalf("%s taken over by pid %d, want %d", name, got, other.cmd.Process.Pid)
	}
	return time.Since(killed)
}

// writeWhile runs the workload's orders until stop is called, or the test
// ends.
func writeWhile(t *testing.T, w *workload) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := w.order(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// The active relay is killed while writes go on: the standby takes over,
// every event reaches Kafka, in order per partition, and the read models
// fed from Kafka equal a replay.
func TestSingleton_RelayFailover(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	kafkaConfig := withKafka(t, 4)
	var cfg Config
	kafkaConfig(&cfg)
	kc := *cfg.Kafka
	e := startRolesTTL(t, "serve", db, time.Minute, roles{Write: true, Read: true, Projectors: true}, kafkaConfig).e
	vars := env{"KAFKA_BROKERS": strings.Join(kc.Brokers, ","), "KAFKA_TOPIC": kc.Topic, "KAFKA_PARTITIONS": "4"}
	a, b := startChild(t, db, "relay", vars), startChild(t, db, "relay", vars)
	w := newWorkload(t, e, 4)
	stop := writeWhile(t, w)
	// Two relays, one active: something was published (the first write
	// waits for the topic's metadata; on a loaded machine that can take
	// seconds) and nothing was published twice.
	seen, repeats := scanTopic(t, kc)
	for deadline := time.Now().Add(20 * time.Second); len(seen) == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		seen, repeats = scanTopic(t, kc)
	}
	if len(seen) == 0 || repeats > 0 {
		t.Fatalf("before the failover: %d events published, %d of them again", len(seen), repeats)
	}
	took := failover(t, e.pool, "relay:"+kc.Topic, a, b)
	time.Sleep(time.Second)
	stop()
	settle(t, e)
	t.Logf("relay failover after SIGKILL: %s (%d orders written)", took.Round(time.Millisecond), w.orders.Load())
	checkPublished(t, e, kc)
	sameAsReplay(t, db, e.pool)
	auditLog(t, e.store)
}

// The active expirer is killed while holds run out: the standby takes over
// and settles every due hold.
func TestSingleton_ExpirerFailover(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	e := startRolesTTL(t, "serve", db, time.Second, roles{Write: true, Read: true, Projectors: true}).e
	a, b := startChild(t, db, "expirer", nil), startChild(t, db, "expirer", nil)
	show := newWorkload(t, e, 1).shows[0]
	placeHolds(t, e, show, 20)
	time.Sleep(1500 * time.Millisecond) // the first holds run out and are settled
	took := failover(t, e.pool, "expirer", a, b)
	placeHolds(t, e, show, 20)
	t.Logf("expirer failover after SIGKILL: %s", took.Round(time.Millisecond))
	stdout, stderr, code := runBinary(t, "projections", "status", "--database-url", db)
	want := fmt.Sprintf(`expirer\s+yes\s+\S+\s+%d\s`, activeLeader(t, e.pool, "expirer", 0, time.Second))
	if code != 0 || !regexp.MustCompile(want).MatchString(stdout) {
		t.Errorf("projections status: exit %d, want a line matching %q:\n%s%s", code, want, stdout, stderr)
	}
	if stdout, _, _ := runBinary(t, "projections", "status", "--json", "--database-url", db); !strings.Contains(stdout, `"name": "expirer"`) ||
		!strings.Contains(stdout, `"active": true`) {
		t.Errorf("projections status --json lacks the active expirer:\n%s", stdout)
	}
	allExpired(t, e, 40)
	sameAsReplay(t, db, e.pool)
	auditLog(t, e.store)
}

// The active expirer hangs (SIGSTOP): the server ends its lock's session
// after the timeout and the standby takes over; woken up (SIGCONT), the
// old one stands by instead of running beside it.
func TestSingleton_ExpirerHung(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	e := startRolesTTL(t, "serve", db, time.Second, roles{Write: true, Read: true, Projectors: true}).e
	a, b := startChild(t, db, "expirer", nil), startChild(t, db, "expirer", nil)
	pid := activeLeader(t, e.pool, "expirer", 0, 15*time.Second)
	hung, other := a, b
	if b.cmd.Process.Pid == pid {
		hung, other = b, a
	}
	if err := hung.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	show := newWorkload(t, e, 1).shows[0]
	placeHolds(t, e, show, 20)
	if got := activeLeader(t, e.pool, "expirer", pid, 15*time.Second); got != other.cmd.Process.Pid {
		t.Fatalf("expirer taken over by %d, want %d", got, other.cmd.Process.Pid)
	}
	t.Logf("expirer failover after SIGSTOP: %s (timeout %s)", time.Since(stopped).Round(time.Millisecond), postgres.DefaultSingletonTimeout)
	if err := hung.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	placeHolds(t, e, show, 20)
	allExpired(t, e, 40)
	if got := activeLeader(t, e.pool, "expirer", 0, time.Second); got != other.cmd.Process.Pid {
		t.Errorf("after SIGCONT the expirer is held by %d, want %d", got, other.cmd.Process.Pid)
	}
	if !strings.Contains(hung.log.String(), "lost the lock; standing by") {
		t.Errorf("the woken expirer did not say it stands by:\n%s", hung.log.String())
	}
	sameAsReplay(t, db, e.pool)
	auditLog(t, e.store)
}

// placeHolds places n holds of one floor unit of show, left unpaid.
func placeHolds(t *testing.T, e *engine, show uuid.UUID, n int) {
	t.Helper()
	for range n {
		buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		c := commands.PlaceOrder{ShowID: show, Items: []domain.ItemRequest{{Section: "floor", Quantity: 1}}}
		if _, err := e.commands.PlaceOrder(context.Background(), buyer, c); err != nil {
			t.Fatal(err)
		}
	}
}

// allExpired waits until no hold is due and the log holds n expiries: each
// hold expired once.
func allExpired(t *testing.T, e *engine, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		settle(t, e)
		due, err := e.queries.DueHolds(context.Background(), time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		var expired int
		if err := e.pool.QueryRow(context.Background(), `select count(*) from events where type = 'order.expired'`).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		if len(due) == 0 && expired == n {
			return
		}
		if time.Now().After(deadline) || expired > n {
			t.Fatalf("after the failover: %d holds due, %d orders expired, want %d", len(due), expired, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameAsReplay fails unless a dry-run replay of every projection finds the
// live read models identical.
func sameAsReplay(t *testing.T, db string, pool *pgxpool.Pool) {
	t.Helper()
	var out strings.Builder
	reports, err := replay(context.Background(), replayPool(t, db), replayOptions{All: true, DryRun: true}, &out, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		for _, d := range r.Swap.Diffs {
			if !d.Same() {
				t.Errorf("read model %s differs from a replay", d.Table)
			}
		}
	}
}

// checkPublished reads the whole topic and checks that every event of the
// store is in it, in order (see scanTopic).
func checkPublished(t *testing.T, e *engine, kc kafka.Config) {
	t.Helper()
	var head int64
	if err := e.pool.QueryRow(context.Background(), `select position from log_head`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	seen, repeats := scanTopic(t, kc)
	for pos := uint64(1); pos <= uint64(head); pos++ {
		if !seen[pos] {
			t.Errorf("event %d never published", pos)
		}
	}
	t.Logf("%d events published, %d published again after the failover", head, repeats)
}

// scanTopic reads the topic as far as it is now and returns the positions
// of the events in it and how many messages repeat an earlier one. It
// checks that each partition gives every event for the first time in log
// order: a repeat (a relay that published again from its checkpoint) may
// come later, a new event never after a later one.
func scanTopic(t *testing.T, kc kafka.Config) (seen map[uint64]bool, repeats int) {
	t.Helper()
	seen = map[uint64]bool{}
	for p := range kc.Partitions {
		var last uint64
		for _, m := range readPartitionOf(t, kc.Brokers, kc.Topic, p) {
			rec, err := kafka.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			pos := rec.Position.Commit
			switch {
			case seen[pos]:
				repeats++
			case pos < last:
				t.Errorf("partition %d: event %d published for the first time after %d", p, pos, last)
			}
			seen[pos], last = true, max(last, pos)
		}
	}
	return seen, repeats
}
