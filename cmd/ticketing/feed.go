package main

import (
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/follow"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
)

// sharedFeed returns one in-process tail of the PostgreSQL store's log for
// the followers of a process (issue 17: feed): the projections, the hot
// views and the webhook fanout each followed the log and decoded every
// event on their own. Each event is read and decoded once, taken from
// written when this process appended it. It returns nil for other stores:
// their followers follow them directly.
func sharedFeed(store eventStore, registry *domain.Registry, written *projections.Written) *follow.Shared {
	if _, ok := store.(*postgres.Store); !ok {
		return nil
	}
	return &follow.Shared{Source: store, Decode: func(rec domain.RecordedEvent) (domain.Event, error) {
		return written.Decode(registry, rec)
	}}
}

// useSharedFeed has the in-process followers of e follow feed.
func (e *engine) useSharedFeed(feed *follow.Shared) {
	if feed == nil {
		return
	}
	e.runner.Feed = feed
	e.webhooks.fanout.Feed = feed
	if e.hot != nil {
		e.hot.Feed = feed
	}
}
