package main

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
)

// Issue 14 (door): the ticket key and the buyer directory of transfers.

// setTicketKey takes TICKETING_TICKET_KEY, at least domain.MinTicketKeyLen
// bytes, or the public development key when it is unset. The key must be
// the same in every engine process: a random one would make each process
// refuse the others' codes.
func setTicketKey(c *Config, v string) error {
	if v == "" {
		c.TicketKey, c.DevTicketKey = []byte(domain.DevTicketKey), true
		return nil
	}
	if len(v) < domain.MinTicketKeyLen {
		return domain.ErrTicketKeyTooShort
	}
	c.TicketKey = []byte(v)
	return nil
}

// ticketCodes returns the codes of c's key (checked by setTicketKey).
func ticketCodes(c Config) *domain.TicketCodes {
	if len(c.TicketKey) == 0 {
		return commands.DevTicketCodes() // a Config not from LoadConfig
	}
	codes, err := domain.NewTicketCodes(c.TicketKey)
	if err != nil {
		panic("ticket key not checked by setTicketKey: " + err.Error())
	}
	return codes
}

// buyers finds the buyers among the users.
type buyers struct{ users commands.Users }

var _ commands.Buyers = buyers{}

// BuyerByEmail implements commands.Buyers.
func (b buyers) BuyerByEmail(ctx context.Context, email string) (uuid.UUID, error) {
	u, err := b.users.ByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return uuid.Nil, err
	}
	if u.Role != domain.RoleBuyer {
		return uuid.Nil, commands.ErrUserNotFound
	}
	return u.ID, nil
}
