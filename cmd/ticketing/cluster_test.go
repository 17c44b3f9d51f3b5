package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// cluster is the three-node Kafka cluster tools/kafka/cluster runs for the
// test (make kafka-cluster).
type cluster struct {
	brokers []string
	dir     string // its folder, for the script's kill and restart
	script  string // tools/kafka/cluster
}

// kafkaCluster returns the cluster tools/kafka/cluster run started
// (KAFKA_CLUSTER_BROKERS, KAFKA_CLUSTER_DIR, KAFKA_CLUSTER), or skips the
// test: plain go test ./... runs without one. Under CI it fails instead:
// make test runs it only inside make kafka-cluster, and skips it by name
// (-skip) in the main run, so a CI run never skips it silently.
func kafkaCluster(t *testing.T) cluster {
	t.Helper()
	c := cluster{dir: os.Getenv("KAFKA_CLUSTER_DIR"), script: os.Getenv("KAFKA_CLUSTER")}
	for _, b := range strings.Split(os.Getenv("KAFKA_CLUSTER_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.brokers = append(c.brokers, b)
		}
	}
	if len(c.brokers) == 3 && c.dir != "" && c.script != "" {
		return c
	}
	why := "no three-node Kafka cluster: run it with make kafka-cluster (tools/kafka/cluster run sets KAFKA_CLUSTER_BROKERS, KAFKA_CLUSTER_DIR, KAFKA_CLUSTER)"
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return c
}

// node runs the cluster script's verb (kill, restart) on node n.
func (c cluster) node(t *testing.T, verb string, n int) {
	t.Helper()
	out, err := exec.Command(c.script, verb, c.dir, fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s node %d: %v\n%s", verb, n, err, out)
	}
}

// createTopic creates topic over the cluster with three replicas, two of
// which must acknowledge a write, and checks that the cluster took
// min.insync.replicas.
func (c cluster) createTopic(t *testing.T, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafkago.Client{Addr: kafkago.TCP(c.brokers...)}
	res, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 3,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: "2"}},
	}}})
	if err == nil {
		err = res.Errors[topic]
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	desc, err := client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"min.insync.replicas"},
	}}})
	if err != nil || len(desc.Resources) != 1 || len(desc.Resources[0].ConfigEntries) != 1 ||
		desc.Resources[0].ConfigEntries[0].ConfigValue != "2" {
		t.Fatalf("min.insync.replicas of %s: %+v, %v", topic, desc, err)
	}
}

// busiestLeader returns the node that leads most of topic's partitions.
func (c cluster) busiestLeader(t *testing.T, topic string) (node, leads int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := (&kafkago.Client{Addr: kafkago.TCP(c.brokers...)}).Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	count := map[int]int{}
	for _, p := range md.Topics[0].Partitions {
		count[p.Leader.ID]++
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d has replicas %v, want three", p.ID, p.Replicas)
		}
	}
	for n, k := range count {
		if k > leads || k == leads && n < node {
			node, leads = n, k
		}
	}
	return node, leads
}

// acked is a write the API answered with 2xx: when, at which position.
type acked struct {
	pos     domain.Position
	at      time.Time
	visible time.Time // when every projection had applied it
}

// clusterLoad drives holds and payments through the HTTP API, several
// workers over several shows, and records each 2xx.
type clusterLoad struct {
	s             *server
	shows         []string
	lastPublished domain.Position

	mu     sync.Mutex
	writes []*acked
	held   map[string]string // order → its buyer's token
	paid   map[string]bool   // orders paid
	units  map[string]int    // show → units paid for
	errs   []string          // non-2xx answers and failed requests
	moved  []time.Time       // when the relay's position was seen to move
}

func (l *clusterLoad) try(method, path, token string, body any) (int, map[string]any, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(method, l.s.url+path, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if res.StatusCode/100 != 2 {
		return res.StatusCode, out, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, out, nil
}

func (l *clusterLoad) record(pos string, at time.Time, fn func()) {
	p, err := domain.ParsePosition(pos)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs = append(l.errs, fmt.Sprintf("position %q: %v", pos, err))
		return
	}
	l.writes = append(l.writes, &acked{pos: p, at: at})
	fn()
}

func (l *clusterLoad) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err.Error())
}

// step holds a unit of a show for a new buyer and pays for it.
func (l *clusterLoad) step(n int, buyer string) {
	show := l.shows[n%len(l.shows)]
	_, held, err := l.try("POST", "/v1/orders", buyer, map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}})
	if err != nil {
		l.failed(err)
		return
	}
	order, _ := held["id"].(string)
	pos, _ := held["position"].(string)
	l.record(pos, time.Now(), func() { l.held[order] = buyer })
	if n%4 == 3 {
		return // some stay held
	}
	_, paid, err := l.try("POST", "/v1/orders/"+order+"/pay", buyer, map[string]any{"payment_token": "tok_visa"})
	if err != nil {
		l.failed(err)
		return
	}
	pos, _ = paid["position"].(string)
	l.record(pos, time.Now(), func() { l.paid[order] = true; l.units[show]++ })
}

