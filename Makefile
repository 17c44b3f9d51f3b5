# The two commands a newcomer needs: `make run` and `make test`. Each sets up
# what it needs first: PostgreSQL (tools/postgres/setup) and, for the tests,
# Apache Kafka's broker (tools/kafka/broker).
GO      ?= go
PG_PORT ?= 5432
export PG_PORT
BROKER  := tools/kafka/broker run
CLUSTER := tools/kafka/cluster run

.PHONY: build walkthrough-tools run run-kafka test chromium browser-test kafka-cluster schemathesis fuzz bench bench-latency bench-flash bench-live bench-reads bench-replay bench-audit lint db kafka

## build: the binary, ./bin/ticketing (every subcommand: serve, replay,
## events, state, inventory, audit, ...)
build:
	$(GO) build -o bin/ticketing ./cmd/ticketing

## run: start the engine (write API, read API, projectors, expirer) on :8080
run: db
	$(GO) run ./cmd/ticketing serve

## run-kafka: the same, with the events flowing through a Kafka broker
## started for it (stopped with the engine)
run-kafka: db kafka
	$(BROKER) $(GO) run ./cmd/ticketing serve

## test: gofmt, vet and every test with the race detector, the Kafka tests
## against a real broker started for the run; then the three-broker cluster
## test (kafka-cluster), schemathesis against a live engine (schemathesis)
## and a short run of each fuzz target
test: db kafka lint chromium
	@$(MAKE) --no-print-directory walkthrough-tools
	$(BROKER) $(GO) test -race -count=1 -timeout 15m -skip '^TestCluster_' ./...
	@$(MAKE) --no-print-directory kafka-cluster
	@$(MAKE) --no-print-directory schemathesis
	@$(MAKE) --no-print-directory fuzz

## kafka-cluster: a three-node Kafka cluster loses a node under a steady
## stream of writes (SIGKILL, then a restart); prints the time to recover.
## About a minute and a half: the cluster's start, then the test
## (the engine's own log lines are left out).
kafka-cluster: db kafka
	$(CLUSTER) bash -o pipefail -c \
	  "$(GO) test -race -count=1 -timeout 5m -run '^TestCluster_' -v ./cmd/ticketing | grep --line-buffered -v 'serve_test.go:[0-9]*: time='"

## schemathesis: fuzz a live engine (built from this tree, on a fresh
## database) from its own OpenAPI document with schemathesis, for
## ST_MAX_TIME seconds (default 90); installs schemathesis into
## ~/.cache/ticketing once (tools/schemathesis/setup)
schemathesis: db
	tools/schemathesis/run

## fuzz: a short run of each fuzz target beyond its committed seeds: a
## count of inputs each, 1-10 s apiece on this 2-core machine (FUZZTIME, such
## as 30s or 100000x, sets one budget for all). Counts, not durations: Go
## 1.26's coordinator can fail a run whose -fuzztime duration ends while a
## worker is busy, with a bare "context deadline exceeded" and no failing
## input (golang/go#75804, fixed in Go 1.27)
FUZZTIME ?=
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzShow_Hold$$' -fuzztime $(or $(FUZZTIME),60000x) ./domain/
	$(GO) test -run '^$$' -fuzz '^FuzzOrder_Place$$' -fuzztime $(or $(FUZZTIME),300000x) ./domain/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(or $(FUZZTIME),30000x) ./web/
	$(GO) test -run '^$$' -fuzz '^FuzzShow_Waitlist$$' -fuzztime $(or $(FUZZTIME),100000x) ./domain/
	$(GO) test -run '^$$' -fuzz '^FuzzTicketCodes_Verify$$' -fuzztime $(or $(FUZZTIME),300000x) ./domain/
	$(GO) test -run '^$$' -fuzz '^FuzzRegistry_DecodeFast$$' -fuzztime $(or $(FUZZTIME),200000x) ./domain/

## bench: the Go benchmarks
bench: db kafka
	$(BROKER) $(GO) test -run '^$$' -bench . -benchmem ./...

