package readapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/web"
)

// WithHot has the API answer GET /v1/shows/{id} and the seat map of
// GET /v1/shows/{id}/seats from the in-memory views h (issue 17: hot
// reads) and serve GET /v1/shows/{id}/live from them (issue 18: live);
// streams is the most live streams one client address may hold (0: no
// limit). It returns a.
func (a *API) WithHot(h *projections.Hot, streams int, live LiveOptions) *API {
	a.hot, a.streams = h, newLiveLimits(streams, live)
	return a
}

// RegisterHot adds to r the two routes that are answered from memory when
// they can: GET /v1/shows/{id} and its seat map. Register adds them too; a
// server may also route them ahead of every other route (issue 17: reads).
func (a *API) RegisterHot(r *mux.Router) {
	r.Handle("/v1/shows/{id}", a.hotRead(hotShowPage, a.route(anyone, readsShow, a.show))).Methods(http.MethodGet)
	r.Handle("/v1/shows/{id}/seats", a.hotRead(hotSeatMap, a.route(anyone, readsShow, a.seats, seatParams))).Methods(http.MethodGet)
}

// hotKind is what a hot read answers: its encoding's cache key.
type hotKind string

const (
	hotShowPage hotKind = "show"
	hotSeatMap  hotKind = "seatmap"
)

// encode encodes v as the read models' route answers it.
func (k hotKind) encode(v *projections.HotView) ([]byte, error) {
	var b []byte
	var err error
	if k == hotShowPage {
		b, err = json.Marshal(showPage{ShowView: v.Show, TicketTypes: v.Rules.PublicTicketTypes()})
	} else {
		b, err = json.Marshal(v.SeatMap)
	}
	return append(b, '\n'), err
}

// hotRead answers a read of kind from the in-memory views when they have
// it, and hands it to cold otherwise: with a query string, a token that is
// not valid, or a position header that is not one, the route answers. A
// show the route found is kept in memory from then on.
func (a *API) hotRead(kind hotKind, cold http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.hot == nil {
			cold.ServeHTTP(w, r)
			return
		}
		if a.serveHot(w, r, kind) {
			return
		}
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		cold.ServeHTTP(sw, r)
		if id, err := uuid.Parse(mux.Vars(r)["id"]); err == nil && sw.status == http.StatusOK {
			a.hot.Keep(id) // it exists: the next reads come from memory
		}
	})
}

// serveHot answers r from memory and reports whether it did.
func (a *API) serveHot(w http.ResponseWriter, r *http.Request, kind hotKind) bool {
	if r.URL.RawQuery != "" {
		return false
	}
	id, err := uuid.Parse(mux.Vars(r)["id"])
	if err != nil {
		return false
	}
	cache := "no-cache"
	if r.Header.Get("Authorization") != "" {
		if actor, err := a.actor(r); err != nil || actor.UserID == uuid.Nil {
			return false
		}
		cache = "private, no-cache"
	}
	var min domain.Position
	if h := r.Header.Get(MinPositionHeader); h != "" {
		if min, err = domain.ParsePosition(h); err != nil || min.Commit > math.MaxInt64 || min.Prepare > math.MaxInt64 {
			return false
		}
	}
	body, version, ok, err := a.hot.Read(r.Context(), id, min, string(kind), kind.encode)
	if err != nil || !ok {
		return false
	}
	// The show's version, as GET /v1/shows/{id} answers it from the read
	// models and PATCH compares If-Match with (issue 16: vocab).
	etag := web.ETag(version)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cache)
	if matchETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}

// matchETag reports whether an If-None-Match header names etag (or is *).
func matchETag(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// statusRecorder remembers the status of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
