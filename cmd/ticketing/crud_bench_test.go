package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// crudResult is what the CRUD peer's drop did.
type crudResult struct {
	accepted, units, rejected int64
	took                      time.Duration
	rate                      float64
	lat                       percentiles
	cpu                       cpuSpent
}

// crudDrop is the design a CRUD ticketing service uses for the same drop,
// written directly on pgx with nothing in front of it (no HTTP, no auth):
// one transaction per hold that takes the units from the section's hot row
// with a guarded UPDATE and inserts the order, then commits. The row lock is
// held from the UPDATE to the COMMIT, so every hold on the show waits for the
// one before it to reach the disk. Buyers hold 1–4 units each, as in runDrop,
// until the show is sold out; the pool is the size of the engine's.
func crudDrop(b *testing.B, buyers, units int) crudResult {
	b.Helper()
	ctx := context.Background()
	pool, err := newPool(ctx, pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `
		create table crud_sections (show_id uuid, name text, capacity int not null, held int not null default 0,
			sold int not null default 0, primary key (show_id, name));
		create table crud_orders (id uuid primary key, show_id uuid not null, buyer_id uuid not null,
			section text not null, quantity int not null, status text not null,
			expires_at timestamptz not null, created_at timestamptz not null default now())`); err != nil {
		b.Fatal(err)
	}
	show := uuid.New()
	if _, err := pool.Exec(ctx, `insert into crud_sections (show_id, name, capacity) values ($1, 'floor', $2)`, show, units); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var accepted, held, rejected atomic.Int64
	hold := func(buyer uuid.UUID, q int) (bool, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return false, err
		}
		defer tx.Rollback(ctx)
		tag, err := tx.Exec(ctx, `update crud_sections set held = held + $3
			where show_id = $1 and name = $2 and capacity - held - sold >= $3`, show, "floor", q)
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
		if _, err := tx.Exec(ctx, `insert into crud_orders (id, show_id, buyer_id, section, quantity, status, expires_at)
			values ($1, $2, $3, 'floor', $4, 'held', now() + interval '15 minutes')`, uuid.New(), show, buyer, q); err != nil {
			return false, err
		}
		return true, tx.Commit(ctx)
	}
	cpu := startCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range buyers {
		wg.Go(func() {
			buyer := uuid.New()
			for {
				q := 1 + rand.IntN(4)
				t := time.Now()
				ok, err := hold(buyer, q)
				d := time.Since(t)
				if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
					b.Errorf("crud hold: %v", err)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				if !ok {
					rejected.Add(1)
					return // sold out, or too few units left for q
				}
				accepted.Add(1)
				held.Add(int64(q))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	spent := cpu.stop()
	var rowHeld, orders, orderUnits int
	if err := pool.QueryRow(ctx, `select held, (select count(*) from crud_orders), (select coalesce(sum(quantity), 0) from crud_orders)
		from crud_sections where show_id = $1`, show).Scan(&rowHeld, &orders, &orderUnits); err != nil {
		b.Fatal(err)
	}
	if rowHeld > units || rowHeld != int(held.Load()) || orderUnits != rowHeld || orders != int(accepted.Load()) {
		b.Errorf("crud peer inconsistent: capacity %d, row held %d, %d orders of %d units, accepted %d holds of %d units",
			units, rowHeld, orders, orderUnits, accepted.Load(), held.Load())
	}
	return crudResult{accepted: accepted.Load(), units: held.Load(), rejected: rejected.Load(),
		took: took, rate: float64(accepted.Load()) / took.Seconds(), lat: latencyOf(lat), cpu: spent}
}

// BenchmarkHoldsVsCRUD races buyers for one hot show at each concurrency of
// FLASH_CONCURRENCY (default 64, 500 and 2,000 buyers, FLASH_UNITS units):
// the engine over loopback HTTP (runDrop, closed loop), the CRUD hot-row
// design directly on pgx (crudDrop), and raw single-row commits, all in the
// same run. It prints the engine's rate as a ratio of both. Run it with
// `make bench-flash` (or alone: go test -run '^$' -bench HoldsVsCRUD
// -benchtime 1x ./cmd/ticketing).
func BenchmarkHoldsVsCRUD(b *testing.B) {
	units := envInt("FLASH_UNITS", 10_000)
	for _, n := range envInts("FLASH_CONCURRENCY", []int{64, 500, 2000}) {
		b.Run(fmt.Sprintf("buyers-%d", n), func(b *testing.B) {
			baseline, baseCPU, commits := baselineCommitsCPU(b, n, time.Duration(envInt("FLASH_BASE_MS", 3000))*time.Millisecond)
			crud := crudDrop(b, n, units)
			ours := runDrop(b, n, units, 0)
			b.Logf("%d buyers, %d units: raw commits %.0f/s; CRUD hot row %.0f holds/s (%.2f× raw; p50 %.1f ms, p99 %.1f ms); "+
				"engine %.0f holds/s = %.2f× raw commits, %.2f× CRUD (p50 %.1f ms, p99 %.1f ms)",
				n, units, baseline, crud.rate, crud.rate/baseline, crud.lat.p50, crud.lat.p99,
				ours.rate, ours.rate/baseline, ours.rate/crud.rate, ours.lat.p50, ours.lat.p99)
			b.Logf("%d buyers: engine %s", n, ours.checks)
			// CPU per operation: the engine's includes the buyers' HTTP
			// clients, as the raw commits' includes theirs.
			rawSelf, rawPG := baseCPU.per(commits)
			oursSelf, oursPG := ours.cpu.per(ours.accepted)
			b.Logf("%d buyers: CPU per raw commit %s; per CRUD hold %s; per engine hold %s (%.1f× a raw commit's; PostgreSQL's alone %.1f×)",
				n, baseCPU.String(commits), crud.cpu.String(crud.accepted), ours.cpu.String(ours.accepted),
				(oursSelf+oursPG)/max(rawSelf+rawPG, 1), oursPG/max(rawPG, 1))
			b.ReportMetric((oursSelf+oursPG)/max(rawSelf+rawPG, 1), "cpu-x-raw")
			b.ReportMetric(ours.rate/baseline, "x-raw")
			b.ReportMetric(ours.rate/crud.rate, "x-crud")
			b.ReportMetric(crud.rate/baseline, "crud-x-raw")
		})
	}
}

// profileDrop starts a CPU profile of a drop when FLASH_CPUPROFILE names a
// file, with the buyers and the rate in its name (FILE-buyers-N-rate-R.prof),
// and returns what stops it, given the holds accepted: it writes their count
// beside it (….holds), for tools/cpusplit to give the CPU per hold.
func profileDrop(b *testing.B, buyers int, rate float64) func(holds int64) {
	return profileWindow(b, fmt.Sprintf("buyers-%d-rate-%.0f", buyers, rate))
}

// profileWindow is profileDrop for any stretch of a bench: FILE-SUFFIX.prof,
// with the count of operations it covers in FILE-SUFFIX.holds.
func profileWindow(b *testing.B, suffix string) func(ops int64) {
	base := os.Getenv("FLASH_CPUPROFILE")
	if base == "" {
		return func(int64) {}
	}
	name := strings.TrimSuffix(base, ".prof") + "-" + suffix
	f, err := os.Create(name + ".prof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func(holds int64) {
		pprof.StopCPUProfile()
		f.Close()
		if err := os.WriteFile(name+".holds", []byte(strconv.FormatInt(holds, 10)+"\n"), 0o644); err != nil {
			b.Error(err)
		}
		b.Logf("CPU profile of the drop: %s.prof (%d holds); split it with tools/cpusplit %s.prof", name, holds, name)
	}
}
