package paysig_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/paysig"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"payment_intent.succeeded"}`)
	current, old, wrong := []byte("whsec_current_current_current_32b"), []byte("whsec_old_old_old_old_old_old_32b"), []byte("whsec_wrong_wrong_wrong_wrong_32")
	good := paysig.Sign(now, body, current)
	for _, tc := range []struct {
		name    string
		header  string
		body    []byte
		secrets [][]byte
		want    error // nil, or the failure
	}{
		{"good", good, body, [][]byte{current}, nil},
		{"a second accepted secret (rotation on the receiver)", good, body, [][]byte{old, current}, nil},
		{"signed with both secrets (rotation on the sender)", paysig.Sign(now, body, old, current), body, [][]byte{current}, nil},
		{"signed with the old secret only, still accepted", paysig.Sign(now, body, old), body, [][]byte{current, old}, nil},
		{"old secret retired", paysig.Sign(now, body, old), body, [][]byte{current}, paysig.ErrMismatch},
		{"wrong secret", paysig.Sign(now, body, wrong), body, [][]byte{current}, paysig.ErrMismatch},
		{"body altered", good, []byte(`{"type":"payment_intent.succeeded" }`), [][]byte{current}, paysig.ErrMismatch},
		{"timestamp six minutes old", paysig.Sign(now.Add(-6*time.Minute), body, current), body, [][]byte{current}, paysig.ErrTimestamp},
		{"timestamp six minutes ahead", paysig.Sign(now.Add(6*time.Minute), body, current), body, [][]byte{current}, paysig.ErrTimestamp},
		{"timestamp four minutes old", paysig.Sign(now.Add(-4*time.Minute), body, current), body, [][]byte{current}, nil},
		{"timestamp altered", strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, [][]byte{current}, paysig.ErrMismatch},
		{"upper-case hex", good[:16] + strings.ToUpper(good[16:]), body, [][]byte{current}, nil},
		{"other schemes ignored", good + ",v0=abc", body, [][]byte{current}, nil},
		{"missing", "", body, [][]byte{current}, paysig.ErrMalformed},
		{"no timestamp", good[strings.Index(good, ",")+1:], body, [][]byte{current}, paysig.ErrMalformed},
		{"no signature", "t=1800000000", body, [][]byte{current}, paysig.ErrMalformed},
		{"two timestamps", good + ",t=1800000000", body, [][]byte{current}, paysig.ErrMalformed},
		{"timestamp not a number", "t=soon," + good[13:], body, [][]byte{current}, paysig.ErrMalformed},
		{"negative timestamp", "t=-1," + good[13:], body, [][]byte{current}, paysig.ErrMalformed},
		{"short signature", "t=1800000000,v1=abcd", body, [][]byte{current}, paysig.ErrMalformed},
		{"no equals sign", "t=1800000000,v1", body, [][]byte{current}, paysig.ErrMalformed},
		{"too long", good + strings.Repeat(",x=y", 600), body, [][]byte{current}, paysig.ErrMalformed},
		{"too many signatures", "t=1800000000" + strings.Repeat(",v1="+strings.Repeat("0", 64), 9), body, [][]byte{current}, paysig.ErrMalformed},
		{"no accepted secret", good, body, nil, paysig.ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := paysig.Verify(tc.header, tc.body, tc.secrets, now, paysig.DefaultTolerance)
			if err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && !errors.Is(err, paysig.ErrInvalid) {
				t.Fatalf("%v is not ErrInvalid", err)
			}
		})
	}
}

// Compute is Stripe's scheme: the hex HMAC-SHA256 of "<t>.<body>", as
// `printf '%s' "1800000000.{}" | openssl dgst -sha256 -hmac secret` gives.
func TestCompute_KnownAnswer(t *testing.T) {
	t.Parallel()
	got := paysig.Compute([]byte("secret"), 1800000000, []byte("{}"))
	const want = "bb7079132825ac793cea8c013c1dd24d926b9b02132245b10588d9e5c0df70d7"
	if got != want {
		t.Fatalf("Compute = %s, want %s", got, want)
	}
}
