package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
)

// minWebhookSecret is the shortest webhook secret accepted, in bytes.
const minWebhookSecret = 32

// setWebhookSecrets takes TICKETING_WEBHOOK_SECRET: comma-separated
// secrets, the current one first (the simulated provider signs with it),
// the others still accepted during a rotation. Unset, the secret is random
// for this process: only its own simulated provider can sign webhooks.
func setWebhookSecrets(c *Config, v string) error {
	c.WebhookSecrets, c.RandomWebhookSecret = nil, false
	if v == "" {
		secret := make([]byte, minWebhookSecret)
		_, _ = rand.Read(secret)
		c.WebhookSecrets, c.RandomWebhookSecret = [][]byte{secret}, true
		return nil
	}
	for i, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); len(s) < minWebhookSecret {
			return fmt.Errorf("secret %d: want at least %d bytes, got %d", i+1, minWebhookSecret, len(s))
		}
		c.WebhookSecrets = append(c.WebhookSecrets, []byte(s))
	}
	return nil
}

// warnWebhookSecret says when the webhook secret is random.
func warnWebhookSecret(c Config, log *slog.Logger) {
	if c.RandomWebhookSecret {
		log.Warn("TICKETING_WEBHOOK_SECRET is not set: using a random secret; only this process's simulated provider can sign payment webhooks")
	}
}
