// Package paysig signs and verifies payment-provider webhooks the way
// Stripe signs its events: a header
//
//	Ticketing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// with one v1 per secret the sender signs with (so that a secret can be
// rotated), checked in constant time against every secret the receiver
// accepts, and a timestamp no further than a tolerance from the receiver's
// clock, against replays. It is its own package, standard library only, so
// that the simulated provider signs and the write API verifies with the
// same code.
package paysig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header is the HTTP header that carries the signature.
const Header = "Ticketing-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock, either way: Stripe's five minutes.
const DefaultTolerance = 5 * time.Minute

// maxHeader bounds the header Verify parses, and maxSignatures the v1
// values it tries.
const (
	maxHeader     = 2048
	maxSignatures = 8
)

// Verification errors. Each matches ErrInvalid with errors.Is.
var (
	// ErrInvalid is the class of every verification failure.
	ErrInvalid = errors.New("invalid webhook signature")
	// ErrMalformed: the header is missing, too long or not t=...,v1=....
	ErrMalformed = &sigError{"the signature header is missing or malformed"}
	// ErrTimestamp: the timestamp is outside the tolerance.
	ErrTimestamp = &sigError{"the signature's timestamp is outside the tolerance"}
	// ErrMismatch: no v1 matches the body under any accepted secret.
	ErrMismatch = &sigError{"no signature matches the body"}
)

type sigError struct{ msg string }

func (e *sigError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *sigError) Is(target error) bool { return target == ErrInvalid }

// Compute returns the hex HMAC-SHA256 of "<t>.<body>" under secret.
func Compute(secret []byte, t int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the header value for body at time at, with one v1 per
// secret, in order.
func Sign(at time.Time, body []byte, secrets ...[]byte) string {
	t := at.Unix()
	var b strings.Builder
	b.WriteString("t=" + strconv.FormatInt(t, 10))
	for _, s := range secrets {
		b.WriteString(",v1=" + Compute(s, t, body))
	}
	return b.String()
}

// Verify checks header against body: its timestamp within tolerance of now
// and at least one of its v1 signatures made with one of secrets. Elements
// of other schemes (v0, ...) are ignored, as Stripe's libraries do. It
// returns ErrMalformed, ErrTimestamp or ErrMismatch, each an ErrInvalid.
func Verify(header string, body []byte, secrets [][]byte, now time.Time, tolerance time.Duration) error {
	t, sigs, ok := parse(header)
	if !ok {
		return ErrMalformed
	}
	at := time.Unix(t, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	match := false
	for _, secret := range secrets {
		want := []byte(Compute(secret, t, body))
		for _, sig := range sigs {
			// Every pair is compared, so the time taken does not tell which
			// secret or signature matched.
			if hmac.Equal(want, []byte(sig)) {
				match = true
			}
		}
	}
	if !match {
		return ErrMismatch
	}
	return nil
}

// parse splits a header into its timestamp and v1 signatures.
func parse(header string) (t int64, sigs []string, ok bool) {
	if header == "" || len(header) > maxHeader {
		return 0, nil, false
	}
	seenT := false
	for _, part := range strings.Split(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return 0, nil, false
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || seenT || n <= 0 {
				return 0, nil, false
			}
			t, seenT = n, true
		case "v1":
			if len(v) != 2*sha256.Size || len(sigs) >= maxSignatures {
				return 0, nil, false
			}
			sigs = append(sigs, strings.ToLower(v))
		}
	}
	return t, sigs, seenT && len(sigs) > 0
}
