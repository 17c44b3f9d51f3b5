package main

import (
	"context"
	"flag"
)

// relayCommand is `ticketing relay`: a process that publishes the event
// store's global log to Kafka (KAFKA_BROKERS), and serves only /livez,
// /readyz and /metrics.
type relayCommand struct{}

// Flags attaches none of its own.
func (relayCommand) Flags(*flag.FlagSet, *Config) {}

// Run runs the process until ctx ends.
func (relayCommand) Run(ctx context.Context, s *session) error {
	return runMain(ctx, NewMain("relay", s.Config, roles{Relay: true}, s.Log))
}
