package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
	"github.com/ticketing/ticketing/projections"
)

// groupPrefix starts the consumer group id of every projection. It is part
// of the group ids stored in Kafka with their committed offsets: renaming it
// makes every projection start over from the first retained message.
const groupPrefix = "ticketing.projection."

// GroupID returns the consumer group id of a projection:
// "ticketing.projection." followed by its name.
func GroupID(projection string) string { return groupPrefix + projection }

// SharedGroupID is the consumer group of a Consumer that feeds several
// projections (Consumer.Projections). Like GroupID's, it is stored in Kafka
// with the committed offsets: renaming it makes the projections it feeds
// read the topic again from its first retained message, and skip it as
// redelivered.
const SharedGroupID = "ticketing.projections"

// Deliverer applies the events a broker delivered to a projection.
// *projections.Runner satisfies it.
type Deliverer interface {
	// Deliver applies runs of events, each from one partition and in
	// order, exactly once in effect, and returns per run how many of its
	// events, from the first, are done (applied or skipped as
	// redelivered). With an error, the rest must be delivered again later;
	// a *projections.GapError says an event of a stream is missing.
	Deliver(ctx context.Context, projection string, deliveries []projections.Delivery) (done []int, err error)
}

var _ Deliverer = (*projections.Runner)(nil)

// Defaults of Consumer.
const (
	// DefaultMaxWait is the read deadline of a fetch (fetch.go). The
	// broker holds the fetch of idle partitions for fetchWait; the rest is
	// the answer's time to come back. kafka-go's Reader left it a quarter of
	// MaxWait when MaxWait was under a second (segmentio/kafka-go#574): at
	// 100 ms that left 25 ms, and on a loaded machine about one fetch in
	// three was answered later, failed with an i/o timeout and was sent
	// again on a new connection. A second of margin fails a fetch only when
	// the broker or this process stalls that long, while rebalances and
	// Close still wait no longer than fetchWait for the fetches in flight.
	DefaultMaxWait = fetchRTT + fetchWait
	// DefaultSessionTimeout is how long the group coordinator waits for a
	// heartbeat before it gives a silent member's partitions to others.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultHeartbeatInterval is how often a member heartbeats, and so
	// how soon it notices a rebalance.
	DefaultHeartbeatInterval = time.Second
	// DefaultRebalanceTimeout is how long the coordinator waits for every
	// member to rejoin in a rebalance.
	DefaultRebalanceTimeout = 10 * time.Second
)

const (
	// fetchWait is how long the broker holds the fetch of idle
	// partitions (see DefaultMaxWait). It does not delay new messages: the
	// broker answers as soon as it has one. It bounds how long a rebalance
	// or Close waits for the fetches in flight.
	fetchWait = 100 * time.Millisecond
	// fetchRTT is the margin DefaultMaxWait leaves for a fetch's answer.
	fetchRTT = time.Second
	// DefaultCommitInterval is how often a consumer commits the offsets of
	// the messages done, at most.
	DefaultCommitInterval = 250 * time.Millisecond
	// commitTimeout bounds a commit, which waits through a rebalance.
	commitTimeout = 10 * time.Second
	// joinGroupBackoff is how long kafka-go waits before it joins the group
	// again after an error; its default is 5 s.
	joinGroupBackoff = 200 * time.Millisecond
)

