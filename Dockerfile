# syntax=docker/dockerfile:1
#
# The ticketing engine: one static binary for every role (serve, relay,
# project, migrate, replay, projections status). See docs/full-stack.md.
#
#   docker build -t ticketing .
#   docker run --rm ticketing help

# --- build: a static binary, no cgo ---------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
# Modules first, so that a change of code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ticketing ./cmd/ticketing

# --- health checks ---------------------------------------------------------
# The runtime image has no shell and no HTTP client. A static busybox gives
# the health checks of docker-compose.yml its wget, and nothing else is used.
FROM busybox:1.36-uclibc AS probe

# --- runtime: distroless, non-root -----------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=probe /bin/busybox /usr/local/bin/busybox
COPY --from=build /out/ticketing /ticketing
# 65532:65532, the image's nonroot user.
USER nonroot:nonroot
# TICKETING_ADDR: the APIs, /livez and /readyz. TICKETING_OPS_ADDR (set to
# :9090 by docker-compose.yml; loopback by default): /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["/ticketing"]
CMD ["serve"]
