// Package dockerrun starts a server in Docker for the tests that want a
// real one where no address is configured (esdbtest, kafkatest).
package dockerrun

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// Pool returns a pool on the local Docker engine, or an error when no
// engine answers.
func Pool() (*dockertest.Pool, error) {
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.Ping()
	}
	return pool, err
}

// Start starts a server with start on the local Docker engine and returns
// its address; where it cannot, it returns why not: noEngine when no engine
// answers, failed followed by start's error when start fails.
func Start(noEngine, failed string, start func(*dockertest.Pool) (string, error)) (addr, why string) {
	pool, err := Pool()
	if err != nil {
		return "", noEngine
	}
	if addr, err = start(pool); err != nil {
		return "", failed + err.Error()
	}
	return addr, ""
}

// Run starts the container of a server (what names it in errors) that
// opts(addr) describes with its port (such as
// "2113/tcp") published at addr, a free loopback address, and waits up to
// two minutes until ready(ctx, addr) succeeds, each try within five
// seconds. The container is removed when it stops, and at the latest
// after ten minutes, so that a crashed test run leaves nothing behind for
// long; one that never gets ready is purged. Run returns addr.
func Run(pool *dockertest.Pool, what, port string, opts func(addr string) *dockertest.RunOptions, ready func(ctx context.Context, addr string) error) (string, error) {
	hostPort, err := freePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(hostPort)
	o := opts(addr)
	o.ExposedPorts = []string{port}
	o.PortBindings = map[dc.Port][]dc.PortBinding{dc.Port(port): {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}
	res, err := pool.RunWithOptions(o, func(hc *dc.HostConfig) { hc.AutoRemove = true })
	if err != nil {
		return "", err
	}
	_ = res.Expire(600)
	pool.MaxWait = 2 * time.Minute
	err = pool.Retry(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return ready(ctx, addr)
	})
	if err != nil {
		_ = pool.Purge(res)
		return "", fmt.Errorf("%s did not answer: %w", what, err)
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