// Consumer feeds one projection (or several, see Projections) from the
// topic of the global log, as a member of the projection's consumer group
// (GroupID by default). It fetches messages without committing them,
// gathers those at hand, delivers each partition's run of them to Deliverer
// and then commits the offsets of those done. It fetches the next messages
// while a projection applies the last, until deliveryQueue batches wait for
// it. Messages that are not done (a missing event of a stream, a failed
// transaction) are not committed and never skipped: the consumer delivers
// them again, with a growing backoff, before it delivers anything else to
// that projection. Delivery is at least once; the Deliverer applies each
// event once in effect.
type Consumer struct {
	// Brokers are the bootstrap brokers, as host:port.
	Brokers []string
	// Topic is the topic of the global log.
	Topic string
	// Projection is the name of the projection fed.
	Projection string
	// Projections, if not empty, are the projections fed instead of
	// Projection, from one consumer group (SharedGroupID by default): each
	// message is fetched and decoded once and delivered to each of them,
	// concurrently, and its offset is committed once every one of them is
	// done with it. Each keeps its own progress and parked streams; one that
	// stalls holds the others back once deliveryQueue batches wait for it.
	// With a ManyDeliverer, each batch goes to all those ready for it in one
	// call (SharedTransactions, deliver.go).
	Projections []string
	// Deliverer applies the events, usually the projections' runner.
	Deliverer Deliverer
	// Group is the consumer group; empty means GroupID(Projection), or
	// SharedGroupID with Projections.
	Group string
	// Log receives stalls and failures; nil discards them.
	Log *slog.Logger
	// MaxBatch caps the events delivered at once; zero means
	// projections.DefaultMaxBatch.
	MaxBatch int
	// MaxWait, SessionTimeout, HeartbeatInterval and RebalanceTimeout tune
	// the fetches and the group membership; zero means DefaultMaxWait and
	// so on.
	MaxWait           time.Duration
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// CommitInterval is how often the offsets of the messages done are
	// committed, at most; zero means DefaultCommitInterval, and a negative
	// one commits every batch as soon as it is done.
	CommitInterval time.Duration
	// SharedTransactions is how many transactions each batch fetched for
	// several projections is applied in, when Deliverer is a ManyDeliverer:
	// the projections are split among that many groups, and each group
	// applies each batch in one call of DeliverMany, at its own pace. Zero
	// means one: one transaction, one COMMIT per batch for all of them
	// (deliver.go); as many as there are projections is a transaction of
	// each projection's own.
	SharedTransactions int
	// Observe, if set, is told of every delivery: the benchmarks' breakdown
	// of the latency. It runs on the delivery path and must be quick.
	Observe func(Delivered)
}

// Delivered describes one call of Deliverer.Deliver, for Consumer.Observe.
type Delivered struct {
	// Projection is the projection fed.
	Projection string
	// Positions are the positions of the events delivered, FetchedAt when
	// the consumer fetched each.
	Positions []domain.Position
	FetchedAt []time.Time
	// Start and End bound the call; Done counts the events done.
	Start, End time.Time
	Done       int
}

// fetched is a message and the event it holds.
type fetched struct {
	msg kafka.Message
	rec domain.RecordedEvent
	err error     // a *DecodeError
	gen member    // the generation of the group it was fetched in
	at  time.Time // when it was fetched
}

// doneOffset is a message a projection is done with, as far as its commit
// needs it: the generation of the group it was fetched in, its partition
// and its offset. The commit path keeps these, not the fetched messages
// with their events: a fetched is some 450 bytes, copied at each step.
type doneOffset struct {
	gen       member
	partition int
	offset    int64
}

func doneOf(f fetched) doneOffset {
	return doneOffset{gen: f.gen, partition: f.msg.Partition, offset: f.msg.Offset}
}

// Run consumes until ctx ends; it then commits what is done, leaves the
// group and returns nil. It fails at once when the consumer is
// misconfigured.
func (c *Consumer) Run(ctx context.Context) error {
	if len(c.Brokers) == 0 || c.Topic == "" || len(c.names()) == 0 || slices.Contains(c.names(), "") || c.Deliverer == nil {
		return errors.New("kafka: consumer needs brokers, a topic, a projection and a deliverer")
	}
	if names := slices.Sorted(slices.Values(c.names())); len(slices.Compact(names)) != len(c.names()) {
		return errors.New("kafka: consumer given a projection twice")
	}
	maxBatch := c.MaxBatch
	if maxBatch <= 0 {
		maxBatch = projections.DefaultMaxBatch
	}
	cg, err := kafka.NewConsumerGroup(c.groupConfig())
	if err != nil {
		return fmt.Errorf("kafka: consumer group: %w", err)
	}
	// Last: the group is left once what is done is committed (fetch.go).
	defer cg.Close()
	gens := &generations{ended: make(chan struct{}, 1)}
	tr := &kafka.Transport{ClientID: "ticketing-consumer"}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr}
	commits := make(chan []doneOffset, 64)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		c.commitLoop(commits, gens.ended, c.commitInterval(), func(done []doneOffset) error { return c.commit(client, done) })
	}()
	defer func() {
		close(commits)
		<-committed
	}()
	out := c.startDeliveries(ctx, gens, maxBatch, commits)
	defer out.stop() // before commits is closed
	// consume returns once nothing more is handed to out (fetch.go).
	c.consume(ctx, cg, gens, maxBatch, out.deliver)
	return nil
}

