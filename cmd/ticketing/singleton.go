package main

import (
	"context"
	"errors"
	"sync"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/kafka"
	"github.com/ticketing/ticketing/infra/postgres"
)

// issue 15: singleton. The relay of a topic and the expirer (with the
// refund process) are singletons: any process may run their role, but one
// at a time is active, the one that holds the role's lock (see
// postgres.Singleton and docs/singletons.md); the others stand by.

// singleton returns the lock of the role name in the engine's database.
func (e *engine) singleton(name string) *postgres.Singleton {
	return &postgres.Singleton{Pool: e.pool, Name: name, Log: e.log}
}

// runRelay runs the relay while this process holds the topic's lock.
func (e *engine) runRelay(ctx context.Context) {
	lock := e.singleton("relay:" + e.relay.Topic)
	e.relay.Feed = fencedFeed{Feed: e.relay.Feed, lock: lock}
	_ = lock.Run(ctx, func(ctx context.Context) error {
		err := e.relay.Run(ctx)
		if err != nil {
			e.log.Error("relay stopped", "err", err)
		}
		return err
	})
}

// runExpirer runs the expirer and the refund process while this process
// holds the database's expirer lock.
func (e *engine) runExpirer(ctx context.Context) {
	_ = e.singleton("expirer").Run(ctx, func(ctx context.Context) error {
		var wg sync.WaitGroup
		wg.Go(func() { _ = e.expirer.Run(ctx) })
		wg.Go(func() { _ = e.refunder.Run(ctx) }) // issue 14: money
		wg.Wait()
		return nil
	})
}

// errNotActive is the failure of a relay batch whose process no longer
// knows that it holds the relay's lock.
var errNotActive = errors.New("this relay is no longer the active one")

// fencedFeed hands a batch on only while lock is held: a relay that hung
// past its lock's timeout publishes nothing more once it wakes up.
type fencedFeed struct {
	kafka.Feed
	lock *postgres.Singleton
}

func (f fencedFeed) Follow(ctx context.Context, after domain.Position,
	handle func(context.Context, []domain.RecordedEvent) error) error {
	return f.Feed.Follow(ctx, after, func(ctx context.Context, batch []domain.RecordedEvent) error {
		if !f.lock.Held() {
			return errNotActive
		}
		return handle(ctx, batch)
	})
}
