package esdbtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ory/dockertest/v3"

	"github.com/ticketing/ticketing/internal/dockerrun"
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
	var addr string
	addr, why = dockerrun.Start("no real EventStoreDB: ESDB_URL is unset and no Docker engine answers",
		"no real EventStoreDB: starting "+Image+" in Docker failed: ", startReal)
	if addr != "" {
		realURL = "esdb://" + addr + "?tls=false"
	}
}

// startReal runs a single insecure in-memory node on a free host port and
// waits until it says it is live.
func startReal(pool *dockertest.Pool) (string, error) {
	repo, tag, _ := strings.Cut(Image, ":")
	return dockerrun.Run(pool, "server", "2113/tcp", func(string) *dockertest.RunOptions {
		return &dockertest.RunOptions{
			Repository: repo, Tag: tag,
			Env: []string{
				"EVENTSTORE_INSECURE=true",
				"EVENTSTORE_RUN_PROJECTIONS=None",
				"EVENTSTORE_MEM_DB=true",
				"EVENTSTORE_CLUSTER_SIZE=1",
			},
		}
	}, func(ctx context.Context, addr string) error {
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
}
