package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/pages"
	"github.com/ticketing/ticketing/projections"
	"github.com/ticketing/ticketing/readapi"
	"github.com/ticketing/ticketing/web"
)

// routePages mounts the pages at / and the admin status their ops view
// reads (issue 18: pages).
func routePages(router *mux.Router, read *readapi.API, authn web.Authenticator, store eventStore, q *projections.Queries, pool *pgxpool.Pool) {
	pages.Register(router)
	router.Handle("/v1/admin/status", adminStatus{read: read, authn: authn, store: store, q: q, pool: pool}).Methods(http.MethodGet)
}

// adminStatus serves GET /v1/admin/status, for admins: what
// `ticketing projections status --json` prints (the log head, the relay's
// and each projection's lag in events and seconds, their state, parked
// streams, the refund backlog and the singleton leaders), for the ops page.
type adminStatus struct {
	read  *readapi.API // for its problem+json answers
	authn web.Authenticator
	store eventStore
	q     *projections.Queries
	pool  *pgxpool.Pool
}

func (h adminStatus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		h.read.Error(w, r, err)
	}
}

func (h adminStatus) serve(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r, web.Params{}); err != nil { // no query parameters
		return err
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return fmt.Errorf("%w: this route needs a bearer token", readapi.ErrUnauthenticated)
	}
	actor, err := h.authn.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return fmt.Errorf("bearer token: %w", err)
	}
	if actor.Role != domain.RoleAdmin {
		return fmt.Errorf("%w: the status is for admins", readapi.ErrForbidden)
	}
	rep, err := report(r.Context(), h.store, h.q)
	if err != nil {
		return err
	}
	if rep.Refunds, err = refundBacklog(r.Context(), h.q); err != nil {
		return err
	}
	leaders, err := postgres.Leaders(r.Context(), h.pool)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if err := printStatusLeaders(&body, rep, leaders, true); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = body.WriteTo(w)
	return err
}
