package main

import (
	"context"
	"errors"
	"flag"
)

// serveCommand is `ticketing serve`: the roles --roles names (all by
// default) in one process.
type serveCommand struct{}

// Flags attaches --roles.
func (serveCommand) Flags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Roles, "roles", c.Roles, "roles to run: write, read, expirer, relay, projectors, or all (env TICKETING_ROLES)")
}

// Run runs the process until ctx ends.
func (serveCommand) Run(ctx context.Context, s *session) error {
	return runMain(ctx, NewMain("serve", s.Config, allRoles, s.Log))
}

// runMain runs m until ctx ends or a listener fails, then closes it.
func runMain(ctx context.Context, m *Main) error {
	if err := m.configure(); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		return err
	}
	select {
	case err := <-m.failed:
		return errors.Join(err, m.Close())
	case <-ctx.Done():
	}
	m.Log.Info("shutting down")
	err := m.Close()
	m.Log.Info("stopped")
	return err
}
