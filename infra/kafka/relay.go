package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
)

// Feed delivers the global log. The event store satisfies it.
type Feed interface {
	// Follow calls handle with every event after position after, in log
	// order and in batches, as they are committed, until ctx ends (it then
	// returns ctx.Err()) or handle fails (it then returns that error).
	Follow(ctx context.Context, after domain.Position, handle func(context.Context, []domain.RecordedEvent) error) error
}

// RelayCheckpoints keeps how far a relay published the global log.
type RelayCheckpoints interface {
	// Load returns the position of the last event the relay name published
	// and saved, or domain.Start when it saved none.
	Load(ctx context.Context, name string) (domain.Position, error)
	// Save records the relay's position pos and, per partition, the
	// position of the last event published there, in one transaction:
	// either all of them are recorded or none is. Positions never move
	// back: a position before the recorded one leaves it as it is.
	Save(ctx context.Context, name string, pos domain.Position, partitions map[int]domain.Position) error
}

// Relay states reported by Relay.Status.
const (
	// RelayStarting: the relay has not read its checkpoint yet.
	RelayStarting = "starting"
	// RelayLive: the relay publishes the log without error.
	RelayLive = "live"
	// RelayStalled: the relay failed and retries.
	RelayStalled = "stalled"
)

// Backoff bounds of a relay or consumer that retries.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	// maxPublishBackoff bounds the wait between two writes of a batch
	// Kafka refused. When a broker is lost its partitions get new leaders
	// within seconds (the controller fences it): the relay must find them
	// then, not up to maxBackoff later.
	maxPublishBackoff = time.Second
)

// RelayStatus is how far the relay got and whether it is healthy.
type RelayStatus struct {
	// Position is the position of the last event Kafka acknowledged.
	Position domain.Position
	// State is RelayStarting, RelayLive or RelayStalled.
	State string
	// LastError is the error of the last failure, kept after recovery.
	LastError string
	// Failures counts the failures since the last acknowledged write.
	Failures int
}

// errMisconfigured marks the failures of Relay.Run that retrying cannot
// heal.
var errMisconfigured = errors.New("relay misconfigured")

// Relay publishes the global log to Kafka, at least once and in log order.
// It follows Feed from its checkpoint, writes each batch synchronously and
// only when Kafka acknowledged the whole batch saves the batch's last
// position as its checkpoint, together with the last position it published
// to each partition. A failed write is retried with a growing backoff and
// the checkpoint stays where it is; a failed feed or checkpoint is retried
// from the saved checkpoint. A relay stopped between the store's commit and
// the publication publishes from its checkpoint when it starts again, so an
// event may be published twice, never lost.
type Relay struct {
	// Feed is the global log, usually the event store.
	Feed Feed
	// Checkpoints keeps how far the relay published.
	Checkpoints RelayCheckpoints
	// Writer says where and how to publish: its address, transport, topic,
	// acks, compression and write timeout. It must be synchronous, ask all
	// in-sync replicas to acknowledge and route with KeyBalancer over
	// Partitions partitions: NewWriter makes one. Run checks. The relay
	// sends its own produce requests through the writer's transport, one
	// per partition leader for all the partitions it leads (see producer),
	// not WriteMessages, which sends one per partition.
	Writer *kafka.Writer
	// Topic is the topic of the global log; empty means Writer.Topic.
	Topic string
	// Partitions is the partition count the writer routes over; the topic
	// must have at least that many.
	Partitions int
	// Name is the key of the relay's checkpoint; empty means the topic.
	Name string
	// Log receives failures; nil discards them.
	Log *slog.Logger
	// Acked, if set, is called with the position of the last event of each
	// write Kafka acknowledged, as soon as it did: the benchmarks' hook,
	// which used to poll Position every 100 µs.
	Acked func(domain.Position)
	// Linger is how long the relay waits after a write before it takes the
	// next batch of the log; zero means no wait. The events committed
	// meanwhile go together in the next produce request. A relay that
	// is idle when an event is committed publishes it at once: the wait
	// comes only after a write, so it delays an event only under load,
	// and by at most Linger. It is Kafka's linger.ms (5 ms by default
	// since Kafka 4.0) turned around: the Java producer waits
	// before the first record of a batch, this relay after the last
	// write. See DefaultRelayLinger for why the engine waits.
	Linger time.Duration

	mu     sync.Mutex
	status RelayStatus
	stats  ProduceStats
}

