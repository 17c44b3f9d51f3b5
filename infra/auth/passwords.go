package auth

import (
	"errors"
	"fmt"

	"github.com/alexedwards/argon2id"

	"github.com/ticketing/ticketing/commands"
)

// owaspParams are the argon2id parameters of new hashes: OWASP's
// recommended minimum (Password Storage Cheat Sheet) of 19 MiB of memory,
// 2 iterations and 1 degree of parallelism, with a 16-byte salt and a
// 32-byte key.
var owaspParams = argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Bounds on the parameters Verify accepts from a stored hash. Outside them
// the hash is treated as malformed: a zero iteration count or parallelism
// would make argon2 panic, an empty key would match every password, and a
// huge memory cost would let one bad row exhaust the process's memory.
const (
	maxVerifyMemory = 1024 * 1024 // KiB: 1 GiB
	maxVerifyTime   = 64
	minVerifySalt   = 8
	minVerifyKey    = 16
)

// ErrMalformedHash means a password hash cannot be decoded, or its
// parameters are out of bounds.
var ErrMalformedHash = errors.New("malformed password hash")

var _ commands.PasswordHasher = (*Passwords)(nil)

// Passwords hashes passwords with argon2id, the Password Hashing
// Competition winner and OWASP's first choice.
//
// It uses github.com/alexedwards/argon2id rather than calling
// golang.org/x/crypto/argon2 directly because that package gives only the
// raw key: the library adds random salts, the standard PHC string
// ($argon2id$v=19$m=...,t=...,p=...$salt$key) that carries the parameters
// so that they can be raised later without breaking old hashes, and a
// constant-time comparison. Those are the parts that are easy to get
// subtly wrong by hand.
type Passwords struct {
	params argon2id.Params
}

// NewPasswords returns a hasher that uses OWASP's recommended argon2id
// parameters: m=19456 KiB, t=2, p=1, a 16-byte salt and a 32-byte key.
func NewPasswords() *Passwords {
	return &Passwords{params: owaspParams}
}

// Hash returns the argon2id PHC string of password with a fresh random
// salt.
func (p *Passwords) Hash(password string) (string, error) {
	params := p.params
	h, err := argon2id.CreateHash(password, &params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// Verify reports whether password matches hash, in constant time. It
// fails with ErrMalformedHash when hash is not an argon2id PHC string with
// sane parameters. The parameters recorded in hash are used, so hashes
// made with older parameters still verify.
func (p *Passwords) Verify(password, hash string) (bool, error) {
	params, salt, key, err := argon2id.DecodeHash(hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w: %w", ErrMalformedHash, err)
	}
	if params.Iterations < 1 || params.Iterations > maxVerifyTime ||
		params.Parallelism < 1 ||
		params.Memory < 8*uint32(params.Parallelism) || params.Memory > maxVerifyMemory ||
		len(salt) < minVerifySalt || len(key) < minVerifyKey {
		return false, fmt.Errorf("verify password: %w: parameters out of bounds (m=%d,t=%d,p=%d, %d-byte salt, %d-byte key)",
			ErrMalformedHash, params.Memory, params.Iterations, params.Parallelism, len(salt), len(key))
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w: %w", ErrMalformedHash, err)
	}
	return ok, nil
}
