package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/auth"
	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// issue 16: webhooks. BenchmarkWebhooks_Projections measures a write
// until the read models show it (publish a show, read it back with
// X-Min-Position) with no endpoints (the baseline), with 10 endpoints
// whose receiver never answers, and with 10 that answer at once: the
// deliveries must not slow the projections. Compare ns/op to the
// baseline's of the same run.
func BenchmarkWebhooks_Projections(b *testing.B) {
	// It reads the body, so that the server notices when the client goes.
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	b.Cleanup(hung.Close)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	b.Cleanup(live.Close)
	for _, c := range []struct {
		name string
		url  string
	}{{"baseline", ""}, {"hung-endpoints", hung.URL}, {"live-endpoints", live.URL}} {
		b.Run(c.name, func(b *testing.B) { benchPublishRead(b, c.url) })
	}
}

func benchPublishRead(b *testing.B, receiver string) {
	conf, err := LoadConfig(testEnv(pgtest.SchemaURL(b), time.Minute).get)
	if err != nil {
		b.Fatal(err)
	}
	conf.ShutdownTimeout = 200 * time.Millisecond
	conf.Webhooks.AllowPrivate, conf.Webhooks.Timeout = true, 30*time.Second
	m := NewMain("serve", conf, allRoles, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	id := uuid.New()
	registerUser(b, m.engine.pool, id, domain.RoleOrganizer)
	tokens, _ := auth.NewTokens(testSecret, time.Hour, time.Now)
	org, _, _ := tokens.Issue(domain.Actor{UserID: id, Role: domain.RoleOrganizer})
	call := func(method, path string, body any, header ...string) map[string]any {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, m.URL()+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+org)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out
	}
	if receiver != "" {
		for range 10 {
			call("POST", "/v1/webhooks/endpoints", map[string]any{"url": receiver, "event_types": []string{"show.published"}})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		show := call("POST", "/v1/shows", gaShow(10))["id"].(string)
		pos := call("POST", "/v1/shows/"+show+"/publish", nil)["position"].(string)
		call("GET", "/v1/shows/"+show, nil, "X-Min-Position", pos)
	}
}
