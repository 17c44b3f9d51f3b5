package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/ticketing/ticketing/infra/auth"
)

func TestPasswords_Hash(t *testing.T) {
	t.Parallel()
	p := auth.NewPasswords()
	t.Run("parameters", func(t *testing.T) {
		t.Parallel()
		h, err := p.Hash("correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(strings.Split(h, "$")[:4], "$"), "$argon2id$v=19$m=19456,t=2,p=1"; got != want {
			t.Errorf("hash prefix = %q, want %q", got, want)
		}
		params, salt, key, err := argon2id.DecodeHash(h)
		if err != nil {
			t.Fatal(err)
		}
		got := [5]uint32{params.Memory, params.Iterations, uint32(params.Parallelism), uint32(len(salt)), uint32(len(key))}
		want := [5]uint32{19456, 2, 1, 16, 32}
		if got != want {
			t.Errorf("m, t, p, salt, key = %v, want %v", got, want)
		}
	})
	t.Run("salted", func(t *testing.T) {
		t.Parallel()
		h1, err := p.Hash("same password")
		if err != nil {
			t.Fatal(err)
		}
		h2, err := p.Hash("same password")
		if err != nil {
			t.Fatal(err)
		}
		if h1 == h2 {
			t.Errorf("two hashes of the same password are equal: %q", h1)
		}
	})
}

func TestPasswords_Verify(t *testing.T) {
	t.Parallel()
	p := auth.NewPasswords()
	const password = "correct horse battery staple"
	h, err := p.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, password, hash string
		want                 bool
	}{
		{"right password", password, h, true},
		{"wrong password", "Correct horse battery staple", h, false},
		{"empty password", "", h, false},
		{"password with a suffix", password + " ", h, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Verify(tc.password, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("hash with other parameters", func(t *testing.T) {
		t.Parallel()
		old, err := argon2id.CreateHash(password, &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Verify(password, old)
		if err != nil {
			t.Fatal(err)
		}
		if !got {
			t.Error("got false, want true")
		}
	})

	parts := strings.Split(h, "$") // "", argon2id, v=19, m=..., salt, key
	withPart := func(i int, v string) string {
		c := append([]string(nil), parts...)
		c[i] = v
		return strings.Join(c, "$")
	}
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", withPart(1, "argon2i")},
		{"other version", withPart(2, "v=16")},
		{"bad parameters", withPart(3, "m=lots")},
		{"bad salt", withPart(4, "!!!")},
		{"bad key", withPart(5, "!!!")},
		{"empty key", withPart(5, "")},
		{"short salt", withPart(4, "c2FsdA")},
		{"zero iterations", withPart(3, "m=19456,t=0,p=1")},
		{"zero parallelism", withPart(3, "m=19456,t=2,p=0")},
		{"huge memory", withPart(3, "m=4294967295,t=2,p=1")},
		{"truncated", h[:len(h)-len(parts[5])-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Verify(password, tc.hash)
			if !errors.Is(err, auth.ErrMalformedHash) {
				t.Errorf("got (%v, %v), want ErrMalformedHash", got, err)
			}
			if got {
				t.Error("got true, want false")
			}
		})
	}
}
