package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
	"github.com/ticketing/ticketing/web"
)

// rawConn is a TCP connection to a server, for requests net/http's client
// would refuse to send.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one response, waiting at most within.
func (c *rawConn) response(within time.Duration) (*http.Response, []byte, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(within))
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// problem reads a response that must be a problem+json of status.
func (c *rawConn) problem(status int) *http.Response {
	c.t.Helper()
	res, body, err := c.response(5 * time.Second)
	if err != nil {
		c.t.Fatalf("no response: %v", err)
	}
	if res.StatusCode != status {
		c.t.Fatalf("status = %d, want %d: %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		c.t.Fatalf("content type = %q: %s", ct, body)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		c.t.Fatalf("problem body %s: %v", body, err)
	}
	return res
}

// closed fails unless the server closes the connection within d, answering
// nothing more.
func (c *rawConn) closed(d time.Duration) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	n, err := c.r.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("the connection is still open after %v", d)
	}
	if n > 0 || err == nil {
		c.t.Fatalf("the server answered more on a connection it should have closed")
	}
}

// open fails unless the connection stays open and silent for d.
func (c *rawConn) open(d time.Duration) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	_, err := c.r.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("got %v, want the connection open and silent for %v", err, d)
	}
}

// The engine's listener, over raw TCP: framing and size attacks get a
// problem+json and a closed connection, never a second request.
func TestServe_HTTPFraming(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	before := eventCount(t, s)

	t.Run("Content-Length and Transfer-Encoding together", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		// Read by its Content-Length, the body is "0\r\n\r\n" and the
		// signing up of a smuggled organizer is a second request.
		smuggled := `{"email":"smuggled@example.com","password":"correct horse battery","role":"organizer"}`
		c.send("POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled)
		res := c.problem(http.StatusLengthRequired)
		if !res.Close {
			t.Error("the answer does not close the connection")
		}
		c.closed(2 * time.Second)
	})
	// Requests the server refuses with a problem+json; some also close the
	// connection.
	for _, c := range []struct {
		name, request string
		status        int
		closes        bool
	}{
		{"chunked body", "POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			http.StatusLengthRequired, true},
		{"unknown transfer coding", "POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			http.StatusNotImplemented, true},
		{"two Content-Lengths", "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
			http.StatusBadRequest, true},
		{"malformed request line", "GET /v1/shows HTTP/1.1 extra\r\nHost: x\r\n\r\n", http.StatusBadRequest, false},
		{"headers over MaxHeaderBytes", "GET /v1/shows HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + strings.Repeat("a", 2*DefaultMaxHeaderBytes) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, false},
		{"a body over the limit, by its Content-Length",
			"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(2<<20) + "\r\n\r\n{",
			http.StatusRequestEntityTooLarge, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := dialRaw(t, s.url)
			conn.send(c.request)
			conn.problem(c.status)
			if c.closes {
				conn.closed(2 * time.Second)
			}
		})
	}
	t.Run("a 500 KB X-Request-ID", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		go func() { // the server answers before it has read it all
			_, _ = io.WriteString(c.c, "POST /v1/shows HTTP/1.1\r\nHost: x\r\nX-Request-ID: "+strings.Repeat("a", 500<<10)+"\r\n\r\n")
		}()
		c.problem(http.StatusRequestHeaderFieldsTooLarge)
	})
	t.Run("a header just under the limit is served", func(t *testing.T) {
		t.Parallel()
		r := s.call("GET", "/v1/shows", "", nil, "X-Padding", strings.Repeat("a", DefaultMaxHeaderBytes-1024))
		s.must(200, r)
	})
	t.Run("a non-canonical path is not redirected", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1//shows", "/v1/x/../shows", "/v1/./shows", "//v1/shows"} {
			c := dialRaw(t, s.url)
			c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			if res := c.problem(http.StatusNotFound); res.Header.Get("Location") != "" {
				t.Errorf("%s: redirected to %s", path, res.Header.Get("Location"))
			}
		}
	})
	t.Run("405 names the methods", func(t *testing.T) {
		t.Parallel()
		for path, want := range map[string]string{"/v1/shows": "GET, POST", "/v1/orders": "POST", "/v1/shows/" + strconv.Itoa(1): "GET, PATCH"} {
			c := dialRaw(t, s.url)
			c.send("DELETE " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			if got := c.problem(http.StatusMethodNotAllowed).Header.Get("Allow"); got != want {
				t.Errorf("DELETE %s: Allow %q, want %q", path, got, want)
			}
		}
	})
	t.Run("no metrics on the public listener", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
		c.problem(http.StatusNotFound)
		s.must(200, s.call("GET", "/livez", "", nil))
		s.must(200, s.call("GET", "/readyz", "", nil))
	})
	t.Cleanup(func() {
		if after := eventCount(t, s); after != before {
			t.Errorf("hostile requests wrote %d events", after-before)
		}
		if n := userCount(t, s, "smuggled@example.com"); n != 0 {
			t.Errorf("the smuggled request signed up a user")
		}
	})
}