// Run relays the log until ctx ends; it then returns nil. It fails at once
// when the relay is misconfigured, or the topic has fewer partitions than
// Partitions.
func (r *Relay) Run(ctx context.Context) error {
	topic, balancer, err := r.check()
	if err != nil {
		return err
	}
	name := r.Name
	if name == "" {
		name = topic
	}
	r.update(func(s *RelayStatus) { s.State = RelayStarting })
	backoff := minBackoff
	for {
		err := r.follow(ctx, topic, name, balancer, func() { backoff = minBackoff })
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errMisconfigured) {
			return err
		}
		if err == nil {
			err = errors.New("feed ended")
		}
		r.logger().Error("relay stalled", "relay", name, "error", err, "retry_in", backoff)
		r.failed(err)
		if !follow.Sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// Position returns the position of the last event Kafka acknowledged, or
// the checkpoint the relay started from.
func (r *Relay) Position() domain.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status.Position
}

// Stats returns the counts of the relay's produce requests since it
// started: the benchmarks' breakdown.
func (r *Relay) Stats() *ProduceStats { return &r.stats }

// Status returns the relay's position and health.
func (r *Relay) Status() RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	if s.State == "" {
		s.State = RelayStarting
	}
	return s
}

// check validates the configuration and returns the topic and the balancer
// the writer routes with.
func (r *Relay) check() (string, KeyBalancer, error) {
	fail := func(format string, args ...any) (string, KeyBalancer, error) {
		return "", KeyBalancer{}, fmt.Errorf("%w: "+format, append([]any{errMisconfigured}, args...)...)
	}
	if r.Feed == nil || r.Checkpoints == nil || r.Writer == nil {
		return fail("it needs a feed, checkpoints and a writer")
	}
	topic := r.Topic
	switch {
	case topic == "":
		topic = r.Writer.Topic
	case r.Writer.Topic != "" && r.Writer.Topic != topic:
		return fail("topic %q, but the writer writes to %q", topic, r.Writer.Topic)
	}
	if topic == "" {
		return fail("no topic")
	}
	if r.Partitions <= 0 {
		return fail("no partition count")
	}
	if r.Writer.Async || r.Writer.RequiredAcks != kafka.RequireAll {
		return fail("the writer must be synchronous and require all acks (see NewWriter)")
	}
	var b KeyBalancer
	switch wb := r.Writer.Balancer.(type) {
	case KeyBalancer:
		b = wb
	case *KeyBalancer:
		b = *wb
	default:
		return fail("the writer must route with KeyBalancer (see NewWriter), not %T", r.Writer.Balancer)
	}
	if b.Partitions != r.Partitions {
		return fail("the writer routes over %d partitions, the relay over %d", b.Partitions, r.Partitions)
	}
	return topic, b, nil
}

