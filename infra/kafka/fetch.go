package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// The consumer's fetching. kafka-go's Reader runs a goroutine and a
// connection per assigned partition and sends one fetch request per
// partition: with 12 partitions at 1,000 events/s every write of the relay
// came back as about 12 fetch answers of one or two messages each, and the
// broker spent most of its time serving them. The consumer instead joins
// the group with kafka-go's ConsumerGroup and, in each generation, sends one
// fetch request per partition leader holding every partition of this
// member that broker leads (as the Java client and franz-go do): on one
// broker one request for all of them, answered with everything that came
// in while it waited.

const (
	// fetchBackoffMin and fetchBackoffMax bound the wait before a failed
	// fetch is sent again; the wait doubles while fetches keep failing.
	fetchBackoffMin = 10 * time.Millisecond
	fetchBackoffMax = time.Second
	// fetchMaxBytes and fetchPartitionMaxBytes cap a fetch's answer and
	// each partition's part of it (the broker returns a record batch larger
	// than the cap whole).
	fetchMaxBytes          = 10 << 20
	fetchPartitionMaxBytes = 1 << 20
	// fetchMetadataTTL is how often the fetcher's transport rereads the
	// cluster's metadata, and so how soon it sends a partition's fetches to
	// its new leader (as the relay's writer, see NewWriter).
	fetchMetadataTTL = time.Second
	// prefetch is how many batches fetched wait for the projections
	// before the fetch loops wait too (see fetcher.run).
	prefetch = 4
	// partitionWatchInterval is how often a member looks for partitions
	// added to the topic; a change starts a rebalance.
	partitionWatchInterval = 5 * time.Second
)

// groupConfig returns the consumer group settings of c.
func (c *Consumer) groupConfig() kafka.ConsumerGroupConfig {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return kafka.ConsumerGroupConfig{
		ID:                     c.group(),
		Brokers:                c.Brokers,
		Topics:                 []string{c.Topic},
		StartOffset:            kafka.FirstOffset,
		SessionTimeout:         or(c.SessionTimeout, DefaultSessionTimeout),
		HeartbeatInterval:      or(c.HeartbeatInterval, DefaultHeartbeatInterval),
		RebalanceTimeout:       or(c.RebalanceTimeout, DefaultRebalanceTimeout),
		JoinGroupBackoff:       joinGroupBackoff,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: partitionWatchInterval,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			c.logger().Warn("kafka-go: "+fmt.Sprintf(format, args...), "projection", c.label())
		}),
	}
}

// fetcher fetches the partitions assigned to a member of the group.
type fetcher struct {
	c        *Consumer
	client   *kafka.Client // with a transport of its own
	maxBatch int
	// readTimeout bounds a fetch; the broker holds an idle one for wait.
	readTimeout, wait time.Duration
	deliver           func(context.Context, []fetched)
}

// consume fetches, in each generation of the group cg, the partitions it
// assigns to this member, and hands what it fetched to deliver, until ctx
// ends. It returns once it stopped fetching; the caller leaves the group
// with cg.Close.
func (c *Consumer) consume(ctx context.Context, cg *kafka.ConsumerGroup, gens *generations, maxBatch int, deliver func(context.Context, []fetched)) {
	tr := &kafka.Transport{ClientID: "ticketing-consumer", MetadataTTL: fetchMetadataTTL}
	defer tr.CloseIdleConnections()
	readTimeout := c.MaxWait
	if readTimeout <= 0 {
		readTimeout = DefaultMaxWait
	}
	f := &fetcher{c: c, client: &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr}, maxBatch: maxBatch,
		readTimeout: readTimeout, wait: min(fetchWait, readTimeout/2), deliver: deliver}
	var fetching sync.WaitGroup
	defer fetching.Wait()
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The group backs off before it joins again.
			c.logger().Warn("projection consumer: joining the group failed", "projection", c.label(), "error", err)
			continue
		}
		m := member{id: gen.MemberID, gen: gen.ID}
		assigned := gen.Assignments[c.Topic]
		fetching.Add(1)
		gen.Start(func(gctx context.Context) {
			fctx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(gctx, cancel)
			gens.start(m)
			f.run(fctx, m, assigned)
			gens.end(m)
			stop()
			cancel()
			fetching.Done()
			// When ctx ends, the generation goes on until the caller has
			// committed what is done and leaves the group: a function
			// that returns ends the generation, and the group would join
			// the next one.
			<-gctx.Done()
		})
	}
}

// fetchResult is what a leader's fetch loop hands back when it stops: the
// next offset of each of its partitions, whether a fetch succeeded, and why
// it stopped.
type fetchResult struct {
	offsets    map[int]int64
	progressed bool
	err        error
}