func userCount(t *testing.T, s *server, email string) int {
	t.Helper()
	var n int
	if err := s.e.pool.QueryRow(context.Background(), "select count(*) from users where lower(email) = lower($1)", email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The server's timeouts and connection limit, with short limits.
func TestServe_HTTPLimits(t *testing.T) {
	t.Parallel()
	limits := httpLimits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond,
		WriteTimeout: 600 * time.Millisecond, IdleTimeout: 500 * time.Millisecond, MaxConns: 2}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.HTTP = limits })

	t.Run("slow headers", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		c.send("GET /v1/shows HTTP/1.1\r\nHost: x\r\n")
		c.closed(3 * time.Second)
	})
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		c.send("POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
		start := time.Now()
		res, body, err := c.response(3 * time.Second)
		if err == nil && res.StatusCode < 400 {
			t.Fatalf("a body never sent was served: %d %s", res.StatusCode, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the server waited %v for the body", d)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.url)
		c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
		if res, _, err := c.response(2 * time.Second); err != nil || res.StatusCode != 200 {
			t.Fatalf("livez: %v %v", res, err)
		}
		c.closed(3 * time.Second)
	})
}

// At most MaxConns connections are served at once; the next waits until one
// closes.
func TestServe_ConnectionLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute, func(c *Config) { c.HTTP = httpLimits{MaxConns: 2} })
	a, b := dialRaw(t, s.url), dialRaw(t, s.url)
	for _, c := range []*rawConn{a, b} {
		c.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
		if res, _, err := c.response(2 * time.Second); err != nil || res.StatusCode != 200 {
			t.Fatalf("livez: %v %v", res, err)
		}
	}
	third := dialRaw(t, s.url)
	third.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
	third.open(500 * time.Millisecond)
	a.c.Close()
	if res, _, err := third.response(3 * time.Second); err != nil || res.StatusCode != 200 {
		t.Fatalf("after a connection closed, the third: %v %v", res, err)
	}
}

// A route that streams lifts its write deadline with web.Stream, through
// the engine's middleware; any other response is cut at WriteTimeout.
func TestServe_StreamDeadline(t *testing.T) {
	t.Parallel()
	limits := httpLimits{WriteTimeout: 300 * time.Millisecond}
	for _, c := range []struct {
		name   string
		stream bool
	}{{"a plain route is cut", false}, {"a stream outlives WriteTimeout", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := middleware(quiet, slog.LevelInfo, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.stream {
					if err := web.Stream(w); err != nil {
						t.Errorf("Stream: %v", err)
					}
				}
				for i := range 6 {
					if _, err := io.WriteString(w, "data: "+strconv.Itoa(i)+"\n\n"); err != nil {
						return
					}
					_ = http.NewResponseController(w).Flush()
					time.Sleep(100 * time.Millisecond)
				}
			}))
			url, stop := serveHTTP(t, h, limits)
			defer stop()
			res, err := http.Get(url + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			complete := err == nil && strings.Contains(string(body), "data: 5")
			if complete != c.stream {
				t.Errorf("complete = %v, want %v (read %q, %v)", complete, c.stream, body, err)
			}
		})
	}
}

// A client's X-Request-ID reaches the events' metadata only when it is a
// short id of safe characters; any other is replaced by one of the
// server's. Either way the response echoes the id the events carry.
func TestServe_RequestID(t *testing.T) {
	t.Parallel()
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)
	org := s.token("organizer")
	for name, c := range map[string]struct {
		sent string
		keep bool
	}{
		"a good id":             {"req-42.retry_1", true},
		"none":                  {"", false},
		"65 characters":         {strings.Repeat("a", web.MaxRequestIDLen+1), false},
		"ten kilobytes":         {strings.Repeat("a", 10<<10), false},
		"JSON in it":            {`x","user_id":"00000000-0000-0000-0000-000000000000`, false},
		"markup":                {"<img src=x>", false},
		"spaces and non-ASCII":  {"a b é", false},
		"a slash and a newline": {"a/b%0A", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var headers []string
			if c.sent != "" {
				headers = []string{"X-Request-ID", c.sent}
			}
			r := s.must(201, s.call("POST", "/v1/shows", org, gaShow(1), headers...))
			echoed := r.header.Get("X-Request-ID")
			if kept := echoed == c.sent; kept != c.keep {
				t.Fatalf("echoed %q for %q: kept = %v, want %v", web.Printable(echoed), web.Printable(c.sent), kept, c.keep)
			}
			if echoed == "" || len(echoed) > web.MaxRequestIDLen {
				t.Fatalf("echoed id %q", web.Printable(echoed))
			}
			var md string
			if err := s.e.pool.QueryRow(context.Background(), "select metadata::text from events where stream_id = $1", "show-"+r.str("id")).Scan(&md); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(md), &m); err != nil {
				t.Fatal(err)
			}
			if m["correlation_id"] != echoed || len(md) > 512 {
				t.Errorf("metadata %s, want correlation_id %q", md, echoed)
			}
		})
	}
	// Errors carry the id too.
	if r := s.call("GET", "/v1/nothing", "", nil, "X-Request-ID", "lost-1"); r.header.Get("X-Request-ID") != "lost-1" {
		t.Errorf("a 404 echoed %q", r.header.Get("X-Request-ID"))
	}
}
