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
// X-Min-Position) on three engines, each on its own schema: with no
// endpoints (the baseline), with 10 endpoints whose receiver never
// answers, and with 10 that answer at once. The deliveries must not slow
// the projections. The engines take turns in blocks of 10 operations, so
// that the noise of a shared machine falls on all three alike; it reports
// each one's ms/op and the ratios to the baseline.
func BenchmarkWebhooks_Projections(b *testing.B) {
	// It reads the body, so that the server notices when the client goes.
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	b.Cleanup(hung.Close)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	b.Cleanup(live.Close)
	names := []string{"baseline", "hung", "live"}
	ops := []func(){benchPublishRead(b, ""), benchPublishRead(b, hung.URL), benchPublishRead(b, live.URL)}
	spent := make([]time.Duration, len(ops))
	count := make([]int, len(ops))
	i := 0
	for b.Loop() {
		v := (i / 10) % len(ops)
		start := time.Now()
		ops[v]()
		spent[v] += time.Since(start)
		count[v]++
		i++
	}
	per := make([]float64, len(ops))
	for v := range ops {
		if count[v] > 0 {
			per[v] = float64(spent[v].Microseconds()) / 1000 / float64(count[v])
			b.ReportMetric(per[v], names[v]+"-ms/op")
		}
	}
	if per[0] > 0 {
		b.ReportMetric(per[1]/per[0], "hung/baseline")
		b.ReportMetric(per[2]/per[0], "live/baseline")
	}
}

// benchPublishRead starts an engine with 10 endpoints at receiver (none
// when empty) and returns one operation on it.
func benchPublishRead(b *testing.B, receiver string) func() {
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
	return func() {
		show := call("POST", "/v1/shows", gaShow(10))["id"].(string)
		pos := call("POST", "/v1/shows/"+show+"/publish", nil)["position"].(string)
		call("GET", "/v1/shows/"+show, nil, "X-Min-Position", pos)
	}
}
