package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	tkafka "github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/kafka/kafkatest"
	"github.com/ticketing/ticketing/projections"
)

// heldBackMany is heldBack for the shared path: it fails one projection
// while hold is set, alone or in DeliverMany, and counts how the
// projections were delivered to.
type heldBackMany struct {
	*projections.Runner
	projection string
	hold       atomic.Bool
	// alone counts the deliveries to the held projection on its own;
	// together, the DeliverMany calls with every projection; without, those
	// without the held one.
	alone, together, without atomic.Int32
	all                      int
}

func (d *heldBackMany) Deliver(ctx context.Context, projection string, deliveries []projections.Delivery) ([]int, error) {
	if projection == d.projection {
		d.alone.Add(1)
		if d.hold.Load() {
			return make([]int, len(deliveries)), errors.New("held back by the test")
		}
	}
	return d.Runner.Deliver(ctx, projection, deliveries)
}

func (d *heldBackMany) DeliverMany(ctx context.Context, names []string, deliveries []projections.Delivery) ([][]int, []error) {
	i := slices.Index(names, d.projection)
	switch {
	case i < 0:
		d.without.Add(1)
	case len(names) == d.all:
		d.together.Add(1)
	}
	if i < 0 || !d.hold.Load() {
		return d.Runner.DeliverMany(ctx, names, deliveries)
	}
	done, errs := d.Runner.DeliverMany(ctx, slices.Delete(slices.Clone(names), i, i+1), deliveries)
	done = slices.Insert(done, i, make([]int, len(deliveries)))
	errs = slices.Insert(errs, i, error(errors.New("held back by the test")))
	return done, errs
}

// With a Deliverer that applies a batch to several projections at once,
// the projections ready for a batch get it in one call (one transaction).
// One that stalls leaves that path: it is delivered to on its own, with its
// backoff, while the others go on together, and nothing is committed until
// it is done too. Once it caught up, it is delivered to with the others
// again.
func TestConsumer_SharedDeliveryStall(t *testing.T) {
	t.Parallel()
	onBroker(t, func(t *testing.T, b *broker) {
		p := newPipeline(t, b, 4)
		d := &heldBackMany{Runner: p.runner, projection: projections.NameSales, all: len(projectionNames())}
		p.deliverer = d
		p.startRelay()
		group := tkafka.SharedGroupID + p.groupSuffix
		c := p.consumer("")
		c.Projections, c.Group = projectionNames(), group
		run(t, c.Run)
		s := p.shop
		shows := []uuid.UUID{s.openShow("A"), s.openShow("B")}
		p.waitApplied(s.last, 30*time.Second)
		if d.together.Load() == 0 {
			t.Fatal("no batch was delivered to every projection at once")
		}
		p.waitGroupCommitted(group)

		d.hold.Store(true)
		held := s.last
		applied := func(name string) domain.Position {
			for _, st := range p.runner.Status() {
				if st.Name == name {
					return st.Position
				}
			}
			return domain.Start
		}
		// The others apply each sale, together, while the held one is
		// retried on its own: a sale after the first is applied too, which
		// it would not be if the first stall held the shared delivery.
		for i := range 3 {
			mark := s.last
			sell(s, shows[i%2:], 1, 0)
			eventually(t, 30*time.Second, func() string { return fmt.Sprintf("the others to apply sale %d", i+1) }, func() bool {
				for _, name := range projectionNames() {
					if name != projections.NameSales && !mark.Less(applied(name)) {
						return false
					}
				}
				return true
			})
		}
		if at := applied(projections.NameSales); held.Less(at) {
			t.Fatalf("the sales projection applied the log up to %v while held back at %v", at, held)
		}
		if d.without.Load() == 0 {
			t.Fatal("held: no delivery to the others without it")
		}
		eventually(t, 30*time.Second, func() string { return "the held projection to be retried on its own" }, func() bool { return d.alone.Load() > 0 })
		committed := kafkatest.Committed(t, p.cfg, group)
		time.Sleep(300 * time.Millisecond) // a commit would have been sent by now
		if now := kafkatest.Committed(t, p.cfg, group); !slices.Equal(now, committed) {
			t.Fatalf("offsets committed from %v to %v while the sales projection was held back", committed, now)
		}

		d.hold.Store(false)
		p.waitApplied(s.last, 30*time.Second)
		together := d.together.Load()
		sell(s, shows, 4, 20*time.Millisecond)
		p.waitApplied(s.last, 30*time.Second)
		if d.together.Load() == together {
			t.Error("the sales projection was not delivered to with the others again once it caught up")
		}
		sameReadModels(t, dump(t, p.models.DB()), rebuild(t, s))
		p.waitGroupCommitted(group)
		p.noGaps()
		auditShop(t, s)
	})
}
