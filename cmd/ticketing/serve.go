package main

import (
	"context"
	"errors"
	"flag"
)

// serveCommand is `ticketing serve`, `relay` and `project`: a Main with
// some roles of the engine, until ctx ends or a listener fails.
type serveCommand struct {
	name  string
	roles roles
}

// Flags attaches serve's --roles.
func (x *serveCommand) Flags(fs *flag.FlagSet, c *Config) {
	if x.name == "serve" {
		fs.StringVar(&c.Roles, "roles", c.Roles, "roles to run: write, read, expirer, relay, projectors, or all (env TICKETING_ROLES)")
	}
}

// Run runs the Main.
func (x *serveCommand) Run(ctx context.Context, s *session) error {
	m := NewMain(x.name, s.Config, x.roles, s.Log)
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
	s.Log.Info("shutting down")
	err := m.Close()
	s.Log.Info("stopped")
	return err
}
