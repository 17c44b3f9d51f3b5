package kafka

import (
	"bytes"
	"io"
	"testing"

	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// countedBytes is a record's key or value that counts its Close calls.
type countedBytes struct {
	*bytes.Reader
	closed *int
}

func (b countedBytes) Close() error { *b.closed++; return nil }

// listedRecords hands out recs in order.
type listedRecords struct{ recs []*protocol.Record }

func (l *listedRecords) ReadRecord() (*protocol.Record, error) {
	if len(l.recs) == 0 {
		return nil, io.EOF
	}
	r := l.recs[0]
	l.recs = l.recs[1:]
	return r, nil
}

// readRecords closes every key and value it read, the ones before from
// included: kafka-go returns a response's pages to its pool only once each
// reference to them is closed, and left open every fetch allocated new ones.
func TestReadRecords_ClosesKeysAndValues(t *testing.T) {
	var keys, values int
	var recs []*protocol.Record
	for off := range int64(4) {
		recs = append(recs, &protocol.Record{Offset: off,
			Key:     countedBytes{bytes.NewReader([]byte("stream")), &keys},
			Value:   countedBytes{bytes.NewReader([]byte("not an event")), &values},
			Headers: []protocol.Header{{Key: "h", Value: []byte("v")}}})
	}
	p := fetchAPI.ResponsePartition{Partition: 3, RecordSet: protocol.RecordSet{Records: &listedRecords{recs: recs}}}
	got, err := readRecords("t", p, 1, member{id: "m", gen: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].msg.Offset != 1 || string(got[0].msg.Key) != "stream" || string(got[0].msg.Value) != "not an event" ||
		len(got[0].msg.Headers) != 1 || string(got[0].msg.Headers[0].Value) != "v" {
		t.Fatalf("read %+v, want offsets 1-3 with their keys, values and headers", got)
	}
	if keys != 4 || values != 4 {
		t.Errorf("closed %d keys and %d values of 4 records, want every one", keys, values)
	}
}
