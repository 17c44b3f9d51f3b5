package main

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ticketing/ticketing/openapi"
)

// routeOpenAPI serves the OpenAPI document (GET /openapi.json) on each of
// routers, and returns them: the route walk (openapi_test.go) compares
// their routes with the document.
func routeOpenAPI(routers ...*mux.Router) []*mux.Router {
	for _, r := range routers {
		r.Handle(openapi.Path, openapi.Handler()).Methods(http.MethodGet)
	}
	return routers
}