// follow publishes the log from the checkpoint until ctx ends or something
// fails. A failed write does not end it: it is retried in place.
func (r *Relay) follow(ctx context.Context, topic, name string, balancer KeyBalancer, progressed func()) error {
	if err := r.checkTopic(ctx, topic); err != nil {
		return err
	}
	from, err := r.Checkpoints.Load(ctx, name)
	if err != nil {
		return fmt.Errorf("relay %s: load checkpoint: %w", name, err)
	}
	r.update(func(s *RelayStatus) {
		s.Position = from
		if s.State == RelayStarting {
			s.State = RelayLive
		}
	})
	all := make([]int, r.Partitions)
	for i := range all {
		all[i] = i
	}
	maxCount, maxBytes := r.writerLimits()
	saver := &checkpointSaver{cps: r.Checkpoints, name: name, log: r.logger(), wake: make(chan struct{}, 1), parts: map[int]domain.Position{}}
	saved := make(chan struct{})
	go func() { defer close(saved); saver.run(ctx) }()
	defer func() { <-saved; saver.flush() }()
	return r.Feed.Follow(ctx, from, func(ctx context.Context, batch []domain.RecordedEvent) error {
		msgs := make([]kafka.Message, len(batch))
		parts := make([]int, len(batch))
		for i, rec := range batch {
			msgs[i] = Encode(rec)
			if r.Writer.Topic == "" {
				msgs[i].Topic = topic
			}
			// The writer calls the same balancer with the topic's
			// partitions, at least Partitions of them: same answer.
			parts[i] = balancer.Balance(msgs[i], all...)
		}
		for len(batch) > 0 {
			n := chunk(msgs, parts, maxCount, maxBytes)
			if err := r.publish(ctx, name, topic, msgs[:n], parts[:n], batch[:n]); err != nil {
				return err
			}
			last := batch[n-1].Position
			r.update(func(s *RelayStatus) {
				s.Position, s.State, s.Failures = last, RelayLive, 0
			})
			if r.Acked != nil {
				r.Acked(last)
			}
			byPartition := make(map[int]domain.Position)
			for i := range n {
				byPartition[parts[i]] = batch[i].Position
			}
			saver.add(last, byPartition)
			progressed()
			batch, msgs, parts = batch[n:], msgs[n:], parts[n:]
		}
		return linger(ctx, r.Linger)
	})
}

// linger waits d, or until ctx ends; it then returns ctx's error.
func linger(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkTopic fails with errMisconfigured when the topic has fewer than
// Partitions partitions, as the writer sees it.
func (r *Relay) checkTopic(ctx context.Context, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	n, err := partitionCount(ctx, &kafka.Client{Addr: r.Writer.Addr, Transport: r.Writer.Transport}, topic)
	if err != nil {
		return fmt.Errorf("relay: read partitions of %s: %w", topic, err)
	}
	if n < r.Partitions {
		return fmt.Errorf("%w: topic %s has %d partitions, the relay routes over %d", errMisconfigured, topic, n, r.Partitions)
	}
	return nil
}

// publish writes msgs until Kafka acknowledged all of them, with a growing
// backoff between attempts. It fails only when ctx ends.
//
// A retry writes again only the messages that failed. Each write is one
// record batch per partition (see chunk and producer), so those are whole
// partitions' shares, and the partitions that took theirs get nothing
// twice: on a real broker a partition whose leader is moving or not yet
// elected refuses its share while the others take theirs.
func (r *Relay) publish(ctx context.Context, name, topic string, msgs []kafka.Message, parts []int, recs []domain.RecordedEvent) error {
	prod := newProducer(r.Writer, topic, &r.stats)
	backoff := minBackoff
	for {
		err := prod.write(ctx, msgs, parts)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		from, to, n := recs[0].Position, recs[len(recs)-1].Position, len(recs)
		if werr, ok := errors.AsType[kafka.WriteErrors](err); ok && len(werr) == len(msgs) {
			err = summarize(werr)
			msgs, parts, recs = unwritten(werr, msgs, parts, recs)
		}
		r.logger().Error("relay: publish failed", "relay", name,
			"from", from.String(), "to", to.String(), "events", n, "retrying", len(recs),
			"error", err, "retry_in", backoff)
		r.failed(fmt.Errorf("publish %s..%s: %w", from, to, err))
		if !follow.Sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, maxPublishBackoff)
	}
}

// unwritten returns the messages of msgs, their partitions and their
// events, whose write failed by werr, in their order.
func unwritten(werr kafka.WriteErrors, msgs []kafka.Message, parts []int, recs []domain.RecordedEvent) ([]kafka.Message, []int, []domain.RecordedEvent) {
	var m []kafka.Message
	var p []int
	var r []domain.RecordedEvent
	for i, err := range werr {
		if err != nil {
			m, p, r = append(m, msgs[i]), append(p, parts[i]), append(r, recs[i])
		}
	}
	return m, p, r
}

