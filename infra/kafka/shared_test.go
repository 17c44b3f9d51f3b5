package kafka_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/projections"
)

// heldBack fails every delivery to one projection while hold is set.
type heldBack struct {
	tkafka.Deliverer
	projection string
	hold       atomic.Bool
}

func (d *heldBack) Deliver(ctx context.Context, projection string, deliveries []projections.Delivery) ([]int, error) {
	if projection == d.projection && d.hold.Load() {
		return make([]int, len(deliveries)), errors.New("held back by the test")
	}
	return d.Deliverer.Deliver(ctx, projection, deliveries)
}

// One consumer group feeds every projection: each projection gets every
// event, and an offset is committed only once every projection is done with
// its message, so that one projection held back is not skipped.
func TestConsumer_FeedsSeveralProjections(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		p := newPipeline(t, b, 4)
		d := &heldBack{Deliverer: p.runner, projection: projections.NameSales}
		d.hold.Store(true)
		p.deliverer = d
		p.startRelay()
		group := tkafka.SharedGroupID + p.groupSuffix
		c := p.consumer("")
		c.Projections, c.Group = projectionNames(), group
		run(t, c.Run)
		s := p.shop
		shows := []uuid.UUID{s.openShow("A"), s.openShow("B")}
		sell(s, shows, 10, 0)

		// The other projections apply what the consumer fetched, while the
		// held-back one has its batches waiting.
		applied := func(name string) domain.Position {
			for _, st := range p.runner.Status() {
				if st.Name == name {
					return st.Position
				}
			}
			return domain.Start
		}
		eventually(t, 30*time.Second, func() string { return "the shows projection to apply events" }, func() bool {
			return domain.Start.Less(applied(projections.NameShows))
		})
		if at := applied(projections.NameSales); at != domain.Start {
			t.Fatalf("the sales projection applied the log up to %v while held back", at)
		}
		time.Sleep(300 * time.Millisecond) // a commit would have been sent by now
		for i, off := range kafkatest.Committed(t, p.cfg, group) {
			if off != -1 {
				t.Fatalf("partition %d committed at %d while the sales projection had applied nothing", i, off)
			}
		}

		d.hold.Store(false)
		p.waitApplied(s.last, 30*time.Second)
		sameReadModels(t, dump(t, p.models.DB()), rebuild(t, s))
		p.waitGroupCommitted(group)
		p.noGaps()
		auditShop(t, s)
	})
}
