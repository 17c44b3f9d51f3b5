package main

import (
	"encoding/json"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// loadResult is what a closed loop of requests measured.
type loadResult struct {
	rate float64 // requests answered per second
	lat  percentiles
}

// closedLoop has clients connections each send next(i)'s request again as
// soon as the last one is answered, for d, and measures them. Every answer
// must have status want.
func closedLoop(b *testing.B, f *flashEngine, clients int, d time.Duration, want int, next func(i int) (method, path, token string, body []byte)) loadResult {
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, err := f.dial()
			if err != nil {
				b.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			mine := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				method, path, token, body := next(i)
				st, dur, err := c.send(method, path, token, body)
				if err != nil || st != want {
					b.Errorf("%s %s: %d %v", method, path, st, err)
					return
				}
				mine = append(mine, dur)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return loadResult{rate: float64(len(lat)) / d.Seconds(), lat: latencyOf(lat)}
}

// pacedHolds holds one unit of show at rate holds per second, over buyers
// connections, until stop is closed; it returns the latency of the holds,
// from when each was due, when they are all done.
func pacedHolds(b *testing.B, f *flashEngine, show string, rate, buyers int, stop <-chan struct{}) func() (int, percentiles) {
	body, _ := json.Marshal(map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})
	due := make(chan time.Time, 1024)
	go func() {
		defer close(due)
		interval := time.Second / time.Duration(rate)
		for next := time.Now(); ; next = next.Add(interval) {
			if w := time.Until(next); w > 0 {
				time.Sleep(w)
			}
			select {
			case <-stop:
				return
			case due <- next:
			}
		}
	}()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range buyers {
		tok := f.token(domain.RoleBuyer)
		c, err := f.dial()
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		wg.Go(func() {
			defer c.Close()
			for at := range due {
				st, _, err := c.send("POST", "/v1/orders", tok, body)
				if err != nil || st != 201 {
					b.Errorf("hold: %d %v", st, err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(at))
				mu.Unlock()
			}
		})
	}
	return func() (int, percentiles) {
		wg.Wait()
		return len(lat), latencyOf(lat)
	}
}

// duringDrop runs load while show takes a drop paced at rate holds/s, and
// returns what it measured with the number and latency of the holds.
func duringDrop(b *testing.B, f *flashEngine, show string, rate int, load func() loadResult) (loadResult, int, percentiles) {
	stop := make(chan struct{})
	holds := pacedHolds(b, f, show, rate, 200, stop)
	r := load()
	close(stop)
	n, lat := holds()
	return r, n, lat
}

// benchReads is the "reads" part of BenchmarkFlashSale (issue 17: hot
// reads): 200 clients reading one show's page and seat map, from the read
// models (TICKETING_HOT_SHOWS=0, as before) and from memory, alone and
// while the show takes a paced drop of FLASH_READ_DROP_RATE holds/s
// (default 2,000), each as a ratio to the same run's HTTP floor (GET
// /livez over the same client and connections).
func benchReads(b *testing.B) {
	const clients = 200
	d := time.Duration(envInt("FLASH_READ_MS", 3000)) * time.Millisecond
	dropRate := envInt("FLASH_READ_DROP_RATE", 2000)
	engines := []struct {
		name string
		f    *flashEngine
	}{
		{"read models", newFlashEngine(b, time.Hour, func(c *Config) { c.Hot.Shows = 0 })},
		{"memory", newFlashEngine(b, time.Hour)},
	}
	livez := func(int) (string, string, string, []byte) { return "GET", "/livez", "", nil }
	for _, e := range engines {
		f := e.f
		org := f.token(domain.RoleOrganizer)
		show := f.show(b, org, max(10_000, 2*dropRate*int(2*d/time.Second+1)))
		f.caughtUp(b)
		read := func(i int) (string, string, string, []byte) {
			if i%2 == 1 {
				return "GET", "/v1/shows/" + show + "/seats", "", nil
			}
			return "GET", "/v1/shows/" + show, "", nil
		}
		closedLoop(b, f, clients, 500*time.Millisecond, 200, read) // warm: load the show
		// Each figure beside the floor measured just before it, on the
		// same engine: the machine is shared.
		floor := profiled(b, f, "livez", func() loadResult { return closedLoop(b, f, clients, d, 200, livez) })
		alone := profiled(b, f, "hot", func() loadResult { return closedLoop(b, f, clients, d, 200, read) })
		b.Logf("reads from %s: %d clients: %.0f requests/s = %.2f × the floor (%.0f requests/s of GET /livez, p99 %.1f ms), p50 %.1f ms, p99 %.1f ms",
			e.name, clients, alone.rate, alone.rate/floor.rate, floor.rate, floor.lat.p99, alone.lat.p50, alone.lat.p99)
		var dropFloor loadResult
		during, n, hl := duringDrop(b, f, show, dropRate, func() loadResult {
			dropFloor = closedLoop(b, f, clients, d, 200, livez)
			return closedLoop(b, f, clients, d, 200, read)
		})
		b.Logf("reads from %s during a drop paced at %d holds/s: %.0f requests/s = %.2f × the floor during the drop (%.0f requests/s, p99 %.1f ms), p50 %.1f ms, p99 %.1f ms; %d holds, p50 %.1f ms, p99 %.1f ms",
			e.name, dropRate, during.rate, during.rate/dropFloor.rate, dropFloor.rate, dropFloor.lat.p99, during.lat.p50, during.lat.p99, n, hl.p50, hl.p99)
		if f.e.hot != nil {
			b.Logf("reads from %s: hot views: %+v", e.name, f.e.hot.Stats())
		}
		b.ReportMetric(alone.rate/floor.rate, "x-floor-"+map[bool]string{true: "hot", false: "cold"}[f.e.hot != nil])
	}
}

// profiled runs load, under a CPU profile when FLASH_CPUPROFILE names a
// file and f keeps hot views (FILE-reads-NAME.prof), so that a hot read's
// CPU can be set beside the floor's (go tool pprof -top -diff_base).
func profiled(b *testing.B, f *flashEngine, name string, load func() loadResult) loadResult {
	base := os.Getenv("FLASH_CPUPROFILE")
	if base == "" || f.e.hot == nil {
		return load()
	}
	path := strings.TrimSuffix(base, ".prof") + "-reads-" + name + ".prof"
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		b.Fatal(err)
	}
	r := load()
	pprof.StopCPUProfile()
	b.Logf("CPU profile of %s: %s (%.0f requests/s)", name, path, r.rate)
	return r
}