// run fetches the partitions assigned, from the offsets assigned (the
// committed ones, or FirstOffset), with a fetch loop per partition leader,
// until ctx ends. A loop that fails hands its partitions back; they are
// routed again, by the metadata of the moment, after a backoff.
func (f *fetcher) run(ctx context.Context, m member, assigned []kafka.PartitionAssignment) {
	pending := make(map[int]int64, len(assigned))
	for _, a := range assigned {
		pending[a.ID] = a.Offset
	}
	// The fetch loops hand their answers to one goroutine that delivers
	// them, and fetch on while it waits for the projections: when a slow
	// transaction has the delivery queues full, up to prefetch answers are
	// already here when it ends.
	handoff := make(chan []fetched, prefetch)
	var delivering sync.WaitGroup
	defer delivering.Wait()
	delivering.Go(func() {
		for {
			select {
			case batch := <-handoff:
				f.deliver(ctx, batch)
			case <-ctx.Done():
				return
			}
		}
	})
	results := make(chan fetchResult)
	running := 0
	defer func() {
		for ; running > 0; running-- {
			<-results
		}
	}()
	backoff := fetchBackoffMin
	var retry <-chan time.Time // nil: route the pending partitions now
	for ctx.Err() == nil {
		if len(pending) > 0 && retry == nil {
			byLeader, err := f.route(ctx, pending)
			for _, offsets := range byLeader {
				for p := range offsets {
					delete(pending, p)
				}
				running++
				go func() { results <- f.fetchFrom(ctx, m, offsets, handoff) }()
			}
			if len(pending) > 0 {
				f.logFailure(slices.Sorted(maps.Keys(pending)), err, backoff)
				retry, backoff = time.After(backoff), min(2*backoff, fetchBackoffMax)
			}
		}
		select {
		case r := <-results:
			running--
			maps.Copy(pending, r.offsets)
			if ctx.Err() != nil {
				return
			}
			if r.progressed {
				backoff = fetchBackoffMin
			}
			f.logFailure(slices.Sorted(maps.Keys(r.offsets)), r.err, backoff)
			retry, backoff = time.After(backoff), min(2*backoff, fetchBackoffMax)
		case <-retry:
			retry = nil
		case <-ctx.Done():
		}
	}
}

func (f *fetcher) logFailure(partitions []int, err error, retryIn time.Duration) {
	if err == nil {
		err = errors.New("no leader")
	}
	f.c.logger().Error("projection consumer: fetch failed", "projection", f.c.label(),
		"partitions", partitions, "error", err, "retry_in", retryIn)
}

// route resolves the pending partitions' FirstOffset and LastOffset to
// offsets and groups those that have a leader by leader. The partitions it
// leaves out stay pending.
func (f *fetcher) route(ctx context.Context, pending map[int]int64) (map[int]map[int]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	rerr := f.resolve(ctx, pending)
	md, err := f.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{f.c.Topic}})
	if err != nil {
		return nil, err
	}
	leaders, err := leadersOf(md, f.c.Topic)
	if err != nil {
		return nil, err
	}
	byLeader := map[int]map[int]int64{}
	for p, o := range pending {
		leader, ok := leaders[p]
		if !ok || o < 0 {
			continue
		}
		if byLeader[leader] == nil {
			byLeader[leader] = map[int]int64{}
		}
		byLeader[leader][p] = o
	}
	return byLeader, rerr
}

// resolve replaces the FirstOffset and LastOffset of pending by the
// partitions' offsets.
func (f *fetcher) resolve(ctx context.Context, pending map[int]int64) error {
	var reqs []kafka.OffsetRequest
	for p, o := range pending {
		if o < 0 {
			reqs = append(reqs, kafka.OffsetRequest{Partition: p, Timestamp: o})
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	resp, err := f.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{f.c.Topic: reqs}})
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	var errs []error
	for _, po := range resp.Topics[f.c.Topic] {
		switch {
		case po.Error != nil:
			errs = append(errs, fmt.Errorf("list offsets of partition %d: %w", po.Partition, po.Error))
		case pending[po.Partition] == kafka.FirstOffset:
			pending[po.Partition] = po.FirstOffset
		case pending[po.Partition] == kafka.LastOffset:
			pending[po.Partition] = po.LastOffset
		}
	}
	return errors.Join(errs...)
}

// fetchFrom fetches the partitions of offsets, all led by one broker, from
// their offsets, in one request at a time, hands what each answer held to
// handoff, in batches of at most maxBatch, and advances offsets, until a
// fetch fails or ctx ends.
func (f *fetcher) fetchFrom(ctx context.Context, m member, offsets map[int]int64, handoff chan<- []fetched) fetchResult {
	res := fetchResult{offsets: offsets}
	parts := slices.Sorted(maps.Keys(offsets))
	for ctx.Err() == nil {
		resp, err := f.fetchOnce(ctx, parts, offsets)
		if err != nil {
			res.err = err
			return res
		}
		batch, err := f.records(resp, m, offsets)
		for len(batch) > 0 && ctx.Err() == nil {
			n := min(len(batch), f.maxBatch)
			select {
			case handoff <- batch[:n:n]:
			case <-ctx.Done():
			}
			batch = batch[n:]
		}
		if err != nil {
			res.err = err
			return res
		}
		res.progressed = true
	}
	res.err = ctx.Err()
	return res
}

