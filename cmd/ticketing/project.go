package main

import (
	"context"
	"flag"

	"github.com/ticketing/ticketing/infra/kafka"
)

// projectCommand is `ticketing project`: a process that runs the
// projectors, from Kafka when KAFKA_BROKERS is set, else from the event
// store, and serves only /livez, /readyz and /metrics.
type projectCommand struct{}

// Flags attaches none of its own.
func (projectCommand) Flags(*flag.FlagSet, *Config) {}

// Run runs the process until ctx ends.
func (projectCommand) Run(ctx context.Context, s *session) error {
	return runMain(ctx, NewMain("project", s.Config, roles{Projectors: true}, s.Log))
}

// projectionConsumer returns the Kafka consumer that feeds every projection
// of e from one consumer group: each message is fetched and decoded once,
// not once per projection, and the broker serves one group's fetches.
func projectionConsumer(e *engine) *kafka.Consumer {
	names := make([]string, len(e.runner.Projectors))
	for i, p := range e.runner.Projectors {
		names[i] = p.Name()
	}
	return &kafka.Consumer{Brokers: e.kafka.Brokers, Topic: e.kafka.Topic, Projections: names, Deliverer: e.runner, Log: e.log,
		Observe: e.kafka.Observe, SharedTransactions: e.kafka.ProjectionTxs, CommitInterval: e.kafka.CommitInterval}
}
