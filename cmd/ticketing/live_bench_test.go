package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketing/ticketing/domain"
)

// BenchmarkLive: LIVE_WATCHERS (default 2,000) watchers of one show's live
// stream while it takes a drop paced at LIVE_RATE holds/s (default 2,000)
// for LIVE_MS (default 5,000 ms): the delivery latency from the append of
// each message's event (its recorded_at) to each watcher, and the engine's
// CPU per delivered message, against the same drop without watchers. The
// watchers run in a child process, so that the engine's CPU is its own.
// Run it with `make bench-live`.
func BenchmarkLive(b *testing.B) {
	watchers, rate := envInt("LIVE_WATCHERS", 2000), envInt("LIVE_RATE", 2000)
	d := time.Duration(envInt("LIVE_MS", 5000)) * time.Millisecond
	var cpuWithout time.Duration
	for _, with := range []bool{false, true} {
		f := newFlashEngine(b, time.Hour, func(c *Config) { c.Hot.Streams = 0 })
		show := f.show(b, f.token(domain.RoleOrganizer), max(10_000, 2*rate*int(d/time.Second+1)))
		f.caughtUp(b)
		var child *liveChild
		if with {
			child = startLiveChild(b, f.url+"/v1/shows/"+show+"/live", watchers)
		}
		cpu0 := processCPU()
		stop := make(chan struct{})
		holds := pacedHolds(b, f, show, rate, 200, stop)
		time.Sleep(d)
		close(stop)
		n, hl := holds()
		time.Sleep(500 * time.Millisecond) // the last messages are delivered
		cpu := processCPU() - cpu0
		if !with {
			cpuWithout = cpu
			b.Logf("live: no watchers: %d holds in %s (paced at %d/s), p50 %.1f ms, p99 %.1f ms; process CPU %s (engine and hold client)",
				n, d, rate, hl.p50, hl.p99, cpu.Round(time.Millisecond))
			continue
		}
		got := child.finish(b)
		lat := deliveryLatency(b, f, got.records)
		b.Logf("live: %d watchers: %d holds in %s (paced at %d/s), p50 %.1f ms, p99 %.1f ms; process CPU %s (engine and hold client)",
			watchers, n, d, rate, hl.p50, hl.p99, cpu.Round(time.Millisecond))
		b.Logf("live: %d messages delivered (%d dropped watchers): append → watcher p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			len(got.records), got.dropped, lat.p50, lat.p99, lat.max)
		if len(got.records) > 0 {
			per := (cpu - cpuWithout) / time.Duration(len(got.records))
			b.Logf("live: process CPU per delivered message (the difference): %s (%.2f × a hold's CPU without watchers)",
				per, float64(per)/float64(cpuWithout/time.Duration(max(1, n))))
			b.ReportMetric(float64(per.Nanoseconds()), "cpu-ns/msg")
		}
		b.ReportMetric(lat.p99, "p99-ms")
	}
}

// liveRecord is a message a watcher got: its position and when.
type liveRecord struct {
	pos uint64
	at  int64 // Unix nanoseconds
}

type liveChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	file  string
}

// startLiveChild runs runLiveWatchers in a child process with n watchers
// of url, and waits until each got its first message.
func startLiveChild(b *testing.B, url string, n int) *liveChild {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "live.bin")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LIVE_CHILD_URL="+url, "LIVE_CHILD_N="+strconv.Itoa(n), "LIVE_CHILD_OUT="+file)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &liveChild{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), file: file}
	if line, err := c.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("live watchers: %q %v", line, err)
	}
	return c
}

type liveChildResult struct {
	records []liveRecord
	dropped int
}

// finish stops the watchers and reads what they got.
func (c *liveChild) finish(b *testing.B) liveChildResult {
	_ = c.stdin.Close()
	line, _ := c.out.ReadString('\n')
	_, _ = io.Copy(io.Discard, c.out)
	if err := c.cmd.Wait(); err != nil {
		b.Fatalf("live watchers: %v", err)
	}
	var res liveChildResult
	if _, err := fmt.Sscanf(line, "dropped %d", &res.dropped); err != nil {
		b.Fatalf("live watchers said %q", line)
	}
	data, err := os.ReadFile(c.file)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i+16 <= len(data); i += 16 {
		res.records = append(res.records, liveRecord{binary.LittleEndian.Uint64(data[i:]), int64(binary.LittleEndian.Uint64(data[i+8:]))})
	}
	return res
}

// deliveryLatency returns the latency of each record from the append of
// its event.
func deliveryLatency(b *testing.B, f *flashEngine, recs []liveRecord) percentiles {
	appended := map[uint64]int64{}
	for _, r := range recs {
		appended[r.pos] = 0
	}
	positions := make([]int64, 0, len(appended))
	for p := range appended {
		positions = append(positions, int64(p))
	}
	rows, err := f.e.pool.Query(context.Background(), `select position, recorded_at from events where position = any($1)`, positions)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var p int64
		var at time.Time
		if err := rows.Scan(&p, &at); err != nil {
			b.Fatal(err)
		}
		appended[uint64(p)] = at.UnixNano()
	}
	rows.Close()
	lat := make([]time.Duration, 0, len(recs))
	for _, r := range recs {
		if at := appended[r.pos]; at != 0 {
			lat = append(lat, time.Duration(r.at-at))
		}
	}
	return latencyOf(lat)
}

// runLiveWatchers is BenchmarkLive's child process, which TestMain runs
// instead of the tests when LIVE_CHILD_URL is set. It opens LIVE_CHILD_N
// live streams of that URL, prints "ready" when each got its first
// message, records every message's id until its stdin closes, then writes
// the records to LIVE_CHILD_OUT and prints how many watchers were dropped.
func runLiveWatchers(u string) error {
	n, _ := strconv.Atoi(os.Getenv("LIVE_CHILD_N"))
	target, err := url.Parse(u)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var all []liveRecord
	dropped := 0
	var ready, done sync.WaitGroup
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", target.Host)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", target.Path, target.Host)
		ready.Add(1)
		done.Go(func() {
			br := bufio.NewReaderSize(c, 64<<10)
			var mine []liveRecord
			first, gone := true, false
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					break
				}
				if id, ok := strings.CutPrefix(string(line), "id: "); ok {
					p, _ := domain.ParsePosition(strings.TrimSpace(id))
					mine = append(mine, liveRecord{p.Commit, time.Now().UnixNano()})
					if first {
						first = false
						ready.Done()
					}
				} else if strings.HasPrefix(string(line), "event: dropped") {
					gone = true
				}
			}
			if first {
				ready.Done()
			}
			mu.Lock()
			all = append(all, mine[min(1, len(mine)):]...) // not the snapshot
			if gone {
				dropped++
			}
			mu.Unlock()
		})
	}
	ready.Wait()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
	done.Wait()
	buf := make([]byte, 0, 16*len(all))
	for _, r := range all {
		buf = binary.LittleEndian.AppendUint64(buf, r.pos)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(r.at))
	}
	if err := os.WriteFile(os.Getenv("LIVE_CHILD_OUT"), buf, 0o600); err != nil {
		return err
	}
	fmt.Printf("dropped %d\n", dropped)
	return nil
}
