package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// cpuMeter measures the CPU that this process and PostgreSQL spend over a
// stretch of a benchmark, so that a rate can be read as CPU per operation
// beside the same run's baseline: on a machine whose cores are all busy the
// rates swing with what else runs, the CPU an operation costs much less.
// PostgreSQL's share is the CPU of every process named postgres on this
// machine (its backends, WAL writer, checkpointer …), read from /proc: the
// benches run against a local server. Processes that end within the
// stretch are not counted; the pools' backends live through it.
type cpuMeter struct {
	self    time.Duration
	pg, jvm map[string]int64 // clock ticks by pid
}

// cpuSpent is what a cpuMeter measured; pgSeen is false when no PostgreSQL
// process was found on this machine. jvm is the CPU of the processes named
// java (the Kafka broker the benches start, and anything else in a JVM): it
// is printed beside, not counted in the operation's CPU, since the rows
// without a broker have none.
type cpuSpent struct {
	self, pg, jvm time.Duration
	pgSeen        bool
}

// userHZ is the unit of the CPU times of /proc/PID/stat: USER_HZ, 100 on
// Linux whatever the kernel's own tick.
const userHZ = 100

func startCPU() cpuMeter {
	return cpuMeter{self: processCPU(), pg: processTicks("postgres"), jvm: processTicks("java")}
}

func (m cpuMeter) stop() cpuSpent {
	self := processCPU() - m.self
	pg, jvm := processTicks("postgres"), processTicks("java")
	return cpuSpent{self: self, pg: ticksSince(m.pg, pg), jvm: ticksSince(m.jvm, jvm), pgSeen: len(pg) > 0}
}

// ticksSince is the CPU time spent from before to now, by pid; a process
// started since counts whole.
func ticksSince(before, now map[string]int64) time.Duration {
	var ticks int64
	for pid, t := range now {
		ticks += t - before[pid]
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// per returns the CPU per operation of n operations, in µs, of this process
// and of PostgreSQL.
func (c cpuSpent) per(n int64) (self, pg float64) {
	if n <= 0 {
		return 0, 0
	}
	return float64(c.self.Microseconds()) / float64(n), float64(c.pg.Microseconds()) / float64(n)
}

// String is the CPU per operation, of n operations, as a bench prints it.
func (c cpuSpent) String(n int64) string {
	self, pg := c.per(n)
	if !c.pgSeen {
		return fmt.Sprintf("%.0f µs in this process (PostgreSQL is not on this machine)", self)
	}
	s := fmt.Sprintf("%.0f µs = %.0f in this process + %.0f in PostgreSQL", self+pg, self, pg)
	if c.jvm > 0 && n > 0 {
		s += fmt.Sprintf(" (and %.0f in the JVMs: the broker)", float64(c.jvm.Microseconds())/float64(n))
	}
	return s
}

// processTicks returns the CPU time, user and system, in clock ticks, of
// every process called name, by pid; empty where /proc cannot be read.
func processTicks(name string) map[string]int64 {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := map[string]int64{}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // ended meanwhile
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || string(b[open+1:end]) != name {
			continue
		}
		// After the name: state, ppid, … utime is the 12th field, stime the 13th.
		f := bytes.Fields(b[end+1:])
		if len(f) < 13 {
			continue
		}
		u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
		s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
		if err1 == nil && err2 == nil {
			out[filepath.Base(filepath.Dir(path))] = u + s
		}
	}
	return out
}

// The meter sees the CPU a query costs PostgreSQL, on the server the tests
// run against, and none of it in this process.
func TestCPUMeter_SeesPostgres(t *testing.T) {
	t.Parallel()
	pool, err := newPool(t.Context(), pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m := startCPU()
	var n int64
	if err := pool.QueryRow(t.Context(), `select count(*) from generate_series(1, 4000000)`).Scan(&n); err != nil || n != 4_000_000 {
		t.Fatalf("count = %d, %v", n, err)
	}
	spent := m.stop()
	if !spent.pgSeen || spent.pg < 100*time.Millisecond {
		t.Errorf("PostgreSQL spent %v on four million rows (processes seen: %v), want at least 100ms", spent.pg, spent.pgSeen)
	}
	if self, pg := spent.per(2); pg != float64(spent.pg.Microseconds())/2 || self < 0 {
		t.Errorf("per(2) = %.0f, %.0f µs of %v, %v", self, pg, spent.self, spent.pg)
	}
}
