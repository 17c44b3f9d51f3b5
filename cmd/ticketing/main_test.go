package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// freshDatabaseURL names a database that does not exist yet, and drops it
// when the test ends.
func freshDatabaseURL(t *testing.T) string {
	t.Helper()
	base := pgtest.BaseURL(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	name := "ticketing_run_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "drop database if exists "+name+" with (force)")
	})
	return strings.Replace(base, "/"+cfg.Database+"?", "/"+name+"?", 1)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The binary's own entry point: migrate creates and migrates a database that
// does not exist; serve answers until its context ends, then stops cleanly.
func TestRun(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}
	db := freshDatabaseURL(t)
	if err := run(context.Background(), []string{"migrate", "--database-url", db}, env{}.get, log, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ops := freeAddr(t)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--ops-addr", ops, "--database-url", db}, env{}.get, log, nil)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for url, want := range map[string]int{"http://" + ops + "/metrics": 200, "http://" + addr + "/metrics": 404, "http://" + ops + "/livez": 200} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", url, res.StatusCode, want)
		}
	}
	res, err := http.Post("http://"+addr+"/v1/users", "application/json", strings.NewReader(`{"email":"a@b.co","password":"long enough pw","role":"buyer"}`))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("sign-up through serve: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestRun_BadConfig(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), []string{"serve"}, env{"HOLD_TTL": "soon"}.get, log, nil); err == nil || !strings.Contains(err.Error(), "HOLD_TTL") {
		t.Fatalf("err = %v, want a HOLD_TTL error", err)
	}
	if err := run(context.Background(), []string{"nope"}, env{}.get, log, nil); err != errUsage {
		t.Fatalf("unknown command: err = %v", err)
	}
}

func TestParseRoles(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]roles{
		"all":                allRoles,
		"write,expirer":      {Write: true, Expirer: true},
		"read":               {Read: true},
		" relay, projectors": {Relay: true, Projectors: true},
	} {
		got, err := parseRoles(in)
		if err != nil || got != want {
			t.Errorf("parseRoles(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := parseRoles("write,api"); err == nil {
		t.Error("an unknown role was accepted")
	}
}

// A process with the read role only serves no write route, and the other
// way round.
func TestServe_Roles(t *testing.T) {
	t.Parallel()
	db := pgtest.SchemaURL(t)
	for _, c := range []struct {
		r                   roles
		wantRead, wantWrite int
	}{{roles{Read: true}, 200, 404}, {roles{Write: true}, 404, 401}} {
		cfg, err := LoadConfig(testEnv(db, time.Minute).get)
		if err != nil {
			t.Fatal(err)
		}
		m := NewMain("serve", cfg, c.r, quiet)
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"GET /v1/shows": c.wantRead, "POST /v1/orders": c.wantWrite} {
			method, p, _ := strings.Cut(path, " ")
			req, _ := http.NewRequest(method, m.URL()+p, strings.NewReader("{}"))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != want && !(want == 404 && res.StatusCode == 405) {
				t.Errorf("roles %+v: %s = %d, want %d", c.r, path, res.StatusCode, want)
			}
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestLoadConfig_HTTP(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env{}.get)
	if err != nil || c.OpsAddr != DefaultOpsAddr || c.HTTP.MaxConns != 0 {
		t.Fatalf("defaults: ops %q, max conns %d, %v; want %q and the default", c.OpsAddr, c.HTTP.MaxConns, err, DefaultOpsAddr)
	}
	c, err = LoadConfig(env{"TICKETING_OPS_ADDR": "127.0.0.1:9999", "TICKETING_MAX_CONNS": "12"}.get)
	if err != nil || c.OpsAddr != "127.0.0.1:9999" || c.HTTP.MaxConns != 12 {
		t.Fatalf("from the environment: ops %q, max conns %d, %v", c.OpsAddr, c.HTTP.MaxConns, err)
	}
	m := NewMain("serve", c, allRoles, quiet)
	if _ = m.ParseFlags([]string{"--ops-addr", ":9191"}); m.Config.OpsAddr != ":9191" {
		t.Fatalf("--ops-addr: got %q", m.Config.OpsAddr)
	}
	if got := c.HTTP.withDefaults(); got.MaxConns != 12 || got.MaxHeaderBytes != DefaultMaxHeaderBytes || got.WriteTimeout != DefaultWriteTimeout {
		t.Fatalf("withDefaults: got %+v", got)
	}
	for _, bad := range []string{"0", "-3", "many"} {
		if _, err := LoadConfig(env{"TICKETING_MAX_CONNS": bad}.get); err == nil || !strings.Contains(err.Error(), "TICKETING_MAX_CONNS") {
			t.Errorf("TICKETING_MAX_CONNS=%s: got %v, want an error naming it", bad, err)
		}
	}
}
