package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/writeapi"
)

var (
	secret      = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	epoch       = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

const ttl = 15 * time.Minute

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTokens(t *testing.T, key []byte, now func() time.Time) *auth.Tokens {
	t.Helper()
	tok, err := auth.NewTokens(key, ttl, now)
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tok
}

// validClaims are the claims Issue would write for actor at epoch.
func validClaims(actor domain.Actor) jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  actor.UserID.String(),
		"role": string(actor.Role),
		"iss":  "ticketing",
		"aud":  "ticketing",
		"iat":  epoch.Unix(),
		"exp":  epoch.Add(ttl).Unix(),
	}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func b64(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestNewTokens(t *testing.T) {
	t.Parallel()
	t.Run("short secret", func(t *testing.T) {
		t.Parallel()
		_, err := auth.NewTokens(secret[:31], ttl, nil)
		if !errors.Is(err, auth.ErrWeakSecret) {
			t.Errorf("got %v, want ErrWeakSecret", err)
		}
	})
	t.Run("non-positive ttl", func(t *testing.T) {
		t.Parallel()
		if _, err := auth.NewTokens(secret, 0, nil); err == nil {
			t.Error("got nil error, want one")
		}
	})
	t.Run("secret is copied", func(t *testing.T) {
		t.Parallel()
		key := append([]byte(nil), secret...)
		tok := newTokens(t, key, fixed(epoch))
		actor := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		s, _, err := tok.Issue(actor)
		if err != nil {
			t.Fatal(err)
		}
		key[0] ^= 0xff
		if _, err := tok.Authenticate(context.Background(), s); err != nil {
			t.Errorf("Authenticate after caller changed its slice: %v", err)
		}
	})
}

func TestTokens_Issue(t *testing.T) {
	t.Parallel()
	tok := newTokens(t, secret, fixed(epoch.Add(300*time.Millisecond)))
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		_, got, err := tok.Issue(domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer})
		if err != nil {
			t.Fatal(err)
		}
		if want := epoch.Add(ttl); !got.Equal(want) {
			t.Errorf("expiresAt = %v, want %v (exp claim precision)", got, want)
		}
	})
	t.Run("claims", func(t *testing.T) {
		t.Parallel()
		actor := domain.Actor{UserID: uuid.New(), Role: domain.RoleOrganizer}
		s, _, err := tok.Issue(actor)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(s, ".")
		var header, payload map[string]any
		for i, v := range []*map[string]any{&header, &payload} {
			b, err := base64.RawURLEncoding.DecodeString(parts[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := header["alg"], "HS256"; got != want {
			t.Errorf("alg = %v, want %v", got, want)
		}
		want := map[string]any{
			"sub":  actor.UserID.String(),
			"role": "organizer",
			"iss":  "ticketing",
			"iat":  float64(epoch.Unix()),
			"exp":  float64(epoch.Add(ttl).Unix()),
		}
		for k, w := range want {
			if got := payload[k]; got != w {
				t.Errorf("%s = %v, want %v", k, got, w)
			}
		}
		if got, ok := payload["aud"].([]any); !ok || len(got) != 1 || got[0] != "ticketing" {
			t.Errorf("aud = %v, want [ticketing]", payload["aud"])
		}
	})
	t.Run("invalid actor", func(t *testing.T) {
		t.Parallel()
		for name, a := range map[string]domain.Actor{
			"unknown role": {UserID: uuid.New(), Role: "root"},
			"empty role":   {UserID: uuid.New()},
			"nil user id":  {Role: domain.RoleBuyer},
		} {
			if _, _, err := tok.Issue(a); err == nil {
				t.Errorf("%s: got nil error, want one", name)
			}
		}
	})
}

func TestTokens_Authenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := newTokens(t, secret, fixed(epoch))
	actor := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	valid, _, err := tok.Issue(actor)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		for _, role := range []domain.Role{domain.RoleBuyer, domain.RoleOrganizer, domain.RoleAdmin} {
			want := domain.Actor{UserID: uuid.New(), Role: role}
			s, _, err := tok.Issue(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tok.Authenticate(ctx, s)
			if err != nil {
				t.Fatalf("%s: %v", role, err)
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}
	})
	t.Run("valid until expiry within leeway", func(t *testing.T) {
		t.Parallel()
		late := newTokens(t, secret, fixed(epoch.Add(ttl+auth.Leeway-time.Second)))
		got, err := late.Authenticate(ctx, valid)
		if err != nil {
			t.Fatal(err)
		}
		if got != actor {
			t.Errorf("got %+v, want %+v", got, actor)
		}
	})
	t.Run("hand-made valid token", func(t *testing.T) {
		// Sanity check for the cases below: validClaims signed with HS256
		// and the right secret pass, so each rejection is due to the one
		// thing that case changes.
		t.Parallel()
		got, err := tok.Authenticate(ctx, sign(t, jwt.SigningMethodHS256, secret, validClaims(actor)))
		if err != nil {
			t.Fatal(err)
		}
		if got != actor {
			t.Errorf("got %+v, want %+v", got, actor)
		}
	})

	without := func(k string) jwt.MapClaims {
		c := validClaims(actor)
		delete(c, k)
		return c
	}
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims(actor)
		c[k] = v
		return c
	}
	swapHeader := func(alg string) string {
		return b64(t, map[string]string{"alg": alg, "typ": "JWT"}) + "." + parts[1] + "." + parts[2]
	}
	hs512 := sign(t, jwt.SigningMethodHS512, secret, validClaims(actor))
	forgedPayload := func() string {
		c := validClaims(actor)
		c["role"] = "admin"
		return parts[0] + "." + b64(t, c) + "." + parts[2]
	}
	flippedSig := func() string {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[0] ^= 1
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	cases := []struct {
		name  string
		token string
		tok   *auth.Tokens // nil: tok
		cause error        // the reason that must be wrapped
	}{
		{"expired", valid, newTokens(t, secret, fixed(epoch.Add(ttl+auth.Leeway+time.Second))), jwt.ErrTokenExpired},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, otherSecret, validClaims(actor)), nil, jwt.ErrTokenSignatureInvalid},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(actor)), nil, jwt.ErrTokenSignatureInvalid},
		{"alg none header on a valid token", swapHeader("none"), nil, jwt.ErrTokenSignatureInvalid},
		{"HS512 with the right secret", hs512, nil, jwt.ErrTokenSignatureInvalid},
		{"RS256 header swap", swapHeader("RS256"), nil, jwt.ErrTokenSignatureInvalid},
		{"HS512 header swap", swapHeader("HS512"), nil, jwt.ErrTokenSignatureInvalid},
		{"tampered payload", forgedPayload(), nil, jwt.ErrTokenSignatureInvalid},
		{"tampered signature", flippedSig(), nil, jwt.ErrTokenSignatureInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", nil, jwt.ErrTokenSignatureInvalid},
		{"missing exp", sign(t, jwt.SigningMethodHS256, secret, without("exp")), nil, jwt.ErrTokenRequiredClaimMissing},
		{"missing iat", sign(t, jwt.SigningMethodHS256, secret, without("iat")), nil, jwt.ErrTokenRequiredClaimMissing},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, secret, with("iat", epoch.Add(time.Minute).Unix())), nil, jwt.ErrTokenUsedBeforeIssued},
		{"missing iss", sign(t, jwt.SigningMethodHS256, secret, without("iss")), nil, jwt.ErrTokenRequiredClaimMissing},
		{"wrong iss", sign(t, jwt.SigningMethodHS256, secret, with("iss", "evil")), nil, jwt.ErrTokenInvalidIssuer},
		{"missing aud", sign(t, jwt.SigningMethodHS256, secret, without("aud")), nil, jwt.ErrTokenRequiredClaimMissing},
		{"wrong aud", sign(t, jwt.SigningMethodHS256, secret, with("aud", "billing")), nil, jwt.ErrTokenInvalidAudience},
		{"unknown role", sign(t, jwt.SigningMethodHS256, secret, with("role", "root")), nil, jwt.ErrTokenInvalidClaims},
		{"missing role", sign(t, jwt.SigningMethodHS256, secret, without("role")), nil, jwt.ErrTokenInvalidClaims},
		{"missing sub", sign(t, jwt.SigningMethodHS256, secret, without("sub")), nil, jwt.ErrTokenInvalidSubject},
		{"sub not a uuid", sign(t, jwt.SigningMethodHS256, secret, with("sub", "alice")), nil, jwt.ErrTokenInvalidSubject},
		{"nil uuid sub", sign(t, jwt.SigningMethodHS256, secret, with("sub", uuid.Nil.String())), nil, jwt.ErrTokenInvalidSubject},
		{"empty", "", nil, jwt.ErrTokenMalformed},
		{"garbage", "not a token", nil, jwt.ErrTokenMalformed},
		{"three garbage parts", "a.b.c", nil, jwt.ErrTokenMalformed},
		{"bearer prefix left on", "Bearer " + valid, nil, jwt.ErrTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := tc.tok
			if a == nil {
				a = tok
			}
			got, err := a.Authenticate(ctx, tc.token)
			if !errors.Is(err, writeapi.ErrUnauthenticated) {
				t.Fatalf("got (%+v, %v), want ErrUnauthenticated", got, err)
			}
			if !errors.Is(err, tc.cause) {
				t.Errorf("got %v, want it to wrap %v", err, tc.cause)
			}
			if got != (domain.Actor{}) {
				t.Errorf("got actor %+v, want zero", got)
			}
		})
	}
}

// A token Authenticate verified and remembered still expires.
func TestTokens_RememberedTokenExpires(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := epoch
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tok := newTokens(t, secret, clock)
	actor := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
	s, _, err := tok.Issue(actor)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // verified, then remembered
		if got, err := tok.Authenticate(context.Background(), s); err != nil || got != actor {
			t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, actor)
		}
	}
	mu.Lock()
	now = epoch.Add(ttl + auth.Leeway + time.Second)
	mu.Unlock()
	for range 2 {
		if _, err := tok.Authenticate(context.Background(), s); !errors.Is(err, jwt.ErrTokenExpired) || !errors.Is(err, writeapi.ErrUnauthenticated) {
			t.Fatalf("Authenticate after expiry = %v, want ErrTokenExpired", err)
		}
	}
}
