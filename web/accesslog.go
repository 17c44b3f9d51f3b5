package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// maxMethodLen bounds the method in a log line: net/http takes any token.
const maxMethodLen = 16

type routeKey struct{}

// routeSlot is where the router, which runs inside AccessLog, leaves the
// template of the route it matched.
type routeSlot struct{ template string }

// SetRoute records the template of the route that serves r (such as
// "/v1/shows/{id}") for AccessLog; the router calls it once it matched.
// Outside AccessLog it does nothing.
func SetRoute(r *http.Request, template string) {
	if s, ok := r.Context().Value(routeKey{}).(*routeSlot); ok {
		s.template = template
	}
}

// AccessLog logs every request at level once it is answered: its method,
// route template (SetRoute's; "unmatched" when no route took it), status,
// duration, response bytes and request id (the X-Request-ID header that
// RequestID, inside it, set on the response). It never logs the path, the
// query or a header: a path holds ids, a query may hold secrets, and the
// Authorization header holds a token.
func AccessLog(log *slog.Logger, level slog.Level, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &routeSlot{}
		rw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), routeKey{}, slot)))
		if !log.Enabled(r.Context(), level) {
			return
		}
		route := slot.template
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		if len(method) > maxMethodLen {
			method = method[:maxMethodLen]
		}
		log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", Printable(method)),
			slog.String("route", route),
			slog.Int("status", rw.statusCode()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", rw.bytes),
			slog.String("request_id", w.Header().Get(RequestIDHeader)))
	})
}

// countingWriter remembers the status and counts the body bytes a handler
// wrote.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *countingWriter) WriteHeader(s int) {
	if w.status == 0 && s >= 200 { // 1xx are interim: the final status follows
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter
// (deadlines, flushing) through countingWriter.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