// watch marks each write visible once every projection applied it, until
// done is closed (no more writes come) and every write is visible, or ctx
// ends.
func (l *clusterLoad) watch(ctx context.Context, done <-chan struct{}) {
	next, relayAt := 0, l.s.e.relay.Position()
	for ctx.Err() == nil {
		if p := l.s.e.relay.Position(); p != relayAt {
			relayAt = p
			l.mu.Lock()
			l.moved = append(l.moved, time.Now())
			l.mu.Unlock()
		}
		l.mu.Lock()
		pending := l.writes[next:]
		l.mu.Unlock()
		for _, w := range pending {
			ok, err := l.s.e.queries.WaitForPosition(ctx, w.pos, time.Millisecond)
			if err != nil || !ok {
				break
			}
			l.mu.Lock()
			w.visible = time.Now()
			l.mu.Unlock()
			next++
		}
		select {
		case <-done:
			if l.allVisible(next) {
				return
			}
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *clusterLoad) allVisible(next int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return next == len(l.writes)
}

// stall is how long the writes acknowledged in [from, to) took to become
// visible at most, and until when some took longer than slow: the moment
// the read models were again within slow of the writes.
func (l *clusterLoad) stall(from, to time.Time, slow time.Duration) (worst time.Duration, recovered time.Time, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recovered = from
	for _, w := range l.writes {
		if w.at.Before(from) || !w.at.Before(to) || w.visible.IsZero() {
			continue
		}
		n++
		d := w.visible.Sub(w.at)
		worst = max(worst, d)
		if d > slow && w.visible.After(recovered) {
			recovered = w.visible
		}
	}
	return worst, recovered, n
}

// steady reports whether the writes acknowledged between 2d and d ago (some)
// all became visible within d.
func (l *clusterLoad) steady(d time.Duration) bool {
	now := time.Now()
	worst, _, n := l.stall(now.Add(-2*d), now.Add(-d), time.Hour)
	if n == 0 || worst > d {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.writes {
		if w.at.After(now.Add(-2*d)) && w.at.Before(now.Add(-d)) && w.visible.IsZero() {
			return false
		}
	}
	return true
}

// A three-node cluster loses a node under a steady stream of writes: a topic
// with three replicas and min.insync.replicas=2, the relay writing with
// acks=all; the node leading most of the topic's partitions is SIGKILLed
// mid-stream and later restarted. Every 2xx write reaches every read model,
// each stream's events stay in order on the topic, nothing is applied twice
// (the read models equal a replay of the log), the relay and the projectors
// recover by themselves, and the auditor finds nothing.
func TestCluster_LosesABroker(t *testing.T) {
	c := kafkaCluster(t)
	const partitions = 6
	topic := "ticketing.cluster." + uuid.NewString()[:8]
	c.createTopic(t, topic, partitions)
	s := startServer(t, pgtest.SchemaURL(t), time.Hour, func(cfg *Config) {
		cfg.Kafka = &kafka.Config{Brokers: c.brokers, Topic: topic, Partitions: partitions, ReplicationFactor: 3}
	})
	if w := s.e.relay.Writer; w.RequiredAcks != kafkago.RequireAll || w.Async {
		t.Fatalf("relay writer: acks %v, async %v; want acks=all, synchronous", w.RequiredAcks, w.Async)
	}
	org := s.token("organizer")
	var err error
	l := &clusterLoad{s: s, held: map[string]string{}, paid: map[string]bool{}, units: map[string]int{}}
	for range 4 {
		id, pos := s.publishedShow(org, 100000)
		l.shows = append(l.shows, id)
		if l.lastPublished, err = domain.ParsePosition(pos); err != nil {
			t.Fatal(err)
		}
	}
	// Every consumer joined its group (the first join on a fresh cluster
	// takes seconds): the pipeline is warm.
	warm := time.Now()
	if ok, err := s.e.queries.WaitForPosition(context.Background(), l.lastPublished, time.Minute); !ok || err != nil {
		t.Fatalf("the projections did not start within a minute: %v", err)
	}
	t.Logf("projections caught up with the shows %s after they were published", time.Since(warm).Round(time.Millisecond))
	victim, leads := c.busiestLeader(t, topic)
	timeline := runClusterLoad(t, c, l, victim)
	t.Logf("node %d led %d of %d partitions; %d writes acknowledged (%d orders, %d paid)",
		victim, leads, partitions, len(l.writes), len(l.held), len(l.paid))
	reportRecovery(t, l, timeline)
	if len(l.errs) > 0 {
		t.Errorf("%d writes failed, first: %s", len(l.errs), l.errs[0])
	}
	checkClusterReadModels(t, l)
	checkClusterTopic(t, c, s, topic)
	checkRecovered(t, s)
	checkReplayed(t, s)
	s.audit()
}

// clusterTimeline is when the node was killed, when it was restarted and
// served again, and when the writes stopped.
type clusterTimeline struct {
	start, killed, restarting, restarted, stopped time.Time
}

// runClusterLoad writes through the API for a few seconds, kills the victim,
// writes on, restarts it, writes on, then waits until every write is
// visible.
func runClusterLoad(t *testing.T, c cluster, l *clusterLoad, victim int) clusterTimeline {
	const workers = 3
	stop, done := make(chan struct{}), make(chan struct{})
	tokens := make(chan string, 64)
	go func() { // buyers, minted off the workers' path
		for {
			tok := l.s.token("buyer")
			select {
			case tokens <- tok:
			case <-done:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := w; ; n += workers {
				select {
				case <-stop:
					return
				case tok := <-tokens:
					l.step(n, tok)
				}
				time.Sleep(80 * time.Millisecond) // about 50 writes/s in all

			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	watched := make(chan struct{})
	go func() { defer close(watched); l.watch(ctx, done) }()

	var tl clusterTimeline
	tl.start = time.Now()
	time.Sleep(4 * time.Second)
	// The cluster's JVMs start cold: kill only once the read models keep
	// up with the writes (those of a second ago visible within a second).
	for !l.steady(time.Second) && time.Since(tl.start) < 40*time.Second {
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the read models kept up with the writes %s after they began", time.Since(tl.start).Round(time.Millisecond))
	tl.killed = time.Now()
	c.node(t, "kill", victim)
	t.Logf("SIGKILLed node %d", victim)
	time.Sleep(12 * time.Second)
	tl.restarting = time.Now()
	c.node(t, "restart", victim) // returns once it serves again
	tl.restarted = time.Now()
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	tl.stopped = time.Now()
	close(done)
	<-watched
	if ctx.Err() != nil {
		t.Fatal("not every acknowledged write became visible within 90 s")
	}
	return tl
}

// reportRecovery prints how long the read models lagged behind the writes
// before the kill, after it and after the restart. The time to recover is
// from the SIGKILL until the read models are again as close behind the
// writes as before it (within twice the slowest write before the kill, at
// least a second), counted over the writes before the restart.
func reportRecovery(t *testing.T, l *clusterLoad, tl clusterTimeline) {
	t.Helper()
	// The writes of the last second before the kill may be caught in it.
	before, _, nb := l.stall(tl.killed.Add(-4*time.Second), tl.killed.Add(-time.Second), time.Hour)
	slow := max(time.Second, 2*before)
	worst, recovered, na := l.stall(tl.killed, tl.restarting, slow)
	worstR, recoveredR, nr := l.stall(tl.restarting, tl.stopped, slow)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("from 4 s to 1 s before the kill: %d writes, slowest visible after %s", nb, ms(before))
	t.Logf("after the kill: %d writes, slowest visible after %s; read models within %s of the writes again %s after the SIGKILL",
		na, ms(worst), ms(slow), ms(recovered.Sub(tl.killed)))
	t.Logf("restart (the node served again after %s): %d writes, slowest visible after %s; within %s again %s after the restart began",
		ms(tl.restarted.Sub(tl.restarting)), nr, ms(worstR), ms(slow), ms(recoveredR.Sub(tl.restarting)))
	fmt.Printf("kafka cluster: recovered %s after the SIGKILL (slowest write visible after %s, %s before the kill)\n",
		ms(recovered.Sub(tl.killed)), ms(worst), ms(before))
	var pause time.Duration
	for i := 1; i < len(l.moved); i++ {
		if l.moved[i].After(tl.killed) && l.moved[i-1].Before(tl.restarting) {
			pause = max(pause, l.moved[i].Sub(l.moved[i-1]))
		}
	}
	t.Logf("the relay's longest pause between the kill and the restart: %s", ms(pause))
	logTimeline(t, l, tl)
	if nb == 0 || na == 0 || nr == 0 {
		t.Errorf("writes before the kill %d, after it %d, after the restart %d: want some in each", nb, na, nr)
	}
}

// logTimeline logs, per second from the kill, the writes acknowledged in
// it and the slowest of them to become visible.
func logTimeline(t *testing.T, l *clusterLoad, tl clusterTimeline) {
	t.Helper()
	var b strings.Builder
	for from := tl.killed.Add(-time.Second); from.Before(tl.stopped); from = from.Add(time.Second) {
		worst, _, n := l.stall(from, from.Add(time.Second), time.Hour)
		fmt.Fprintf(&b, " %+ds:%d/%.1fs", int(from.Sub(tl.killed).Round(time.Second)/time.Second), n, worst.Seconds())
	}
	t.Logf("per second from the kill, writes/slowest visible:%s", b.String())
}

// checkClusterReadModels reads every acknowledged order back, and each
// show's units sold.
func checkClusterReadModels(t *testing.T, l *clusterLoad) {
	t.Helper()
	s := l.s
	head, err := s.e.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for order, buyer := range l.held {
		want := "held"
		if l.paid[order] {
			want = "confirmed"
		}
		if got := s.read("/v1/orders/"+order, buyer, head.String()).str("status"); got != want {
			t.Errorf("order %s is %q in the read model, want %q", order, got, want)
		}
	}
	for _, show := range l.shows {
		floor := section(t, s.read("/v1/shows/"+show, "", head.String()), "floor")
		if num(floor["sold"]) != l.units[show] {
			t.Errorf("show %s: %v sold in the read model, %d paid", show, floor["sold"], l.units[show])
		}
	}
}

// checkClusterTopic reads the whole topic back: each stream's events in
// version order in one partition, none missing; it logs the duplicates a
// retried write left.
func checkClusterTopic(t *testing.T, c cluster, s *server, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", c.brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{} // stream → highest version seen
	where := map[string]int{}  // stream → its partition
	var total, dups int
	for _, p := range parts {
		for _, m := range readPartition(t, ctx, c.brokers, topic, p.ID) {
			rec, err := kafka.Decode(m)
			if err != nil {
				t.Fatal(err)
			}
			total++
			if at, ok := where[rec.StreamID]; ok && at != p.ID {
				t.Errorf("stream %s in partitions %d and %d", rec.StreamID, at, p.ID)
			}
			where[rec.StreamID] = p.ID
			switch v := seen[rec.StreamID]; {
			case rec.Version <= v:
				dups++
			case rec.Version != v+1:
				t.Errorf("partition %d offset %d: %s version %d after version %d", p.ID, m.Offset, rec.StreamID, rec.Version, v)
				seen[rec.StreamID] = rec.Version
			default:
				seen[rec.StreamID] = rec.Version
			}
		}
	}
	var distinct int64
	for _, v := range seen {
		distinct += v
	}
	if stored := eventCount(t, s); distinct != int64(stored) {
		t.Errorf("the topic holds %d distinct events, the store %d", distinct, stored)
	}
	t.Logf("topic: %d messages over %d partitions, %d streams in order, %d duplicates of a retried write", total, len(parts), len(seen), dups)
}

// readPartition returns every message of a partition, first to last.
func readPartition(t *testing.T, ctx context.Context, brokers []string, topic string, partition int) []kafkago.Message {
	t.Helper()
	conn, err := kafkago.DialLeader(ctx, "tcp", brokers[0], topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafkago.Message
	for int64(len(out)) < last {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("partition %d at %d of %d: %v", partition, len(out), last, err)
		}
		out = append(out, m)
	}
	return out
}

// readPartitionOf reads a partition to its end, within 20 s.
func readPartitionOf(t *testing.T, brokers []string, topic string, partition int) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return readPartition(t, ctx, brokers, topic, partition)
}

// checkRecovered checks that the relay and the projections caught up with
// the log by themselves, none parked anything.
func checkRecovered(t *testing.T, s *server) {
	t.Helper()
	ctx := context.Background()
	st := s.e.relay.Status()
	r, err := report(ctx, s.e.store, s.e.queries)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != kafka.RelayLive || st.Position != r.Head {
		t.Errorf("relay: %+v, head %s", st, r.Head)
	}
	t.Logf("relay: %s at %s; its last error: %s", st.State, st.Position, cmp.Or(st.LastError, "none"))
	for _, p := range r.Projections {
		if p.Position != r.Head {
			t.Errorf("projection %s at %s, head %s", p.Name, p.Position, r.Head)
		}
	}
	var parked int
	if err := s.e.pool.QueryRow(ctx, `select count(*) from projection_parked_streams`).Scan(&parked); err != nil || parked != 0 {
		t.Errorf("%d parked streams (%v)", parked, err)
	}
	if len(r.Projections) == 0 {
		t.Error("no projection reported")
	}
}

// checkReplayed rebuilds every read model from the log beside the live one
// and finds no difference: nothing applied twice, nothing missed.
func checkReplayed(t *testing.T, s *server) {
	t.Helper()
	var out strings.Builder
	reports, err := replay(context.Background(), replayPool(t, s.db), replayOptions{All: true, DryRun: true}, &out, quiet)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	for _, r := range reports {
		for _, d := range r.Swap.Diffs {
			if !d.Same() {
				t.Errorf("live %s.%s differs from a replay of the log: %+v", r.Projection, d.Table, d)
			}
		}
	}
}
