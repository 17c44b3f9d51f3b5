// Package auth holds the authentication adapters: signed access tokens and
// password hashing.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/writeapi"
)

// Token claims and validation settings.
const (
	// Issuer is the iss claim of the tokens, and the only one accepted.
	Issuer = "ticketing"
	// Audience is the aud claim of the tokens, and the only one accepted.
	Audience = "ticketing"
	// Leeway is the clock skew tolerated when checking exp and iat.
	Leeway = 5 * time.Second
	// MinSecretLen is the shortest HMAC secret NewTokens accepts, in bytes:
	// HS256 keys should be at least as long as the hash output.
	MinSecretLen = 32
)

// ErrWeakSecret means the signing secret is shorter than MinSecretLen.
var ErrWeakSecret = errors.New("token secret too short")

var (
	_ writeapi.TokenIssuer   = (*Tokens)(nil)
	_ writeapi.Authenticator = (*Tokens)(nil)
)

// Tokens issues and checks HS256-signed JWT access tokens. The subject is
// the user id; a role claim carries the actor's role.
//
// Authenticate remembers the tokens it verified, until they expire: a
// buyer sends the same token with every request, and under a ticket drop
// parsing and verifying it again was a twentieth of a request's cost. The
// cache is hashicorp/golang-lru's bounded LRU, so that a flood of distinct
// tokens cannot grow it.
type Tokens struct {
	secret   []byte
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	verified *lru.Cache[string, verifiedToken]
}

// verifiedToken is a token Authenticate accepted, and until when it may.
type verifiedToken struct {
	actor domain.Actor
	until time.Time
}

// verifiedTokens bounds the tokens remembered.
const verifiedTokens = 100_000

type claims struct {
	Role domain.Role `json:"role"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens that sign with secret (at least MinSecretLen
// bytes) and issue tokens valid for ttl. now is the clock; nil means
// time.Now.
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("new tokens: %w: %d bytes, want at least %d", ErrWeakSecret, len(secret), MinSecretLen)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("new tokens: ttl must be positive, got %v", ttl)
	}
	if now == nil {
		now = time.Now
	}
	verified, err := lru.New[string, verifiedToken](verifiedTokens)
	if err != nil {
		return nil, fmt.Errorf("new tokens: %w", err)
	}
	t := &Tokens{
		secret:   append([]byte(nil), secret...),
		ttl:      ttl,
		now:      now,
		verified: verified,
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return t, nil
}

// Issue returns a signed token for actor and when it expires. The actor
// needs a user id and a known role.
func (t *Tokens) Issue(actor domain.Actor) (string, time.Time, error) {
	if actor.UserID == uuid.Nil {
		return "", time.Time{}, errors.New("issue token: actor has no user id")
	}
	if !actor.Role.Valid() {
		return "", time.Time{}, fmt.Errorf("issue token: unknown role %q", actor.Role)
	}
	now := t.now()
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	c := claims{
		Role: actor.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   actor.UserID.String(),
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: exp,
			IssuedAt:  jwt.NewNumericDate(now),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	return s, exp.Time, nil
}

// Authenticate returns the actor token was issued to. A malformed, forged,
// expired or otherwise invalid token fails with writeapi.ErrUnauthenticated,
// wrapped together with the reason (one of the jwt.Err* values, when the
// parser found it).
func (t *Tokens) Authenticate(_ context.Context, token string) (domain.Actor, error) {
	if v, ok := t.verified.Get(token); ok {
		if t.now().Before(v.until) {
			return v.actor, nil
		}
		t.verified.Remove(token) // expired: the parser says so below
	}
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		// WithValidMethods already allows only HS256; this guards the key
		// type should that option ever be dropped.
		if _, ok := tok.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
		}
		return t.secret, nil
	})
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w: %w", writeapi.ErrUnauthenticated, err)
	}
	if c.IssuedAt == nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w: %w: iat", writeapi.ErrUnauthenticated, jwt.ErrTokenRequiredClaimMissing)
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil || id == uuid.Nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w: %w: sub %q", writeapi.ErrUnauthenticated, jwt.ErrTokenInvalidSubject, c.Subject)
	}
	if !c.Role.Valid() {
		return domain.Actor{}, fmt.Errorf("authenticate: %w: %w: role %q", writeapi.ErrUnauthenticated, jwt.ErrTokenInvalidClaims, c.Role)
	}
	actor := domain.Actor{UserID: id, Role: c.Role}
	// The parser accepts a token until exp plus the leeway; it checked
	// iat and nbf against a clock that only moves on.
	t.verified.Add(token, verifiedToken{actor: actor, until: c.ExpiresAt.Add(Leeway)})
	return actor, nil
}