func (c *Consumer) commitInterval() time.Duration {
	if c.CommitInterval == 0 {
		return DefaultCommitInterval
	}
	return max(c.CommitInterval, 0)
}

func decoded(m kafka.Message, gen member) fetched {
	rec, err := Decode(m)
	return fetched{msg: m, rec: rec, err: err, gen: gen, at: time.Now()}
}

// deliveryQueue is how many gathered batches wait for a projection: the
// consumer fetches the next ones while the projections apply the last, until
// the slowest has that many waiting.
const deliveryQueue = 4

// deliveries feed each projection of a consumer, in a goroutine of its own,
// the batches the consumer fetched, in order.
type deliveries struct {
	queues []chan []fetched
	wg     sync.WaitGroup
}

// startDeliveries starts a goroutine per projection fed that delivers the
// batches given to deliver, each batch with those waiting behind it, up to
// maxBatch messages, at once, and reports what is done to a doneTracker that
// has it committed.
func (c *Consumer) startDeliveries(ctx context.Context, gens *generations, maxBatch int, commits chan<- []doneOffset) *deliveries {
	names := c.names()
	done := &doneTracker{of: len(names), last: map[int]map[string]doneOffset{}, commits: commits}
	d := &deliveries{}
	// Several projections, and a Deliverer that applies a batch to several
	// at once: one transaction per batch for all those ready (deliver.go).
	if many, ok := c.Deliverer.(ManyDeliverer); ok && len(names) > 1 {
		c.startShared(ctx, gens, maxBatch, many, done, d)
		return d
	}
	for _, name := range names {
		q := make(chan []fetched, deliveryQueue)
		d.queues = append(d.queues, q)
		d.wg.Go(func() {
			for batch := range q {
				batch = gather(batch, q, maxBatch, same)
				if ctx.Err() == nil {
					c.deliverAll(ctx, gens, name, batch, done.report)
				}
			}
		})
	}
	return d
}

// deliver queues batch for every projection, waiting while one has
// deliveryQueue batches waiting, until ctx ends.
func (d *deliveries) deliver(ctx context.Context, batch []fetched) {
	for _, q := range d.queues {
		select {
		case q <- batch:
		case <-ctx.Done():
			return
		}
	}
}

// stop waits for the projections to be done with what was queued; ctx has
// ended, so they drop it.
func (d *deliveries) stop() {
	for _, q := range d.queues {
		close(q)
	}
	d.wg.Wait()
}

// doneTracker has messages committed as the projections fed are done with
// them: for each partition, the earliest of the last messages each
// projection is done with in one generation of the group, once every one of
// them reported one in that generation.
type doneTracker struct {
	of      int // projections fed
	commits chan<- []doneOffset

	mu   sync.Mutex
	last map[int]map[string]doneOffset // by partition, by projection
}

// report records that projection is done with msgs, and every message
// before each in its partition.
func (t *doneTracker) report(projection string, msgs []doneOffset) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ready []doneOffset
	for _, m := range msgs {
		p := m.partition
		if t.last[p] == nil {
			t.last[p] = map[string]doneOffset{}
		}
		t.last[p][projection] = m
		first, n := m, 0
		for _, f := range t.last[p] {
			if f.gen != m.gen {
				continue
			}
			n++
			if f.offset < first.offset {
				first = f
			}
		}
		if n == t.of {
			ready = append(ready, first)
		}
	}
	if len(ready) > 0 {
		t.commits <- ready
	}
}

