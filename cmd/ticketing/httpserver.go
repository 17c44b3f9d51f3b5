package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/net/netutil"

	"github.com/ticketing/ticketing/web"
	"github.com/ticketing/ticketing/writeapi"
)

// httpLimits bound what one client can make a server hold: time, header
// bytes and connections. A zero field takes its default.
type httpLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a response, from the end of its request's
	// headers. A streaming route lifts it for itself (web.Stream).
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection waiting for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (net/http allows
	// 4 KiB more).
	MaxHeaderBytes int
	// MaxConns bounds the connections served at once; more wait in the
	// kernel's accept queue.
	MaxConns int
}

// Defaults of httpLimits.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 16 << 10
	DefaultMaxConns          = 10000
)

func (l httpLimits) withDefaults() httpLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// newHTTPServer returns the server of every listener, API and ops alike.
func newHTTPServer(h http.Handler, l httpLimits, log *slog.Logger) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// listen opens a TCP listener on addr serving at most l.MaxConns
// connections at once, whose net/http error answers are problem+json.
func listen(addr string, l httpLimits) (net.Listener, error) {
	l = l.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(problemListener{Listener: ln, maxHeaderBytes: l.MaxHeaderBytes}, l.MaxConns), nil
}

// problemListener gives its connections problemConn's rewriting.
type problemListener struct {
	net.Listener
	maxHeaderBytes int
}

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c, maxHeaderBytes: l.maxHeaderBytes}, nil
}

// problemConn rewrites the error answers net/http writes on the connection
// itself, before any handler runs and with no hook to change them (431 for
// headers over MaxHeaderBytes, 400 for a malformed request, 501 for an
// unknown transfer coding, 505), into problem+json. net/http writes each in
// one Write, as the status line, then exactly cannedHeaders and a text body;
// a response of a handler never starts so (net/http writes Date or
// Content-Length before Content-Type, and Transfer-Encoding after
// Connection), and its body, JSON, escapes CR and LF.
type problemConn struct {
	net.Conn
	maxHeaderBytes int
}

const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *problemConn) Write(b []byte) (int, error) {
	status, reason, ok := cannedError(b)
	if !ok {
		return c.Conn.Write(b)
	}
	var detail string
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		detail = fmt.Sprintf("the request line and headers are larger than %d bytes", c.maxHeaderBytes)
	case http.StatusNotImplemented:
		detail = "unsupported transfer encoding: only chunked is understood"
	default:
		detail = "the request is not valid HTTP/1.1"
		if reason != "" {
			detail += ": " + web.Printable(reason)
		}
	}
	if _, err := c.Conn.Write(problemResponse(status, detail)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// cannedError recognises an error answer net/http wrote itself, returning
// its status and the reason after the status text, if any.
func cannedError(b []byte) (status int, reason string, ok bool) {
	line, rest, found := bytes.Cut(b, []byte("\r\n"))
	if !found || !bytes.HasPrefix(rest, []byte(cannedHeaders[2:])) || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || len(line) < 12 {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	text := string(line[12:])
	_, reason, _ = strings.Cut(text, ": ")
	return status, reason, true
}

// problemResponse is a whole HTTP/1.1 response closing the connection, with
// the problem body the write API's Error writes for a *web.Error of status.
func problemResponse(status int, detail string) []byte {
	rec := &bufferedResponse{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	writeapi.Error(slog.New(slog.DiscardHandler), rec, req, &web.Error{Status: status, Detail: detail})
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	rec.header.Set("Connection", "close")
	rec.header.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	_ = rec.header.Write(&b)
	b.WriteString("\r\n")
	_, _ = rec.body.WriteTo(&b)
	return b.Bytes()
}

// bufferedResponse is a ResponseWriter into memory.
type bufferedResponse struct {
	header http.Header
	body   bytes.Buffer
}

func (r *bufferedResponse) Header() http.Header         { return r.header }
func (r *bufferedResponse) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *bufferedResponse) WriteHeader(int)             {}

// issue 16: ops. middleware is the chain of every listener, outermost
// first: the access log at level (web.AccessLog), the request id
// (web.RequestID, so that the log has it), CORS for the origins allowed
// (web.CORS; none: off), and refuseTransferEncoding, before next.
func middleware(log *slog.Logger, level slog.Level, corsOrigins []string, next http.Handler) http.Handler {
	return web.AccessLog(log, level, web.RequestID(web.CORS(corsOrigins, refuseTransferEncoding(log, next))))
}

// setCORSOrigins reads TICKETING_CORS_ORIGINS: comma-separated origins
// (scheme://host[:port], http or https, no path), or * for any.
func setCORSOrigins(c *Config, v string) error {
	c.CORSOrigins = nil
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := checkOrigin(o); err != nil {
			return err
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if len(c.CORSOrigins) > web.MaxCORSOrigins {
		return fmt.Errorf("at most %d origins, got %d", web.MaxCORSOrigins, len(c.CORSOrigins))
	}
	return nil
}

// checkOrigin refuses what a browser never sends as an Origin.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || len(o) > 253+len("https://:65535") {
		return fmt.Errorf("want origins like https://shop.example or http://localhost:3000, got %q", web.Printable(o))
	}
	return nil
}

// refuseTransferEncoding answers a request that has a Transfer-Encoding
// with a 411 and closes its connection. net/http reads a request with both
// Content-Length and Transfer-Encoding: chunked by the chunks, drops the
// Content-Length, and keeps the connection: a proxy in front that reads
// the Content-Length instead would see another request boundary (request
// smuggling). Nothing can tell such a request from a plain chunked one once
// net/http has parsed it, and no route needs a body of unknown length, so
// every request body must come with a Content-Length (RFC 9112 6.3 lets a
// server require one; it must close the connection after a request with
// both).
func refuseTransferEncoding(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		writeapi.Error(log, w, r, &web.Error{Status: http.StatusLengthRequired,
			Detail: "a request body must be sent with a Content-Length and without Transfer-Encoding"})
	})
}

// routingErrors makes the router answer no route (404) and a method the
// route does not take (405, with Allow) as problem+json, and match only
// canonical paths: gorilla/mux would otherwise redirect /v1//shows or
// /v1/x/../shows to the cleaned path with a bare 301 (which turns a POST
// into a GET); here they are simply not found.
func routingErrors(router *mux.Router, log *slog.Logger) {
	router.SkipClean(true)
	router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeapi.Error(log, w, r, fmt.Errorf("%w: %s", writeapi.ErrNotFound, web.Printable(r.URL.Path)))
	})
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(router, r), ", "))
		writeapi.Error(log, w, r, fmt.Errorf("%w: %s %s", writeapi.ErrMethodNotAllowed, web.Printable(r.Method), web.Printable(r.URL.Path)))
	})
}

// allowedMethods lists the methods of the routes matching the path of r.
func allowedMethods(router *mux.Router, r *http.Request) []string {
	var allow []string
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		methods, err := route.GetMethods()
		if err != nil {
			return nil
		}
		for _, m := range methods {
			probe := *r
			probe.Method = m
			if route.Match(&probe, &mux.RouteMatch{}) && !slices.Contains(allow, m) {
				allow = append(allow, m)
			}
		}
		return nil
	})
	slices.Sort(allow)
	return allow
}
