package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// envInt reads a benchmark knob from the environment.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// flashEngine runs an engine on a fresh database behind a real HTTP server
// on loopback, with a client that keeps enough connections open.
type flashEngine struct {
	e      *engine
	url    string
	client *http.Client
	tokens *auth.Tokens
}

func newFlashEngine(b *testing.B, holdTTL time.Duration, options ...func(*Config)) *flashEngine {
	b.Helper()
	tuneGCAsMain()
	c, err := LoadConfig(testEnv(pgtest.SchemaURL(b), holdTTL).get)
	if err != nil {
		b.Fatal(err)
	}
	c.ExpiryInterval = 100 * time.Millisecond
	for _, o := range options { // issue 17: hotreads
		o(&c)
	}
	m := NewMain("serve", c, allRoles, quiet)
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	e := m.engine
	tokens, err := auth.NewTokens(testSecret, time.Hour, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &flashEngine{e: e, url: m.URL(), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, tokens: tokens}
}

func (f *flashEngine) token(role domain.Role) string {
	id := uuid.New()
	if role != domain.RoleBuyer { // an organizer's or admin's role is checked
		if err := insertUser(f.e.pool, id, role); err != nil {
			panic(err)
		}
	}
	tok, _, err := f.tokens.Issue(domain.Actor{UserID: id, Role: role})
	if err != nil {
		panic(err)
	}
	return tok
}

// do sends a request and returns its status, body and duration.
func (f *flashEngine) do(method, path, token string, body any) (int, map[string]any, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := f.client.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), err
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out, time.Since(start), nil
}

// buyerConn is one buyer's keep-alive connection, driven without
// net/http's Transport and its two goroutines per connection: the load
// generator shares the machine with the engine, so it should cost as little
// as wrk would. Requests are written by hand; responses are parsed by
// net/http's ReadResponse.
type buyerConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	host string
}

func (f *flashEngine) dial() (*buyerConn, error) {
	u, err := url.Parse(f.url)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &buyerConn{conn: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c), host: u.Host}, nil
}

// send sends one request and reads the whole response; it returns the
// status.
func (b *buyerConn) send(method, path, token string, body []byte) (int, time.Duration, error) {
	start := time.Now()
	w := b.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(b.host)
	if token != "" {
		w.WriteString("\r\nAuthorization: Bearer ")
		w.WriteString(token)
	}
	if body != nil {
		w.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
		w.WriteString(strconv.Itoa(len(body)))
	}
	w.WriteString("\r\n\r\n")
	w.Write(body)
	if err := b.bw.Flush(); err != nil {
		return 0, time.Since(start), err
	}
	res, err := http.ReadResponse(b.br, nil)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, time.Since(start), err
}

func (b *buyerConn) Close() error { return b.conn.Close() }

// show creates and publishes a show with one GA section of capacity units.
func (f *flashEngine) show(b *testing.B, org string, capacity int) string {
	b.Helper()
	st, body, _, err := f.do("POST", "/v1/shows", org, map[string]any{
		"title": "Drop", "venue": "Arena", "starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"sections": []any{map[string]any{"name": "floor", "price_cents": 5000, "capacity": capacity}},
		// The drop's buyers buy until it is sold out: no per-buyer limit
		// in the way.
		"max_units_per_buyer": min(capacity, domain.MaxUnitsPerBuyerLimit),
	})
	if err != nil || st != 201 {
		b.Fatalf("create show: %d %v %v", st, body, err)
	}
	id := body["id"].(string)
	if st, _, _, err := f.do("POST", "/v1/shows/"+id+"/publish", org, nil); err != nil || st != 200 {
		b.Fatalf("publish: %d %v", st, err)
	}
	return id
}

// caughtUp waits for the read model to hold every event written so far.
func (f *flashEngine) caughtUp(b *testing.B) {
	b.Helper()
	head, err := f.e.store.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if ok, err := f.e.queries.WaitForPosition(context.Background(), head, 30*time.Second); err != nil || !ok {
		b.Fatalf("read model did not catch up: %v", err)
	}
}

type percentiles struct{ p50, p99, max float64 }

func latencyOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	return percentiles{ms(d[len(d)/2]), ms(d[len(d)*99/100]), ms(d[len(d)-1])}
}

// baselineCommits measures the raw PostgreSQL single-row INSERT and COMMIT
// rate through pgx at the given concurrency, over a pool the size of the
// engine's, for d.
func baselineCommits(b *testing.B, workers int, d time.Duration) float64 {
	b.Helper()
	rate, _, _ := baselineCommitsCPU(b, workers, d)
	return rate
}

