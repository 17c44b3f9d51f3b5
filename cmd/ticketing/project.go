package main

import (
	"context"
	"flag"
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
