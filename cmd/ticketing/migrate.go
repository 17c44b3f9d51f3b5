package main

import (
	"context"
	"flag"
)

// migrateCommand is `ticketing migrate`: it creates the database if it is
// missing and applies the migrations.
type migrateCommand struct{}

// Flags attaches none: --database-url is every command's.
func (migrateCommand) Flags(*flag.FlagSet, *Config) {}

// Run migrates.
func (migrateCommand) Run(ctx context.Context, s *session) error {
	if _, err := s.Pool(ctx); err != nil {
		return err
	}
	s.Log.Info("migrations applied")
	return nil
}