// baselineCommitsCPU is baselineCommits, with the CPU the commits cost and
// their count.
func baselineCommitsCPU(b *testing.B, workers int, d time.Duration) (float64, cpuSpent, int64) {
	b.Helper()
	pool, err := newPool(context.Background(), pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `create table baseline (id bigint primary key, at timestamptz not null)`); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	cpu := startCPU()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := pool.Exec(ctx, `insert into baseline values ($1, now())`, n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds(), cpu.stop(), n.Load()
}

// envInts reads a comma-separated list of benchmark knobs.
func envInts(name string, def []int) []int {
	var out []int
	for _, f := range strings.Split(os.Getenv(name), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// dropResult is what a ticket drop did.
type dropResult struct {
	accepted, units, rejected int64
	took                      time.Duration
	rate                      float64 // accepted holds per second
	lat                       percentiles
	checks                    string   // the counts checked after the drop
	cpu                       cpuSpent // from the drop until the read models caught up
}

// runDrop runs a ticket drop on a fresh engine: buyers wait on the show's
// page with their connections open, as in a waiting room, and at the drop
// hold 1–4 units each until the show is sold out. With rate zero each buyer
// sends its next hold as soon as the last one is answered (a closed loop:
// the engine's saturation throughput); otherwise holds are due at rate per
// second, whoever of the buyers is free sends the next one, and latency
// counts from when it was due. Then it checks the write side and the read
// model against what the buyers were told: no unit oversold, every accepted
// hold in both, every rejection a 409.
func runDrop(b *testing.B, buyers, units int, rate float64) dropResult {
	f := newFlashEngine(b, 15*time.Minute)
	org := f.token(domain.RoleOrganizer)
	show, warmup := f.show(b, org, units), f.show(b, org, buyers)
	f.caughtUp(b)
	tokens := make([]string, buyers)
	for i := range tokens {
		tokens[i] = f.token(domain.RoleBuyer)
	}
	// The engine has been selling before the drop: each buyer holds a unit
	// of another show first, so that connections, caches and prepared
	// statements are warm, as they are in production.
	warm, _ := json.Marshal(map[string]any{"show_id": warmup, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})
	conns := make([]*buyerConn, buyers)
	var warming sync.WaitGroup
	for i := range buyers {
		warming.Go(func() {
			c, err := f.dial()
			if err != nil {
				b.Errorf("dial: %v", err)
				return
			}
			b.Cleanup(func() { c.Close() })
			conns[i] = c
			if st, _, err := c.send("POST", "/v1/orders", tokens[i], warm); err != nil || st != 201 {
				b.Errorf("warm-up hold: %d %v", st, err)
			}
		})
	}
	warming.Wait()
	if b.Failed() {
		b.FailNow()
	}
	f.caughtUp(b)
	f.e.commands.Stats = commands.Stats{}
	var mu sync.Mutex
	var lat []time.Duration
	var accepted, heldUnits, rejected, failures atomic.Int64
	var soldOut atomic.Bool
	// Due times of the holds, in the open loop.
	due := make(chan time.Time, units)
	drop := make(chan struct{})
	var ready, wg sync.WaitGroup
	for i := range buyers {
		ready.Add(1)
		wg.Go(func() {
			c := conns[i]
			st, _, err := c.send("GET", "/v1/shows/"+show, "", nil)
			ready.Done()
			if err != nil || st != 200 {
				b.Errorf("waiting room: %d %v", st, err)
			}
			var bodies [4][]byte
			for q := range bodies {
				bodies[q], _ = json.Marshal(map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": q + 1}}})
			}
			<-drop
			for !soldOut.Load() {
				var at time.Time
				if rate > 0 {
					var ok bool
					if at, ok = <-due; !ok {
						return
					}
				}
				q := 1 + rand.IntN(4)
				st, d, err := c.send("POST", "/v1/orders", tokens[i], bodies[q-1])
				if rate > 0 {
					d = time.Since(at)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				switch {
				case err != nil:
					b.Errorf("hold: %v", err)
					failures.Add(1)
					return
				case st == 201:
					accepted.Add(1)
					heldUnits.Add(int64(q))
				case st == 409:
					rejected.Add(1)
					if rate == 0 {
						return // sold out, or too few units left for q
					}
					soldOut.Store(true)
				default:
					b.Errorf("hold: status %d", st)
					failures.Add(1)
					return
				}
			}
		})
	}
	ready.Wait()
	stopProfile := profileDrop(b, buyers, rate)
	cpu := startCPU()
	start := time.Now()
	close(drop)
	if rate > 0 {
		go func() {
			defer close(due)
			interval := time.Duration(float64(time.Second) / rate)
			next := time.Now()
			for n := 0; n < units && !soldOut.Load(); n++ {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				due <- next
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if rate > 0 {
		for range due { // the holds that came due after the sell-out
		}
	}
	// The profile covers the read models catching up after the drop too:
	// a hold's CPU includes its projection, done during the drop or after.
	f.caughtUp(b)
	lag := time.Since(start) - took
	spent := cpu.stop()
	stopProfile(accepted.Load())

	// The write side and the read model, against what the buyers got.
	s, err := f.e.commands.LoadShow(context.Background(), uuid.MustParse(show))
	if err != nil {
		b.Fatal(err)
	}
	writeHeld := units - s.Available("floor")
	oversold := max(0, int(heldUnits.Load())-units)
	v, err := f.e.queries.Show(context.Background(), uuid.MustParse(show))
	if err != nil {
		b.Fatal(err)
	}
	sec := v.Sections[0]
	var placed int
	if err := f.e.pool.QueryRow(context.Background(), `select count(*) from rm_orders where show_id = $1 and status = 'held'`, show).Scan(&placed); err != nil {
		b.Fatal(err)
	}
	if oversold != 0 || writeHeld != int(heldUnits.Load()) || sec.Held != int(heldUnits.Load()) || placed != int(accepted.Load()) || failures.Load() != 0 {
		b.Errorf("inconsistent: oversold %d, write side %d units, read model %d units in %d orders, accepted %d units in %d holds, failures %d",
			oversold, writeHeld, sec.Held, placed, heldUnits.Load(), accepted.Load(), failures.Load())
	}
	st := &f.e.commands.Stats
	return dropResult{
		accepted: accepted.Load(), units: heldUnits.Load(), rejected: rejected.Load(),
		took: took, rate: float64(accepted.Load()) / took.Seconds(), lat: latencyOf(lat), cpu: spent,
		checks: fmt.Sprintf("OVERSOLD %d; write side %d units held; read model %d held, %d available, %d sold, %d held orders; "+
			"conflicts %d, retries %d, %d hold batches of %.0f on average; read models caught up %.0f ms after the drop",
			oversold, writeHeld, sec.Held, sec.Available, sec.Sold, placed,
			st.Conflicts.Load(), st.Retries.Load(), st.HoldBatches.Load(), float64(st.Holds.Load())/float64(max(1, st.HoldBatches.Load())),
			float64(lag)/float64(time.Millisecond)),
	}
}

// BenchmarkFlashSale drives a ticket drop over loopback HTTP: N concurrent
// buyers (FLASH_BUYERS, default 2,000) race for M units (FLASH_UNITS,
// default 10,000) of one show, each holding 1–4 units at a time until it is
// sold out. Then a steady mix over 100 shows, and reads under load. Each
// rate is printed beside the raw PostgreSQL single-row commit rate at the
// same concurrency, measured in the same run. Run it with `make bench-flash`.
func BenchmarkFlashSale(b *testing.B) {
	buyers, units := envInt("FLASH_BUYERS", 2000), envInt("FLASH_UNITS", 10_000)
	baseline, baseCPU, commits := baselineCommitsCPU(b, buyers, time.Duration(envInt("FLASH_BASE_MS", 3000))*time.Millisecond)
	b.Logf("baseline: raw PostgreSQL single-row INSERT+COMMIT at %d concurrent workers: %.0f commits/s, CPU per commit %s",
		buyers, baseline, baseCPU.String(commits))
	rawSelf, rawPG := baseCPU.per(commits)

	b.Run("flash-sale", func(b *testing.B) {
		r := runDrop(b, buyers, units, 0)
		b.Logf("flash sale: %d buyers, %d units: %d holds accepted (%d units) in %s = %.0f holds/s (%.2f × the %.0f commits/s baseline), %.0f units/s; %d rejected 409",
			buyers, units, r.accepted, r.units, r.took.Round(time.Millisecond), r.rate, r.rate/baseline, baseline, float64(r.units)/r.took.Seconds(), r.rejected)
		b.Logf("flash sale: latency p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d buyers always waiting: Little's law makes the mean %d/rate)",
			r.lat.p50, r.lat.p99, r.lat.max, buyers, buyers)
		b.Logf("flash sale: %s", r.checks)
		b.ReportMetric(r.rate, "holds/s")
		b.ReportMetric(r.rate/baseline, "x-baseline")
		b.ReportMetric(r.lat.p99, "p99-ms")
	})

	// The same drop with the holds arriving at a set rate, however fast the
	// engine answers (an open loop): the latency of a hold when the engine
	// is not saturated, measured from when the hold was due, so that a
	// stalled engine cannot hide its queue.
	for _, rate := range envInts("FLASH_RATES", []int{2500, 5000, 10_000}) {
		b.Run(fmt.Sprintf("paced-%d", rate), func(b *testing.B) {
			r := runDrop(b, buyers, units, float64(rate))
			b.Logf("paced at %d holds/s over %d buyers: %d holds accepted in %s = %.0f holds/s; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
				rate, buyers, r.accepted, r.took.Round(time.Millisecond), r.rate, r.lat.p50, r.lat.p99, r.lat.max)
			b.Logf("paced at %d: %s", rate, r.checks)
			b.ReportMetric(r.rate, "holds/s")
			b.ReportMetric(r.lat.p99, "p99-ms")
		})
	}

	b.Run("steady-mix", func(b *testing.B) {
		f := newFlashEngine(b, time.Second)
		org := f.token(domain.RoleOrganizer)
		shows := make([]string, 100)
		for i := range shows {
			shows[i] = f.show(b, org, domain.MaxUnitsPerShow) // the largest a show may be
		}
		const clients, d = 200, 5 * time.Second
		type op struct {
			name string
			d    time.Duration
		}
		var mu sync.Mutex
		var ops []op
		record := func(name string, d time.Duration) { mu.Lock(); ops = append(ops, op{name, d}); mu.Unlock() }
		stopProfile := profileWindow(b, "steady-mix")
		cpu := startCPU()
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				tok := f.token(domain.RoleBuyer)
				for n := 0; time.Now().Before(deadline); n++ {
					st, body, dur, err := f.do("POST", "/v1/orders", tok, map[string]any{"show_id": shows[(i+n)%len(shows)], "items": []any{map[string]any{"section": "floor", "quantity": 1}}})
					if err != nil || st != 201 {
						b.Errorf("hold: %d %v", st, err)
						return
					}
					record("hold", dur)
					id := body["id"].(string)
					switch n % 4 {
					case 0, 1:
						st, _, dur, err = f.do("POST", "/v1/orders/"+id+"/pay", tok, map[string]any{"payment_token": "tok_visa"})
						record("pay", dur)
					case 2:
						st, _, dur, err = f.do("POST", "/v1/orders/"+id+"/cancel", tok, nil)
						record("cancel", dur)
					default: // left to expire
						st = 200
					}
					if err != nil || st != 200 {
						b.Errorf("order %s: %d %v", id, st, err)
						return
					}
				}
			})
		}
		wg.Wait()
		f.caughtUp(b) // a write's CPU includes its projection
		spent := cpu.stop()
		stopProfile(int64(len(ops)))
		byName := map[string][]time.Duration{}
		for _, o := range ops {
			byName[o.name] = append(byName[o.name], o.d)
		}
		total := float64(len(ops)) / d.Seconds()
		b.Logf("steady mix: %d clients over %d shows for %s: %.0f writes/s (%.2f × baseline)", clients, len(shows), d, total, total/baseline)
		self, pg := spent.per(int64(len(ops)))
		b.Logf("steady mix: CPU per write %s (%.1f× a raw commit's)", spent.String(int64(len(ops))), (self+pg)/max(rawSelf+rawPG, 1))
		b.ReportMetric((self+pg)/max(rawSelf+rawPG, 1), "cpu-x-raw")
		for _, name := range []string{"hold", "pay", "cancel"} {
			l := latencyOf(byName[name])
			b.Logf("steady mix: %-6s %6d  p50 %.1f ms  p99 %.1f ms", name, len(byName[name]), l.p50, l.p99)
		}
		time.Sleep(2 * time.Second) // the last holds expire
		b.ReportMetric(total, "writes/s")
		b.ReportMetric(total/baseline, "x-baseline")
	})

	// The floor under every figure above: the same HTTP stack, client and
	// concurrency answering /livez, which does nothing. A hold costs this
	// much before the engine does anything.
	b.Run("http-floor", func(b *testing.B) {
		f := newFlashEngine(b, time.Minute)
		const d = 3 * time.Second
		var n atomic.Int64
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for range buyers {
			wg.Go(func() {
				c, err := f.dial()
				if err != nil {
					b.Errorf("dial: %v", err)
					return
				}
				defer c.Close()
				for time.Now().Before(deadline) {
					if st, _, err := c.send("GET", "/livez", "", nil); err != nil || st != 200 {
						b.Errorf("livez: %d %v", st, err)
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		rate := float64(n.Load()) / d.Seconds()
		b.Logf("http floor: %d clients: %.0f requests/s of GET /livez (%.2f × baseline)", buyers, rate, rate/baseline)
		b.ReportMetric(rate, "requests/s")
	})

	b.Run("reads", benchReads) // issue 17: hotreads (hot_bench_test.go)
}
