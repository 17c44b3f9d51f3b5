// Command ticketing runs the ticketing engine.
//
//	ticketing serve     write API, read API, projectors and hold expirer in one process
//	ticketing migrate   apply the database migrations and exit
//	ticketing help      the commands and the environment (config.go)
//
// Each command has a type and a file of its own (command.go lists them).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, log, level); err != nil {
		if errors.Is(err, errUsage) {
			if msg := unknownCommand(os.Args[1:]); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
			fmt.Fprint(os.Stderr, usage())
			os.Exit(2)
		}
		log.Error("ticketing failed", "err", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// usage is the help of the binary: its commands and its environment.
func usage() string { return commandsUsage() + "\n" + environmentUsage() }

// run runs the command args name, with the configuration getenv holds,
// logging to log; level, if not nil, takes the configured level.
func run(ctx context.Context, args []string, getenv func(string) string, log *slog.Logger, level *slog.LevelVar) error {
	if len(args) == 0 {
		return errUsage
	}
	if isHelp(args[0]) {
		return help(os.Stdout, args[1:])
	}
	spec, rest, ok := lookup(args)
	if !ok {
		return errUsage
	}
	c, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	if level != nil {
		level.Set(c.LogLevel)
	}
	c.tuneGC()
	return runCommand(ctx, spec, rest, c, log)
}
