package esdbtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// Image is the EventStoreDB image Real starts where a Docker engine answers.
const Image = "eventstore/eventstore:24.10"

var (
	realOnce sync.Once
	realURL  string
	why      string
)

// Real returns the connection string of a real EventStoreDB server: the one
// ESDB_URL names or, where a Docker engine answers, one it starts with
// ory/dockertest (insecure, in memory, without projections). Otherwise it
// skips the test with one line saying why. A server started here lives until
// the test process exits; tests share it, so each should keep to streams of
// its own (esdb.Options.Namespace).
func Real(t testing.TB) string {
	t.Helper()
	realOnce.Do(findReal)
	if realURL == "" {
		t.Skip(why)
	}
	return realURL
}

func findReal() {
	if env := os.Getenv("ESDB_URL"); env != "" {
		realURL = env
		return
	}
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	if err != nil {
		why = "no real EventStoreDB: ESDB_URL is unset and no Docker engine answers"
		return
	}
	addr, err := startReal(pool)
	if err != nil {
		why = "no real EventStoreDB: starting " + Image + " in Docker failed: " + err.Error()
		return
	}
	realURL = "esdb://" + addr + "?tls=false"
}

// startReal runs a single insecure in-memory node on a free host port and
// waits until it says it is live.
func startReal(pool *dockertest.Pool) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	repo, tag, _ := strings.Cut(Image, ":")
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: repo, Tag: tag,
		Env: []string{
			"EVENTSTORE_INSECURE=true",
			"EVENTSTORE_RUN_PROJECTIONS=None",
			"EVENTSTORE_MEM_DB=true",
			"EVENTSTORE_CLUSTER_SIZE=1",
		},
		ExposedPorts: []string{"2113/tcp"},
		PortBindings: map[dc.Port][]dc.PortBinding{"2113/tcp": {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(port)}}},
	}, func(hc *dc.HostConfig) { hc.AutoRemove = true })
	if err != nil {
		return "", err
	}
	_ = res.Expire(600) // a crashed test run leaves nothing behind for long
	pool.MaxWait = 2 * time.Minute
	err = pool.Retry(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health/live", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		_ = pool.Purge(res)
		return "", fmt.Errorf("server did not answer: %w", err)
	}
	return addr, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
