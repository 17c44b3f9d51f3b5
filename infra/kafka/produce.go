package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
)

// defaultWriteTimeout bounds a produce request of a writer without
// WriteTimeout, as kafka-go's Writer does.
const defaultWriteTimeout = 10 * time.Second

// errNoAnswer is the failure of a partition a produce response does not
// name.
var errNoAnswer = errors.New("the broker's produce response does not name the partition")

// producer writes a relay's messages with one produce request per partition
// leader, holding every partition that leader leads: on a single broker one
// request per write, where kafka-go's Writer sends one per partition (12
// for the default topic), each a round trip and a request for the broker
// to serve. It sends
// through the writer's transport, with the writer's acks, compression and
// timeout, and routes by the transport's cached metadata, which it rereads
// every MetadataTTL (see NewWriter).
//
// Each partition gets one record batch per write, in the messages' order,
// so a write leaves no hole inside a partition: a partition's batch is
// stored whole or refused whole.
type producer struct {
	client      *kafka.Client
	topic       string
	acks        kafka.RequiredAcks
	compression kafka.Compression
	timeout     time.Duration
	stats       *ProduceStats
}

// ProduceStats counts the relay's produce requests.
type ProduceStats struct {
	// Requests and Messages count the produce requests sent and the
	// messages they held; Nanos sums the requests' times and MaxNanos is
	// the longest.
	Requests, Messages, Nanos, MaxNanos atomic.Int64
}

func (s *ProduceStats) observe(msgs int, took time.Duration) {
	if s == nil {
		return
	}
	s.Requests.Add(1)
	s.Messages.Add(int64(msgs))
	s.Nanos.Add(int64(took))
	for {
		m := s.MaxNanos.Load()
		if int64(took) <= m || s.MaxNanos.CompareAndSwap(m, int64(took)) {
			return
		}
	}
}

// newProducer returns the producer of w's settings for topic.
func newProducer(w *kafka.Writer, topic string, stats *ProduceStats) *producer {
	timeout := w.WriteTimeout
	if timeout <= 0 {
		timeout = defaultWriteTimeout
	}
	return &producer{client: &kafka.Client{Addr: w.Addr, Transport: w.Transport}, topic: topic,
		acks: w.RequiredAcks, compression: w.Compression, timeout: timeout, stats: stats}
}

// write writes msgs, the message i to partition parts[i]. It returns nil
// when every message was acknowledged, a kafka.WriteErrors of len(msgs)
// naming the failure of each message that was not (nil for those that
// were), or another error when none was sent.
func (p *producer) write(ctx context.Context, msgs []kafka.Message, parts []int) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	md, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return err
	}
	leaders, err := leadersOf(md, p.topic)
	if err != nil {
		return err
	}
	errs := make(kafka.WriteErrors, len(msgs))
	byLeader := map[int]map[int][]int{} // leader → partition → message indexes
	for i, part := range parts {
		leader, ok := leaders[part]
		if !ok {
			errs[i] = fmt.Errorf("partition %d: %w", part, kafka.LeaderNotAvailable)
			continue
		}
		if byLeader[leader] == nil {
			byLeader[leader] = map[int][]int{}
		}
		byLeader[leader][part] = append(byLeader[leader][part], i)
	}
	var wg sync.WaitGroup
	for _, byPart := range byLeader {
		wg.Go(func() { p.send(ctx, msgs, byPart, errs) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return errs
		}
	}
	return nil
}

// leadersOf returns the leader's broker id of each partition of topic that
// has one.
func leadersOf(md *kafka.MetadataResponse, topic string) (map[int]int, error) {
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, t.Error
		}
		leaders := make(map[int]int, len(t.Partitions))
		for _, pt := range t.Partitions {
			if pt.Error == nil && pt.Leader.Host != "" {
				leaders[pt.ID] = pt.Leader.ID
			}
		}
		return leaders, nil
	}
	return nil, kafka.UnknownTopicOrPartition
}

// send writes the messages byPart holds, by partition, all led by one
// broker, in one produce request, and sets the failure of each message not
// acknowledged in errs.
func (p *producer) send(ctx context.Context, msgs []kafka.Message, byPart map[int][]int, errs kafka.WriteErrors) {
	topic := produceAPI.RequestTopic{Topic: p.topic}
	n := 0
	for part, idx := range byPart {
		records := make([]kafka.Record, len(idx))
		for j, i := range idx {
			m := &msgs[i]
			records[j] = kafka.Record{Time: m.Time, Key: kafka.NewBytes(m.Key), Value: kafka.NewBytes(m.Value), Headers: m.Headers}
		}
		n += len(idx)
		topic.Partitions = append(topic.Partitions, produceAPI.RequestPartition{Partition: int32(part),
			RecordSet: protocol.RecordSet{Attributes: protocol.Attributes(p.compression) & 0x7, Records: protocol.NewRecordReader(records...)}})
	}
	timeout := p.timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	req := &produceAPI.Request{Acks: int16(p.acks), Timeout: int32(max(timeout.Milliseconds(), 1)), Topics: []produceAPI.RequestTopic{topic}}
	start := time.Now()
	resp, err := p.transport().RoundTrip(ctx, p.client.Addr, req)
	p.stats.observe(n, time.Since(start))
	answered := map[int]error{}
	if err == nil {
		res, ok := resp.(*produceAPI.Response)
		if !ok {
			err = fmt.Errorf("kafka: produce answered with %T", resp)
		} else {
			answered = partitionErrors(res, p.topic)
		}
	}
	for part, idx := range byPart {
		perr, ok := answered[part]
		switch {
		case err != nil:
			perr = err
		case !ok:
			perr = fmt.Errorf("partition %d: %w", part, errNoAnswer)
		}
		for _, i := range idx {
			errs[i] = perr
		}
	}
}

// partitionErrors returns, for each partition of topic res answers, its
// error (nil when its records were stored).
func partitionErrors(res *produceAPI.Response, topic string) map[int]error {
	out := map[int]error{}
	for _, t := range res.Topics {
		if t.Topic != topic {
			continue
		}
		for _, pt := range t.Partitions {
			var err error
			if pt.ErrorCode != 0 {
				err = kafka.Error(pt.ErrorCode)
				if pt.ErrorMessage != "" {
					err = fmt.Errorf("%w: %s", err, pt.ErrorMessage)
				}
			}
			out[int(pt.Partition)] = err
		}
	}
	return out
}

func (p *producer) transport() kafka.RoundTripper {
	if p.client.Transport == nil {
		return kafka.DefaultTransport
	}
	return p.client.Transport
}