// deliverAll delivers the gathered messages to the projection name, split
// by partition, in one call (one transaction), reports what is done, and
// delivers again what is not until it is done or ctx ends. One transaction
// for all the partitions of a gather keeps the cost per event low when events spread
// over many partitions, and leaves no two transactions of this consumer to
// deadlock on rows that events of several partitions touch (a show's sales).
//
// Messages fetched in an older generation of the group are not delivered
// again: the partitions still assigned restart from the committed offsets.
// stalled, if given, are the stalls of a first attempt made elsewhere (the
// shared delivery, deliver.go): they are logged and backed off first.
func (c *Consumer) deliverAll(ctx context.Context, gens *generations, name string, batch []fetched, report func(string, []doneOffset), stalled ...stall) {
	order, byPartition := byPartitions(batch)
	backoff := minBackoff
	if len(stalled) > 0 { // the first attempt was made elsewhere
		if !c.backOff(ctx, name, stalled, &backoff) {
			return
		}
	}
	for {
		deliveries := deliveriesOf(order, byPartition)
		start := time.Now()
		done, err := c.Deliverer.Deliver(ctx, name, deliveries)
		if len(done) != len(deliveries) {
			done = make([]int, len(deliveries))
		}
		c.observe(name, order, byPartition, done, start, time.Now())
		stalls := c.settle(gens, name, order, byPartition, deliveries, done, err, report)
		if len(stalls) == 0 || ctx.Err() != nil {
			return
		}
		if !c.backOff(ctx, name, stalls, &backoff) {
			return
		}
		order = stalledPartitions(stalls)
	}
}

// backOff logs stalls and waits for backoff, which it then doubles up to
// maxBackoff; it reports whether ctx is still alive.
func (c *Consumer) backOff(ctx context.Context, name string, stalls []stall, backoff *time.Duration) bool {
	for _, s := range stalls {
		c.logStall(name, s, *backoff)
	}
	if !follow.Sleep(ctx, *backoff) {
		return false
	}
	*backoff = min(2**backoff, maxBackoff)
	return true
}

// byPartitions splits batch by partition, in the order of their first
// messages.
func byPartitions(batch []fetched) ([]int, map[int][]fetched) {
	var order []int
	byPartition := map[int][]fetched{}
	for _, f := range batch {
		p := f.msg.Partition
		if _, ok := byPartition[p]; !ok {
			order = append(order, p)
		}
		byPartition[p] = append(byPartition[p], f)
	}
	return order, byPartition
}

// deliveriesOf returns the deliveries of the partitions order, each up to
// its first undecodable message, which is not ours to skip.
func deliveriesOf(order []int, byPartition map[int][]fetched) []projections.Delivery {
	deliveries := make([]projections.Delivery, 0, len(order))
	for _, p := range order {
		d := projections.Delivery{Partition: p}
		for _, f := range byPartition[p] {
			if f.err != nil {
				break
			}
			d.Events = append(d.Events, f.rec)
		}
		deliveries = append(deliveries, d)
	}
	return deliveries
}

// settle reports to report what the projection name is done with of the
// deliveries of the partitions order, keeps in byPartition what it is not
// done with (but messages of an older generation of the group), and returns
// the stalls of the partitions left.
func (c *Consumer) settle(gens *generations, name string, order []int, byPartition map[int][]fetched, deliveries []projections.Delivery, done []int, err error, report func(string, []doneOffset)) []stall {
	var committed []doneOffset
	var stalls []stall
	for i, p := range order {
		msgs := byPartition[p]
		n := max(min(done[i], len(deliveries[i].Events)), 0)
		if n > 0 {
			committed = append(committed, doneOf(msgs[n-1]))
		}
		rest := gens.fresh(msgs[n:])
		byPartition[p] = rest
		if len(rest) == 0 {
			continue
		}
		why := err
		switch {
		case n == len(deliveries[i].Events) && rest[0].err != nil:
			why = rest[0].err
		case why == nil:
			why = fmt.Errorf("delivered %d of %d events", n, len(deliveries[i].Events))
		}
		stalls = append(stalls, stall{rest[0], why})
	}
	if len(committed) > 0 {
		report(name, committed)
	}
	return stalls
}

