package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/writeapi"
)

// Accounts tells the current role of an account.
type Accounts interface {
	// Role returns the role of the user with id as it is now, or
	// commands.ErrUserNotFound when there is no such user (any more).
	Role(ctx context.Context, id uuid.UUID) (domain.Role, error)
}

var _ writeapi.Authenticator = (*CurrentRoles)(nil)

// CurrentRoles authenticates tokens with Tokens, then gives a token that
// claims more than a buyer's rights (an organizer's or an admin's) the
// role its account has now: an admin who was demoted or deleted loses the
// rights at once, not when the token expires. A buyer token is trusted as
// it is, so the buyers' hot paths cost no lookup; nothing is cached, so
// the role is exact.
type CurrentRoles struct {
	tokens   writeapi.Authenticator
	accounts Accounts
}

// NewCurrentRoles returns tokens checked against accounts.
func NewCurrentRoles(tokens writeapi.Authenticator, accounts Accounts) *CurrentRoles {
	return &CurrentRoles{tokens: tokens, accounts: accounts}
}

// Authenticate returns the actor of token with its current role. A token
// of a deleted account fails with writeapi.ErrUnauthenticated; a failed
// lookup fails with its own error.
func (c *CurrentRoles) Authenticate(ctx context.Context, token string) (domain.Actor, error) {
	actor, err := c.tokens.Authenticate(ctx, token)
	if err != nil || actor.Role == domain.RoleBuyer {
		return actor, err
	}
	role, err := c.accounts.Role(ctx, actor.UserID)
	if errors.Is(err, commands.ErrUserNotFound) {
		return domain.Actor{}, fmt.Errorf("authenticate: %w: the account no longer exists", writeapi.ErrUnauthenticated)
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: current role: %w", err)
	}
	actor.Role = role
	return actor, nil
}
