package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/internal/testhttp"
)

// callFrom is call from another client: its connections come from the
// loopback address ip.
func (s *server) callFrom(ip, method, path string, body any, headers ...string) resp {
	s.t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	defer client.CloseIdleConnections()
	data, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	testhttp.Check(s.t, req, data, res, raw) // issue 16: openapi
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func storedKeys(t *testing.T, s *server, key string) int {
	t.Helper()
	var n int
	if err := s.e.pool.QueryRow(context.Background(), `select count(*) from idempotency_keys where key = $1`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An anonymous Idempotency-Key is the client's own: another client with
// the same key neither replays nor sees the first one's answer.
func TestServe_IdempotencyAnonymousScope(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) { l.passwords = &slowHasher{} }))
	key := uuid.NewString()
	alice := map[string]any{"email": "alice-" + key[:8] + "@example.com", "password": "correct horse battery", "role": "buyer"}
	first := s.must(201, s.callFrom("127.0.0.1", "POST", "/v1/users", alice, "Idempotency-Key", key))
	// The same client's retry replays.
	again := s.must(201, s.callFrom("127.0.0.1", "POST", "/v1/users", alice, "Idempotency-Key", key))
	if !bytes.Equal(first.raw, again.raw) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry of the same client: %d %s", again.status, again.raw)
	}
	// Another client sending the very same request runs it: the email is
	// taken, and it does not get alice's answer.
	other := s.callFrom("127.0.0.2", "POST", "/v1/users", alice, "Idempotency-Key", key)
	if other.status != 409 || other.header.Get("Idempotent-Replayed") != "" || bytes.Contains(other.raw, []byte(first.str("id"))) {
		t.Fatalf("other client got %d %s %v, want its own 409", other.status, other.raw, other.header)
	}
	// With another body it is a new request, not a reuse of alice's key.
	bob := map[string]any{"email": "bob-" + key[:8] + "@example.com", "password": "correct horse battery", "role": "buyer"}
	s.must(201, s.callFrom("127.0.0.3", "POST", "/v1/users", bob, "Idempotency-Key", key))
}

// A sign-in's answer holds a token: it is never stored, under any key.
func TestServe_IdempotencySignInNotStored(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) { l.passwords = &slowHasher{} }))
	email := "carol-" + uuid.NewString()[:8] + "@example.com"
	s.must(201, s.call("POST", "/v1/users", "", map[string]any{"email": email, "password": "correct horse battery", "role": "buyer"}))
	key := uuid.NewString()
	for range 2 {
		r := s.must(200, s.call("POST", "/v1/tokens", "", map[string]any{"email": email, "password": "correct horse battery"}, "Idempotency-Key", key))
		if r.str("token") == "" || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("sign-in: %s %v", r.raw, r.header)
		}
	}
	if n := storedKeys(t, s, key); n != 0 {
		t.Errorf("%d rows stored under the sign-in's key, want none", n)
	}
	var tokens int
	if err := s.e.pool.QueryRow(context.Background(), `select count(*) from idempotency_keys where position('token' in convert_from(coalesce(body, ''), 'UTF8')) > 0`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 0 {
		t.Errorf("%d stored answers hold a token", tokens)
	}
}

// A key expires after the TTL: a retry then runs anew, and the purge
// deletes it.
func TestServe_IdempotencyExpiry(t *testing.T) {
	t.Parallel()
	const ttl = time.Hour
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, withLimits(func(l *limits) { l.IdempotencyTTL = ttl }))
	org, buyer := s.token("organizer"), s.token("buyer")
	show, _ := s.publishedShow(org, 10)
	body := map[string]any{"show_id": show, "items": []any{map[string]any{"section": "floor", "quantity": 1}}}
	key := uuid.NewString()
	first := s.must(201, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key))
	if r := s.must(201, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key)); r.str("id") != first.str("id") {
		t.Fatalf("replay within the TTL placed order %s, want %s", r.str("id"), first.str("id"))
	}
	if _, err := s.e.pool.Exec(context.Background(), `update idempotency_keys set created_at = created_at - interval '61 minutes' where key = $1`, key); err != nil {
		t.Fatal(err)
	}
	later := s.must(201, s.call("POST", "/v1/orders", buyer, body, "Idempotency-Key", key))
	if later.str("id") == first.str("id") || later.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after the TTL the key replayed: %s", later.raw)
	}
	// The purge loop deletes what expired.
	if _, err := s.e.pool.Exec(context.Background(), `update idempotency_keys set created_at = created_at - interval '61 minutes' where key = $1`, key); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		purgeIdempotencyKeys(ctx, postgres.NewIdempotency(s.e.pool, ttl), 10*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for storedKeys(t, s, key) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := storedKeys(t, s, key); n != 0 {
		t.Errorf("expired key still stored after the purge")
	}
}