// stalledPartitions returns the partitions of stalls.
func stalledPartitions(stalls []stall) []int {
	out := make([]int, len(stalls))
	for i, s := range stalls {
		out[i] = s.first.msg.Partition
	}
	return out
}

// observe tells Observe of a delivery of the messages of the partitions
// order, started at start.
func (c *Consumer) observe(name string, order []int, byPartition map[int][]fetched, done []int, start, end time.Time) {
	if c.Observe == nil {
		return
	}
	d := Delivered{Projection: name, Start: start, End: end}
	for i, p := range order {
		for _, f := range byPartition[p] {
			if f.err == nil {
				d.Positions = append(d.Positions, f.rec.Position)
				d.FetchedAt = append(d.FetchedAt, f.at)
			}
		}
		d.Done += done[i]
	}
	c.Observe(d)
}

// stall is the first message of a partition that is not done, and why.
type stall struct {
	first fetched
	err   error
}

// commitLoop commits the offsets of the messages done that come on commits
// until commits is closed, at most once per interval: those that come
// meanwhile go in one request. A commit that fails is logged and not
// retried: the next one covers it, and messages delivered again after a
// rebalance or a crash are skipped as redelivered. Committing off the
// delivery path keeps the broker's round trip out of the latency of the
// next messages; committing once per interval, not once per batch, spares
// the broker two requests per batch (kafka-go's Client looks the group
// coordinator up before every commit) at the price of delivering again, after
// a crash, what was done in the last interval. What is pending is committed
// at once when its generation stops fetching (ended) and when commits closes.
// Of what comes within an interval it keeps only the highest offset of each
// partition in each generation, the one a commit sends: what is pending is
// bounded by the partitions, not by the rate.
func (c *Consumer) commitLoop(commits <-chan []doneOffset, ended <-chan struct{}, interval time.Duration, commit func([]doneOffset) error) {
	type genPartition struct {
		gen       member
		partition int
	}
	var (
		pending = map[genPartition]int64{}
		due     <-chan time.Time
		last    time.Time
	)
	flush := func() {
		if len(pending) == 0 {
			return
		}
		last, due = time.Now(), nil
		done := make([]doneOffset, 0, len(pending))
		for k, o := range pending {
			done = append(done, doneOffset{gen: k.gen, partition: k.partition, offset: o})
		}
		slices.SortFunc(done, func(a, b doneOffset) int {
			return cmp.Or(cmp.Compare(a.partition, b.partition), cmp.Compare(a.gen.gen, b.gen.gen), strings.Compare(a.gen.id, b.gen.id))
		})
		if err := commit(done); err != nil {
			c.logger().Warn("projection consumer: commit failed", "projection", c.label(), "error", err)
		}
		clear(pending)
	}
	for {
		select {
		case m, ok := <-commits:
			if !ok {
				flush()
				return
			}
			for _, d := range m {
				k := genPartition{d.gen, d.partition}
				if o, ok := pending[k]; !ok || d.offset > o {
					pending[k] = d.offset
				}
			}
			if due == nil {
				due = time.After(max(0, interval-time.Since(last)))
			}
		case <-due:
			flush()
		case <-ended:
			flush()
		}
	}
}

// generations follows the generations of the group a consumer is a member
// of, so that the offsets of messages are committed in the generation they
// were fetched in, and refused by the coordinator once it is over. kafka-go
// sends every commit under its current generation, and a commit made while a
// rebalance is in progress waits in its queue for the next one: the
// commit of messages fetched before the rebalance gave their partition to
// another member, which may have committed further since, would move the
// offset backwards (segmentio/kafka-go#1308; the stale messages of #1398).
type generations struct {
	mu      sync.Mutex
	current member // the generation messages are fetched in, if any
	// ended, if not nil, is signalled when a generation stops fetching, so
	// that what is done in it is committed before the coordinator refuses it.
	ended chan struct{}
}

