package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/webhooks"
)

// issue 16: webhooks. Outbound webhooks: the service both APIs serve, and
// the fanout and dispatcher that run with the expirer role (several
// processes may run them: the fanout locks its checkpoint, the dispatcher
// leases its claims). See docs/webhooks.md.

// webhookConfig is the webhooks' part of Config.
type webhookConfig struct {
	// AllowPrivate lets endpoints be on loopback, private and link-local
	// addresses (TICKETING_WEBHOOK_ALLOW_PRIVATE=1).
	AllowPrivate bool
	Backoff      webhooks.Backoff
	Timeout      time.Duration
	Interval     time.Duration
	Workers      int
	PerEndpoint  int
}

// defaultWebhooks is the webhooks' configuration before the variables
// (TICKETING_WEBHOOK_*) change it.
var defaultWebhooks = webhookConfig{Backoff: webhooks.DefaultBackoff, Timeout: 10 * time.Second, Interval: time.Second,
	Workers: 16, PerEndpoint: 4}

func setWebhookAllowPrivate(c *Config, v string) error {
	if v != "0" && v != "1" {
		return fmt.Errorf("want 0 or 1, got %q", v)
	}
	c.Webhooks.AllowPrivate = v == "1"
	return nil
}

// webhookParts are the engine's webhooks.
type webhookParts struct {
	service    *webhooks.Service
	fanout     *webhooks.Fanout
	dispatcher *webhooks.Dispatcher
}

func newWebhooks(c Config, pool *pgxpool.Pool, feed webhooks.Feed, registry *domain.Registry, log *slog.Logger) *webhookParts {
	store := postgres.NewWebhooks(pool)
	guard := &webhooks.Guard{AllowPrivate: c.Webhooks.AllowPrivate}
	if c.Webhooks.AllowPrivate {
		log.Warn("TICKETING_WEBHOOK_ALLOW_PRIVATE=1: webhook endpoints may reach loopback and private addresses")
	}
	d := &webhooks.Dispatcher{Store: store, Guard: guard, Backoff: c.Webhooks.Backoff, Timeout: c.Webhooks.Timeout,
		Interval: c.Webhooks.Interval, Workers: c.Webhooks.Workers, PerEndpoint: c.Webhooks.PerEndpoint, Now: time.Now, Log: log}
	return &webhookParts{
		service: &webhooks.Service{Store: store, Guard: guard, Backoff: c.Webhooks.Backoff, Now: time.Now, NewID: commands.NewID, Wake: d.Wake},
		fanout: &webhooks.Fanout{Feed: feed, Store: store, Registry: registry, Backoff: c.Webhooks.Backoff, Now: time.Now, Log: log,
			Queued: d.Wake, Retry: time.Second},
		dispatcher: d,
	}
}

// run runs the fanout and the dispatcher until ctx ends.
func (w *webhookParts) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.fanout.Run(ctx) })
	wg.Go(func() { _ = w.dispatcher.Run(ctx) })
	wg.Wait()
}
