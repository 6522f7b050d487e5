# incidentd: "make run" starts everything on embedded defaults; "make test"
# runs every test. Both do their own set-up. "make help" lists the targets.

GO        ?= go
DATA      ?= ./data
FUZZTIME  ?= 8s
BENCHTIME ?= 1s

.PHONY: help run build test check test-e2e test-web unit fuzz vet fmt lint bench setup test-setup clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: setup build ## start incidentd with all its parts (embedded broker, local ClickHouse) on ./data
	@DATA=$(DATA) deploy/local/run.sh

build: ## build ./bin/incidentd
	$(GO) build -o bin/incidentd ./cmd/incidentd

test: test-setup vet fmt lint test-web unit fuzz test-e2e test-kafka test-chsql ## every test: installs what is missing, then vet, gofmt, golangci-lint, the dashboard's types, go tests (kfake, ClickHouse 18.16), fuzzing, browser, Apache Kafka and chDB suites

check: vet fmt lint ## while working: go vet, gofmt, golangci-lint and the short Go tests (go test -short)
	$(GO) test -short -count=1 -timeout=10m ./...

test-e2e: test-setup ## the dashboard in headless Chromium against a real incidentd run (npm ci, node --test)
	@e2e/run.sh

test-web: test-setup ## type-check the dashboard's modules (ingress/web/static/*.js) with tsc --noEmit (TypeScript pinned in e2e/package.json)
	@cd e2e && npm ci --no-audit --no-fund --loglevel=error && node_modules/.bin/tsc -p ../ingress/web

setup: ## install ClickHouse from Debian if missing (for make run)
	@deploy/local/setup.sh

test-setup: ## install what the tests need from Debian if missing (ClickHouse, Chromium, Java, Maven, Python venv, npm)
	@deploy/local/setup.sh --test

unit: ## run every test (starts kfake and ClickHouse itself)
	$(GO) test -count=1 -timeout=20m ./...

fuzz: ## run every fuzz target (each func Fuzz... in a package's _test.go files) for FUZZTIME each
	@set -e; n=0; for dir in $$($(GO) list -f '{{.Dir}}' ./...); do \
		for name in $$(cat $$dir/*_test.go 2>/dev/null | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p'); do \
			pkg=./$$(realpath --relative-to=. $$dir); n=$$((n+1)); \
			echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; done; done; \
		if [ $$n -eq 0 ]; then echo "fuzz: no fuzz targets found"; exit 1; fi; \
		echo "fuzz: $$n targets passed"

vet: ## go vet
	$(GO) vet ./...

lint: ## golangci-lint with .golangci.yml (pinned by go.mod's tool directive, built from the Go module proxy)
	$(GO) tool golangci-lint run ./...

fmt: ## fail if any file is not gofmt-formatted
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

bench: setup ## run the benchmarks, one package at a time, and print a table; then the processor against goka and a bare passthrough
	$(GO) test -p 1 -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=1 -timeout=30m ./... | tee bench.out | $(GO) run ./internal/benchtable
	cd bench/goka && $(GO) run . -n 20000 -runs 3

clean: ## remove build output and local data
	rm -rf bin $(DATA) bench.out

# --- Tested servers: Apache Kafka 4.x and current ClickHouse (README.md, "Tested servers").

MVN        ?= mvn
# The Apache Kafka broker's jars, fetched by Maven from deploy/kafka/pom.xml
# (pinned versions); kept until the pom changes. Maven caches in ~/.m2.
KAFKA_LIBS ?= $(CURDIR)/.cache/kafka/libs
# Suites "make test-kafka" runs on Apache Kafka instead of kfake, each a
# package or package:run-regexp (quote a regexp with | or parentheses).
KAFKA_SUITES ?= ./internal/testenv:Kafka \
	./internal/kafka \
	./cmd/incidentd:^TestTopics \
	'./processor:^(TestClusterKillsAndRebalances|TestApplyCommandsOnceWithDeadLetters|TestCrashBetweenCommitAndStoreWrite|TestRestoreFromChangelog|TestRestoreWaitsForStableChangelog|TestBrokerRestart|TestDedupWindowByTime|TestOtherTenantsCommands)$$' \
	'./ingress:^(TestAPI.*|TestTenantIsolation|TestReadYourWrites|TestEndToEndWithProcessor|TestBrokerDown|TestAnswersWhenBrokerKilledInFlight|TestKeyReuseWithProcessor|TestSlackRetriesAreNoOps)$$' \
	'./projector:^(TestProjectionEqualsFold|TestClickHouseKilled|TestRebuildEqualsLive|TestCatchUpWhileProcessorEmits|TestGapHealedFromLog|TestOffsetsOnlyAfterRowsStored|TestTablesLostGroupKept|TestTablesWithoutPositionKeepGroupOffsets)$$' \
	'./notifier:^TestGapHealedFromLog$$'
# Tests that fail on Apache Kafka and pass on kfake, as a -skip regexp (empty:
# none); name each with the difference it trips on (README.md, "Tested servers").
KAFKA_SKIP ?=

.PHONY: kafka-fetch test-kafka

kafka-fetch: $(KAFKA_LIBS)/.fetched ## fetch the Apache Kafka 4.x broker (Maven) into .cache/kafka/libs

$(KAFKA_LIBS)/.fetched: deploy/kafka/pom.xml
	@rm -rf $(KAFKA_LIBS)
	$(MVN) -B -q -Dstyle.color=never -f deploy/kafka/pom.xml dependency:copy-dependencies -Dkafka.libs=$(KAFKA_LIBS)
	@touch $@

test-kafka: test-setup kafka-fetch ## run KAFKA_SUITES on Apache Kafka 4.x (KRaft, one node) instead of kfake
	@set -e; for s in $(KAFKA_SUITES); do pkg=$${s%%:*}; run=.; case $$s in *:*) run=$${s#*:};; esac; \
		echo "test-kafka $$pkg -run '$$run'"; \
		INCIDENTD_TEST_BROKER=kafka INCIDENTD_KAFKA_LIBS=$(KAFKA_LIBS) \
		$(GO) test -count=1 -timeout=20m -run "$$run" $(if $(KAFKA_SKIP),-skip '$(KAFKA_SKIP)') $$pkg; done

PYTHON     ?= python3
# chDB (a current ClickHouse engine, from PyPI) in a virtualenv, pinned by
# deploy/chsql/requirements.txt; kept until that file changes.
CHSQL_VENV ?= $(CURDIR)/.cache/chsql/venv
CHSQL_OUT  ?= $(CURDIR)/.cache/chsql/statements.json

.PHONY: chsql-setup test-chsql

chsql-setup: $(CHSQL_VENV)/.installed ## install chDB (current ClickHouse, from PyPI) into .cache/chsql/venv

$(CHSQL_VENV)/.installed: deploy/chsql/requirements.txt
	@rm -rf $(CHSQL_VENV)
	$(PYTHON) -m venv $(CHSQL_VENV)
	$(CHSQL_VENV)/bin/pip install -q --disable-pip-version-check -r deploy/chsql/requirements.txt
	@touch $@

test-chsql: test-setup chsql-setup ## run every statement of readmodel/sql.go and projector/sql.go on ClickHouse 18.16 and on chDB, and compare the rows
	@rm -f $(CHSQL_OUT)
	INCIDENTD_CHSQL_OUT=$(CHSQL_OUT) $(GO) test -count=1 -run '^TestStatements$$' ./internal/chsql
	$(CHSQL_VENV)/bin/python deploy/chsql/check.py $(CHSQL_OUT)