// member is a member of the group in one generation.
type member struct {
	id  string
	gen int32
}

// start records that messages are fetched in generation m from now on.
func (g *generations) start(m member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.current = m
}

// end records that generation m stopped fetching: messages fetched in it are
// no longer delivered again (see fresh).
func (g *generations) end(m member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current == m {
		g.current = member{}
	}
	select {
	case g.ended <- struct{}{}:
	default:
	}
}

// now returns the generation messages fetched now belong to.
func (g *generations) now() member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.current
}

// fresh returns the messages of msgs fetched in the current generation.
func (g *generations) fresh(msgs []fetched) []fetched {
	now := g.now()
	out := msgs[:0:0]
	for _, m := range msgs {
		if m.gen == now {
			out = append(out, m)
		}
	}
	return out
}

// commit commits the offsets of msgs, each in the generation it was
// fetched in: the coordinator refuses those of a generation that is over
// (ILLEGAL_GENERATION), and their messages are delivered again, and skipped
// as redelivered, by whoever holds their partition now.
func (c *Consumer) commit(client *kafka.Client, done []doneOffset) error {
	offsets := map[member]map[int]int64{}
	for _, m := range done {
		if m.gen.id == "" {
			continue
		}
		if offsets[m.gen] == nil {
			offsets[m.gen] = map[int]int64{}
		}
		if o, ok := offsets[m.gen][m.partition]; !ok || m.offset+1 > o {
			offsets[m.gen][m.partition] = m.offset + 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var errs []error
	for gen, byPartition := range offsets {
		var commits []kafka.OffsetCommit
		for p, o := range byPartition {
			commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: o})
		}
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: c.group(), GenerationID: int(gen.gen), MemberID: gen.id,
			Topics: map[string][]kafka.OffsetCommit{c.Topic: commits}})
		for _, p := range respTopic(resp, c.Topic) {
			if err == nil {
				err = p.Error
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("generation %d: %w", gen.gen, err))
		}
	}
	return errors.Join(errs...)
}

func respTopic(resp *kafka.OffsetCommitResponse, topic string) []kafka.OffsetCommitPartition {
	if resp == nil {
		return nil
	}
	return resp.Topics[topic]
}

func (c *Consumer) logStall(name string, s stall, retryIn time.Duration) {
	attrs := []any{"projection", name, "partition", s.first.msg.Partition, "offset", s.first.msg.Offset}
	if gap, ok := errors.AsType[*projections.GapError](s.err); ok {
		attrs = append(attrs, "stream", gap.Stream, "version", gap.Got, "want_version", gap.Want, "position", gap.Position.String())
	} else if ae, ok := errors.AsType[*projections.ApplyError](s.err); ok {
		attrs = append(attrs, "stream", ae.Stream, "version", ae.Version, "position", ae.Position.String(), "type", ae.Type)
	} else if s.first.err == nil {
		attrs = append(attrs, "stream", s.first.rec.StreamID, "version", s.first.rec.Version, "position", s.first.rec.Position.String())
	}
	c.logger().Error("projection stalled", append(attrs, "error", s.err, "retry_in", retryIn)...)
}

func (c *Consumer) group() string {
	switch {
	case c.Group != "":
		return c.Group
	case len(c.Projections) > 0:
		return SharedGroupID
	}
	return GroupID(c.Projection)
}

// label names the projections fed in the log.
func (c *Consumer) label() string { return strings.Join(c.names(), ",") }

// names returns the projections fed.
func (c *Consumer) names() []string {
	if len(c.Projections) > 0 {
		return c.Projections
	}
	if c.Projection == "" {
		return nil
	}
	return []string{c.Projection}
}

func (c *Consumer) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}