// fetchOnce sends one fetch request for parts, from offsets.
func (f *fetcher) fetchOnce(ctx context.Context, parts []int, offsets map[int]int64) (*fetchAPI.Response, error) {
	topic := fetchAPI.RequestTopic{Topic: f.c.Topic}
	for _, p := range parts {
		topic.Partitions = append(topic.Partitions, fetchAPI.RequestPartition{Partition: int32(p),
			CurrentLeaderEpoch: -1, FetchOffset: offsets[p], LogStartOffset: -1, PartitionMaxBytes: fetchPartitionMaxBytes})
	}
	req := &fetchAPI.Request{ReplicaID: -1, MaxWaitTime: int32(f.wait.Milliseconds()), MinBytes: 1, MaxBytes: fetchMaxBytes,
		// A full fetch that opens no fetch session (KIP-227).
		SessionID: 0, SessionEpoch: -1, Topics: []fetchAPI.RequestTopic{topic}}
	// The read deadline leaves the broker's answer readTimeout - wait to
	// come back after the broker held the fetch (segmentio/kafka-go#574).
	ctx, cancel := context.WithTimeout(ctx, f.readTimeout)
	defer cancel()
	resp, err := f.client.Transport.RoundTrip(ctx, f.client.Addr, req)
	if err != nil {
		return nil, err
	}
	res, ok := resp.(*fetchAPI.Response)
	if !ok {
		return nil, fmt.Errorf("kafka: fetch answered with %T", resp)
	}
	if res.ErrorCode != 0 {
		return nil, kafka.Error(res.ErrorCode)
	}
	return res, nil
}

// records returns the messages of res, each partition's from its offset in
// offsets, which it advances past them. A partition that failed
// (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...) is named in the
// error; one whose offset is out of range (its messages were deleted) starts
// again from its first offset: what it delivers again is skipped as
// redelivered.
func (f *fetcher) records(res *fetchAPI.Response, m member, offsets map[int]int64) ([]fetched, error) {
	var batch []fetched
	var errs []error
	for _, t := range res.Topics {
		if t.Topic != f.c.Topic {
			continue
		}
		for _, p := range t.Partitions {
			part := int(p.Partition)
			from, ok := offsets[part]
			if !ok {
				continue
			}
			if p.ErrorCode != 0 {
				err := kafka.Error(p.ErrorCode)
				if errors.Is(err, kafka.OffsetOutOfRange) {
					offsets[part] = kafka.FirstOffset
				}
				errs = append(errs, fmt.Errorf("partition %d at offset %d: %w", part, from, err))
				continue
			}
			msgs, err := readRecords(t.Topic, p, from, m)
			if len(msgs) > 0 {
				offsets[part] = msgs[len(msgs)-1].msg.Offset + 1
				batch = append(batch, msgs...)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("partition %d at offset %d: %w", part, from, err))
			}
		}
	}
	return batch, errors.Join(errs...)
}

// release closes the key and the value of a record read, once copied.
// kafka-go reads a response's records into 64 KiB pages of a pool and
// gives each key and value a reference to its pages; a page goes back to
// the pool only when every reference to it is closed. Left open, every
// page was garbage, and each fetch allocated and cleared new ones (in
// make bench-latency's Kafka row, kafka-go's newPage was 5 % of this
// process's CPU profile, before the collector's share).
func release(r *protocol.Record) {
	for _, b := range []protocol.Bytes{r.Key, r.Value} {
		if b != nil {
			b.Close()
		}
	}
}

// readRecords returns the messages of a partition's answer from offset
// from on (a record batch may begin before it), decoded, as fetched in
// generation m.
func readRecords(topic string, p fetchAPI.ResponsePartition, from int64, m member) ([]fetched, error) {
	rs := p.RecordSet.Records
	if rs == nil {
		return nil, nil
	}
	var out []fetched
	for {
		r, err := rs.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if r.Offset < from {
			release(r)
			continue
		}
		msg := kafka.Message{Topic: topic, Partition: int(p.Partition), Offset: r.Offset, HighWaterMark: p.HighWatermark, Time: r.Time}
		if msg.Key, err = protocol.ReadAll(r.Key); err == nil {
			msg.Value, err = protocol.ReadAll(r.Value)
		}
		if err != nil {
			release(r)
			return out, err
		}
		// The record is valid until the next is read: copy its headers.
		for _, h := range r.Headers {
			msg.Headers = append(msg.Headers, kafka.Header{Key: h.Key, Value: bytes.Clone(h.Value)})
		}
		release(r)
		out = append(out, decoded(msg, m))
	}
}