## bench-latency: append → visible in the read model at 1,000 events/s,
## in-process and through a real Kafka broker, against a plain
## INSERT-and-COMMIT baseline measured in the same run (BENCH_RATE events/s,
## BENCH_WARMUP before each row, BENCH_DURATION measured, BENCH_BROKER_WARMUP
## of the broker before the Kafka row, default 30s, BENCH_KAFKA_PARTITIONS;
## BENCH_TRACE=FILE writes each event's stages in the Kafka row)
bench-latency: db kafka
	$(BROKER) $(GO) test -run '^$$' -bench Visibility -benchtime 1x ./cmd/ticketing

## bench-flash: a ticket drop over loopback HTTP (FLASH_BUYERS, default 2,000,
## race for FLASH_UNITS, default 10,000), the same drop paced at FLASH_RATES
## (default 2500,5000,10000 holds/s), a steady mix and reads, against the raw
## PostgreSQL single-row commit rate at the same concurrency; the cost of
## loading a show with 100 and 100,000 events (snapshots); expiring the
## 2,000 holds of a drop one by one and 500 at a time; and projecting
## 10,000 holds set-based against event by event; and holds on one hot show
## at 64, 500 and 2,000 buyers (FLASH_CONCURRENCY) against a CRUD hot-row
## design on pgx and raw commits, all in the same run
bench-flash: db
	$(GO) test -run '^$$' -bench FlashSale -benchtime 1x -timeout 20m ./cmd/ticketing
	$(GO) test -run '^$$' -bench HoldsVsCRUD -benchtime 1x -timeout 20m ./cmd/ticketing
	$(GO) test -run '^$$' -bench LoadShow -benchtime 20x ./infra/postgres
	$(GO) test -run '^$$' -bench Expiry -benchtime 2x -v ./infra/postgres
	$(GO) test -run '^$$' -bench Runner_Drop -benchtime 3x ./projections

## bench-reads: the reads part of bench-flash alone (issue 17: hot reads):
## one show's page and seat map from the read models and from memory, alone
## and during a drop paced at FLASH_READ_DROP_RATE (default 2,000 holds/s),
## as ratios to the same run's GET /livez floor
bench-reads: db
	FLASH_BUYERS=200 FLASH_BASE_MS=300 $(GO) test -run '^$$' -bench 'FlashSale/reads' -benchtime 1x -timeout 10m ./cmd/ticketing

## bench-live: LIVE_WATCHERS (default 2,000) watchers of one show's live
## stream during a drop paced at LIVE_RATE (default 2,000 holds/s): delivery
## latency append → watcher and the engine's CPU per delivered message,
## against the same drop without watchers (issue 18)
bench-live: db
	$(GO) test -run '^$$' -bench '^BenchmarkLive$$' -benchtime 1x -timeout 10m ./cmd/ticketing

## bench-replay: rebuild every read model from a generated log of
## 1,000,000 events (REPLAY_EVENTS=n for another size), every projection
## at once, beside a batched-INSERT baseline measured in the same run
bench-replay: db
	$(GO) test -run '^$$' -bench Replay -benchtime 1x -timeout 30m -v ./infra/postgres/

## bench-audit: audit a generated log of 1,000,000 events (AUDIT_EVENTS=n
## for another size) as `ticketing audit` does, in three rounds
## (AUDIT_ROUNDS), each after a plain scan of the same events table: the
## baseline, measured in the same run
bench-audit: db
	$(GO) test -run '^$$' -bench '^BenchmarkAudit$$' -benchtime 1x -timeout 30m -v ./infra/postgres/

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	 if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## walkthrough-tools: curl and jq, which the README's walkthrough (and its
## test, TestReadme_Walkthrough) runs; installed from Debian's packages
## when missing
walkthrough-tools:
	@command -v curl >/dev/null && command -v jq >/dev/null || \
	 { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq; }

## db: install PostgreSQL 15 (Debian's packages) if needed and start it on
## 127.0.0.1:$(PG_PORT) with trust auth; a running one is left alone
db:
	@tools/postgres/setup

## kafka: fetch Apache Kafka's broker jars from Maven Central, once, into
## ~/.cache/ticketing (KAFKA_CACHE)
kafka:
	@tools/kafka/broker fetch

## chromium: Debian's chromium for the browser tests (tools/chromium/setup;
## without root it says so, and the browser tests skip)
chromium:
	tools/chromium/setup

## browser-test: the pages driven in headless Chromium (cmd/ticketing
## TestPages_*), screenshots written to screenshots/
browser-test: db chromium
	$(GO) test -race -count=1 -run '^TestPages_' -v ./cmd/ticketing