// summarize shortens the error of a write, which repeats the error of each
// message.
func summarize(werr kafka.WriteErrors) error {
	var first error
	failed := 0
	for _, err := range werr {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	return fmt.Errorf("%d of %d messages not written: %w", failed, len(werr), first)
}

// writerLimits returns the most messages and bytes the relay puts in one
// partition's record batch: the writer's BatchSize and BatchBytes.
func (r *Relay) writerLimits() (int, int64) {
	count, bytes := r.Writer.BatchSize, r.Writer.BatchBytes
	if count <= 0 {
		count = 100 // kafka-go's default
	}
	if bytes <= 0 {
		bytes = 1 << 20 // kafka-go's default
	}
	return count, bytes
}

// chunk returns how many of msgs, from the first, to write at once: as many
// as fit in one record batch per partition. A write of several batches to
// one partition could have one refused and the next stored, leaving a hole
// in it, which the retry would fill only after later events of the same
// streams.
func chunk(msgs []kafka.Message, parts []int, maxCount int, maxBytes int64) int {
	count := map[int]int{}
	bytes := map[int]int64{}
	for i, m := range msgs {
		p, size := parts[i], messageSize(m)
		if i > 0 && (count[p]+1 > maxCount || bytes[p]+size > maxBytes) {
			return i
		}
		count[p]++
		bytes[p] += size
	}
	return len(msgs)
}

// messageSize bounds from above the size kafka-go counts for m in a batch.
func messageSize(m kafka.Message) int64 {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 20 + len(h.Key) + len(h.Value)
	}
	return int64(n)
}

func (r *Relay) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Relay) update(fn func(*RelayStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.status)
}

func (r *Relay) failed(err error) {
	r.update(func(s *RelayStatus) {
		s.State, s.LastError = RelayStalled, err.Error()
		s.Failures++
	})
}

// checkpointSaver saves the relay's checkpoint off the publishing path: the
// relay publishes its next batch while the last one's checkpoint is being
// saved. It saves only what Kafka acknowledged; a checkpoint that lags
// behind (the relay stopped before it was saved) means events published
// again, never events lost.
type checkpointSaver struct {
	cps  RelayCheckpoints
	name string
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	pos     domain.Position
	parts   map[int]domain.Position
	pending bool
}

// add records that Kafka acknowledged the log up to pos, with the last
// position published to each partition.
func (c *checkpointSaver) add(pos domain.Position, parts map[int]domain.Position) {
	c.mu.Lock()
	c.pos, c.pending = pos, true
	for p, at := range parts {
		c.parts[p] = at
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run saves what was added until ctx ends, retrying failures.
func (c *checkpointSaver) run(ctx context.Context) {
	backoff := minBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			err := c.save(ctx)
			if err == nil || ctx.Err() != nil {
				backoff = minBackoff
				break
			}
			c.log.Error("relay: save checkpoint failed", "relay", c.name, "error", err, "retry_in", backoff)
			if !follow.Sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// save saves what is pending, if anything.
func (c *checkpointSaver) save(ctx context.Context) error {
	c.mu.Lock()
	if !c.pending {
		c.mu.Unlock()
		return nil
	}
	pos, parts := c.pos, c.parts
	c.parts, c.pending = map[int]domain.Position{}, false
	c.mu.Unlock()
	if err := c.cps.Save(ctx, c.name, pos, parts); err != nil {
		c.mu.Lock()
		if !c.pending {
			c.pos = pos
		}
		for p, at := range parts {
			if _, newer := c.parts[p]; !newer {
				c.parts[p] = at
			}
		}
		c.pending = true
		c.mu.Unlock()
		return fmt.Errorf("save checkpoint %s: %w", pos, err)
	}
	return nil
}

// flush saves what is pending when the relay stops, best effort.
func (c *checkpointSaver) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.save(ctx); err != nil {
		c.log.Warn("relay: checkpoint not saved on stop; its events will be published again", "relay", c.name, "error", err)
	}
}
